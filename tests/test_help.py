"""`--help` reads like a well-kept CLI: metavars, no Python types, panels, examples."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer.main
from typer.core import TyperGroup

from chatcli.cli.app import ChatGroup, app
from chatcli.cli.lazy_commands import LAZY_COMMANDS
from tests.inprocess import invoke


def command_words(group: TyperGroup, words: list[str]) -> Iterator[list[str]]:
    yield words
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            yield from command_words(command, [*words, name])
        else:
            yield [*words, name]


def every_command() -> list[list[str]]:
    """The words of every command and sub-command, those of the groups loaded only when they run too."""
    top = typer.main.get_group(app)
    assert isinstance(top, ChatGroup)
    for name in LAZY_COMMANDS:
        top.add_lazy_command(name)
    return list(command_words(top, []))


PYTHON_TYPES = re.compile(r"<(bool|int|float|str|text|path|list)|list\[|range\]|\[x[<>]=|\{[A-Z_]+\}", re.I)


def help_text(*command: str) -> str:
    result = invoke(*command, "--help", env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def test_the_walk_reaches_every_group_and_its_sub_commands() -> None:
    walked = {" ".join(words) for words in every_command()}
    expected = {"", "ask", "models", "history", "history stats", "config init", "templates", "templates show"}
    assert expected | {"mcp", "mcp list"} <= walked


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_help_shows_metavars_and_never_python_types(command: list[str]) -> None:
    """The same help everywhere: no `<bool>`, `<str>`, `<int>`, `<path>`, `[x>=1]` or `{name}` of Typer's."""
    text = help_text(*command)
    assert PYTHON_TYPES.search(text) is None, text


def test_top_level_help_groups_options_says_chatcli_alone_chats_and_ends_with_examples() -> None:
    text = help_text()
    assert "`chatcli` alone starts an interactive chat" in text
    panels = re.findall(r"╭─ ([A-Za-z ]+?) ─", text)
    assert panels == [
        "Options",
        "Model and server",
        "Conversation",
        "Input",
        "Output",
        "Tools",
        "Commands",
        "Examples",
    ]
    assert re.search(r"│ chatcli -c +continue the last chat", text)


def test_ask_help_has_its_options_in_the_panels_and_examples() -> None:
    text = help_text("ask")
    assert "Usage: chatcli ask [OPTIONS] [PROMPT...]" in text
    assert re.findall(r"╭─ ([A-Za-z ]+?) ─", text)[-1] == "Examples"
    assert re.search(r"│ --file +-f +PATH", text)
    assert re.search(r'│ chatcli ask -c "and then\?" +continue the last chat', text)


def test_models_timeout_and_max_input_bytes_say_what_they_do() -> None:
    assert "Longest wait for the server's reply once connected" in help_text("models")
    assert "Refuse piped stdin, or any -f file, larger than this" in help_text("ask")
