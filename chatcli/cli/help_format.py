"""`--help` that reads like a well-kept CLI: metavars (NAME, FILE) instead of Python types, nothing after a
flag, required arguments without braces, and the examples of a command in a panel of their own.

Typer's own help prints each parameter's Python type (`<bool>`, `<list[Path]>`, `<int range> [x>=1]`) and
braces around required arguments in the usage line, and offers no public way to leave them out. So the
command classes below draw their help themselves, through click's public `format_help` and
`collect_usage_pieces` (cli/help_page.py, loaded only for `--help`). A sub-command gets them with
`cls=HelpCommand`, a Typer app with `cls=HelpGroup`; tests/test_help.py runs `--help` on every command.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup

from chatcli.cli.help_names import argument_name


def usage_pieces(command: TyperCommand | TyperGroup, ctx: Any) -> list[str]:
    """The usage line after the command's name: [OPTIONS], then each argument, in brackets when optional."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for parameter in command.get_params(ctx):
        if isinstance(parameter, TyperArgument):
            name = argument_name(parameter)
            pieces.append(name if parameter.required else f"[{name}]")
    return pieces


class HelpCommand(TyperCommand):
    """A sub-command whose epilog holds examples."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return usage_pieces(self, ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from chatcli.cli.help_page import print_help

        print_help(self, ctx)


class HelpGroup(TyperGroup):
    """A group of sub-commands whose epilog holds examples."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*usage_pieces(self, ctx), self.subcommand_metavar]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from chatcli.cli.help_page import print_help

        print_help(self, ctx)
