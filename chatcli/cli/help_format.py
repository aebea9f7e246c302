"""`--help` that reads like a well-kept CLI: metavars (NAME, FILE) instead of Python types, nothing after a
flag, and the examples of a command in a panel of their own.

Typer's Rich help prints each parameter's Python type (`<bool>`, `<list[Path]>`, `<int range> [x>=1]`) and
braces around required arguments in the usage line; the parameter classes below print the metavar only.
Commands made with `cls=HelpCommand` (or a Typer app with `cls=HelpGroup`) give them to their parameters.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

EXAMPLE_SEPARATOR = "  # "  # an epilog line "COMMAND  # what it does" is an example


class _PlainArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    @property
    def display_name_raw(self) -> str:  # Typer adds "..." itself when there is no metavar
        return self._metavar() if self.metavar else (self.name or "").upper()

    def _rich_display_name(self) -> str:
        return self._metavar()

    def _usage_display_name(self) -> str:
        return self._metavar() if self.required else f"[{self._metavar()}]"

    def _metavar(self) -> str:
        name = self.metavar or (self.name or "").upper()
        return name if self.nargs == 1 or name.endswith("...") else name + "..."


class _PlainOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        return self.metavar or (self.name or "").upper()

    def _get_number_range_help_str(self) -> str | None:
        return None  # the help text says what range is allowed, in words


def _tidy_parameters(parameters: list[Any]) -> list[Any]:
    for parameter in parameters:
        if type(parameter) is TyperArgument:
            parameter.__class__ = _PlainArgument
        elif type(parameter) is TyperOption:
            parameter.__class__ = _PlainOption
    return parameters


class _PlainHelp:
    """Plain parameters (see above), and the epilog's example lines (`COMMAND  # what it does`) in a panel."""

    epilog: str | None

    def get_params(self, ctx: Any) -> list[Any]:
        return _tidy_parameters(super().get_params(ctx))  # type: ignore[misc]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        epilog, self.epilog = self.epilog, None
        try:
            super().format_help(ctx, formatter)  # type: ignore[misc]
        finally:
            self.epilog = epilog
        if epilog:
            _print_examples(epilog)


def _print_examples(epilog: str) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text
    from typer import rich_utils

    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), expand=True)
    table.add_column(no_wrap=True)
    table.add_column(style="dim")
    for line in epilog.strip().splitlines():
        command, _, meaning = line.partition(EXAMPLE_SEPARATOR)
        table.add_row(Text(command.strip(), style="bold"), meaning.strip())
    console = rich_utils._get_rich_console()
    console.print(
        Panel(table, border_style=rich_utils.STYLE_OPTIONS_PANEL_BORDER, title="Examples", title_align="left")
    )


class HelpCommand(_PlainHelp, TyperCommand):
    """A sub-command whose epilog holds examples."""


class HelpGroup(_PlainHelp, TyperGroup):
    """A group of sub-commands whose epilog holds examples."""
