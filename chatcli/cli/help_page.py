"""A command's `--help` page, drawn with Rich in the layout of Typer's own: the usage line, the help text, a
panel of arguments and options per `rich_help_panel`, the sub-commands, then the examples of the epilog.

Each parameter shows its metavar, never its Python type, and a flag shows nothing after its name; ranges are
said in the help text, in words. Only public attributes of Typer's parameters and commands are read."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from rich.align import Align
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from chatcli.cli.help_names import EXAMPLE_SEPARATOR, argument_name

Parameter = TyperArgument | TyperOption
ARGUMENTS = "Arguments"
OPTIONS = "Options"
COMMANDS = "Commands"
THEME = Theme(
    {
        "option": "bold cyan",
        "switch": "bold green",
        "negative_option": "bold magenta",
        "negative_switch": "bold red",
        "types": "bold yellow",
        "types_sep": "dim",
        "usage": "yellow",
    }
)


class OptionHighlighter(RegexHighlighter):
    """Options (`--model`) and switches (`-m`) in any text of the page, and the word `Usage:`."""

    highlights: ClassVar[list[str]] = [
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<usage>Usage: )",
    ]


class NegativeOptionHighlighter(RegexHighlighter):
    """The second name of a two-way flag (`--plain` of `--markdown/--plain`)."""

    highlights: ClassVar[list[str]] = [
        r"(^|\W)(?P<negative_switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<negative_option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
    ]


class MetavarHighlighter(RegexHighlighter):
    """The brackets and bars of a metavar (`FILE|JSON`, `NAME[,NAME…]`), dimmed."""

    highlights: ClassVar[list[str]] = [
        r"^(?P<types_sep>(\[|<))",
        r"(?P<types_sep>\|)",
        r"(?P<types_sep>(\]|>))(\.\.\.)?$",
    ]


highlight = OptionHighlighter()
highlight_negative = NegativeOptionHighlighter()
highlight_metavar = MetavarHighlighter()


def print_help(command: TyperCommand | TyperGroup, ctx: Any) -> None:
    """The page, printed on stdout as Typer prints its own."""
    console = Console(theme=THEME, highlighter=highlight)
    console.print(Padding(highlight(command.get_usage(ctx)), 1), style="bold")
    if command.help:
        console.print(Padding(Align(help_text(command.help), pad=False), (0, 1, 1, 1)))
    for title, parameters in parameter_panels(command, ctx).items():
        console.print(panel(title, parameter_table(parameters, ctx)))
    if isinstance(command, TyperGroup):
        panels = command_panels(command, ctx)
        width = max((len(name) for rows in panels.values() for name, _ in rows), default=0)
        for title, rows in panels.items():
            console.print(panel(title, command_table(rows, width)))
    if command.epilog:
        console.print(panel("Examples", examples_table(command.epilog)))


def panel(title: str, table: Table) -> Panel:
    return Panel(table, border_style="dim", title=title, title_align="left")


def markup(text: str, style: str = "") -> Text:
    """Help written in Rich markup (`\\[` for a bracket), its options highlighted."""
    return highlight(Text.from_markup(text, style=style))


def help_text(text: str) -> Group:
    """The command's help: the first paragraph on its own, the others dimmed below it."""
    first, *others = inspect.cleandoc(text).partition("\f")[0].split("\n\n")
    parts: list[RenderableType] = [markup(first.replace("\n", " ").strip())]
    if others:
        parts += [Text(""), markup("\n\n".join(others), style="dim")]
    return Group(*parts)


def parameter_panels(command: TyperCommand | TyperGroup, ctx: Any) -> dict[str, list[Parameter]]:
    """The visible parameters by panel: the arguments' panels first, each default panel before the others."""
    arguments: dict[str, list[Parameter]] = {ARGUMENTS: []}
    options: dict[str, list[Parameter]] = {OPTIONS: []}
    for parameter in command.get_params(ctx):
        if isinstance(parameter, TyperArgument) and not parameter.hidden:
            arguments.setdefault(parameter.rich_help_panel or ARGUMENTS, []).append(parameter)
        elif isinstance(parameter, TyperOption) and not parameter.hidden:
            options.setdefault(parameter.rich_help_panel or OPTIONS, []).append(parameter)
    return {title: parameters for title, parameters in {**arguments, **options}.items() if parameters}


def parameter_table(parameters: list[Parameter], ctx: Any) -> Table:
    """A row per parameter: its names (an argument's is its metavar), the option's metavar, its help; a
    first column marks the required ones with `*` when there are any."""
    table = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1), highlight=True)
    any_required = any(parameter.required for parameter in parameters)
    for parameter in parameters:
        metavar = highlight_metavar(Text(value_name(parameter), style="types", overflow="fold"))
        row: list[RenderableType] = [*parameter_names(parameter), metavar, parameter_help(parameter, ctx)]
        if any_required:
            row.insert(0, Text("*", style="red") if parameter.required else "")
        table.add_row(*row)
    return table


def parameter_names(parameter: Parameter) -> list[Text]:
    """Four columns: long names, short names (an argument's metavar), then the second names of a two-way flag
    (`--plain` of `--markdown/--plain`), long and short."""
    short_name = argument_name(parameter) if isinstance(parameter, TyperArgument) else None
    first, second = parameter.opts, parameter.secondary_opts
    return [
        highlight(",".join(name for name in first if name.startswith("--"))),
        highlight(",".join(short_name or name for name in first if not name.startswith("--"))),
        highlight_negative(",".join(name for name in second if name.startswith("--"))),
        highlight_negative(",".join(name for name in second if not name.startswith("--"))),
    ]


def value_name(parameter: Parameter) -> str:
    """What an option takes: its metavar (else its name in capitals); nothing for a flag or an argument."""
    if isinstance(parameter, TyperArgument) or parameter.is_flag:
        return ""
    return parameter.metavar or (parameter.name or "").upper()


def parameter_help(parameter: Parameter, ctx: Any) -> Columns:
    """The help text (its paragraphs one line each), then `[default: …]` and `[required]` as they apply."""
    parts: list[RenderableType] = []
    if parameter.help:
        paragraphs = inspect.cleandoc(parameter.help).split("\n\n")
        parts.append(markup("\n".join(paragraph.replace("\n", " ").strip() for paragraph in paragraphs)))
    default = default_text(parameter, ctx)
    if default:
        parts.append(Text(f"[default: {default}]", style="dim"))
    if parameter.required:
        parts.append(Text("[required]", style="dim red"))
    return Columns(parts)


def default_text(parameter: Parameter, ctx: Any) -> str:
    """The default `--help` shows: `show_default`'s text when it is one; else the default value when it is
    shown, except a flag's off (False), which needs no mention; else nothing."""
    if isinstance(parameter.show_default, str):
        return f"({parameter.show_default})"
    value = parameter.get_default(ctx, call=False)
    if value is None or value is False or not (parameter.show_default or ctx.show_default):
        return ""
    return str(value)


def command_panels(group: TyperGroup, ctx: Any) -> dict[str, list[tuple[str, str]]]:
    """The visible sub-commands and their one-line help, by panel (the default panel first)."""
    panels: dict[str, list[tuple[str, str]]] = {COMMANDS: []}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            title = getattr(command, "rich_help_panel", None) or COMMANDS
            first_paragraph = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
            panels.setdefault(title, []).append((command.name or name, first_paragraph.strip()))
    return {title: rows for title, rows in panels.items() if rows}


def command_table(rows: list[tuple[str, str]], width: int) -> Table:
    """Names in a first column `width` wide (the same in every panel), then what each does."""
    table = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True, width=width)
    table.add_column(ratio=10)
    for name, meaning in rows:
        table.add_row(Text(name), markup(meaning))
    return table


def examples_table(epilog: str) -> Table:
    """The epilog's lines `COMMAND  # what it does`: the command in bold, then what it does, dimmed."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), expand=True)
    table.add_column(no_wrap=True)
    table.add_column(style="dim")
    for line in epilog.strip().splitlines():
        command, _, meaning = line.partition(EXAMPLE_SEPARATOR)
        table.add_row(Text(command.strip(), style="bold"), meaning.strip())
    return table
