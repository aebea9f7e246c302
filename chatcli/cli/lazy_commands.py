"""The sub-commands whose modules load only when they run, so that `--version`, `--help`, the chat and `ask`
do not pay for them; `--help` lists them from the one-line help kept here."""

from __future__ import annotations

from typing import NamedTuple

import typer

from chatcli.cli.help_format import HelpGroup


class LazyCommand(NamedTuple):
    module: str
    app: str  # the module's Typer app
    help: str  # the app's help, shown by `chatcli --help` without importing the module
    single: bool = False  # the app is one command (`cmd TASK`), not a group of them


LAZY_COMMANDS = {
    "config": LazyCommand(
        "chatcli.cli.config",
        "config_app",
        "The config file: where it is, a starter one, editing it, and the settings in effect.",
    ),
    "history": LazyCommand(
        "chatcli.cli.history",
        "history_app",
        "The conversation library: every conversation recorded, to list, show, search and resume (-c, --cid).",
    ),
    "templates": LazyCommand(
        "chatcli.cli.templates",
        "templates_app",
        "Reusable prompts: TOML files in the config directory's templates/ (chatcli -T NAME, /NAME in a chat).",
    ),
    "mcp": LazyCommand(
        "chatcli.cli.mcp",
        "mcp_app",
        "The MCP servers of the config file (\\[mcp.NAME] tables), whose tools --tools offers to the model.",
    ),
    "cmd": LazyCommand(
        "chatcli.cli.cmd",
        "cmd_app",
        "Ask the model for one shell command for a task; see it, and run it only on your e key.",
        single=True,
    ),
}


def sub_command_app(name: str) -> typer.Typer:
    """The Typer app of the sub-command `name`, with its help from LAZY_COMMANDS in chatcli's format; given no
    arguments it shows that help, and never a pretty traceback (they can print local variables, keys among them)."""
    return typer.Typer(
        help=LAZY_COMMANDS[name].help, no_args_is_help=True, pretty_exceptions_enable=False, cls=HelpGroup
    )
