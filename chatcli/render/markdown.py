"""Render a piece of a streamed answer with Rich exactly as it shows inside the whole answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import ListElement, Markdown, MarkdownElement, TableElement
from rich.segment import Segment
from rich.syntax import Syntax

from chatcli.render.blocks import new_parser

Line = list[Segment]

_FLOW_TOKEN = "chatcli_blank_before"


@dataclass(frozen=True, slots=True)
class Flow:
    """What a piece of the answer inherits from the pieces shown before it."""

    blank_before: bool = False  # Rich puts a blank line before the next block (after anything but a rule)
    list_number: int | None = None  # the piece goes on with a top-level list whose next item has this number


@cache
def _parser() -> MarkdownIt:
    return new_parser()


class _BlankBefore(MarkdownElement):
    """Renders nothing; as the first element of a piece it makes Rich separate the piece's first block."""

    new_line = True


class _StableList(ListElement):
    """A list whose item numbers are as wide as each number, not as the last one: items printed while the list
    is still growing need no later change. A top-level list at the start of a piece may go on numbering."""

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> ListElement:
        start = int(token.attrs.get("start", 1))
        continued = getattr(markdown, "list_start", None)
        if continued is not None and token.level == 0 and token.map is not None and token.map[0] == 0:
            start = continued
        return cls(token.type, start)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.list_type == "bullet_list_open":
            yield from super().__rich_console__(console, options)
            return
        number = self.list_start or 0
        for index, item in enumerate(self.items):
            yield from item.render_number(console, options, number + index, number + index)


class _WrappingTable(TableElement):
    """A table whose cells wrap a word too long for its column instead of cutting it with an ellipsis."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = [self.header.row] if self.header is not None and self.header.row is not None else []
        rows += self.body.rows if self.body is not None else []
        for row in rows:
            for cell in row.cells:
                cell.content.overflow = "fold"
        yield from super().__rich_console__(console, options)


class ChatMarkdown(Markdown):
    """Rich Markdown with link targets shown, stable list numbers, wrapping table cells, and a separator state
    carried in."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "bullet_list_open": _StableList,
        "ordered_list_open": _StableList,
        "table_open": _WrappingTable,
        _FLOW_TOKEN: _BlankBefore,
    }

    def __init__(self, markup: str, code_theme: str, flow: Flow = Flow()) -> None:
        # The attributes Markdown.__init__ sets, without the new parser it would build for every piece.
        self.markup = markup
        self.parsed = _parser().parse(markup)
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme
        self.list_start = flow.list_number
        if flow.blank_before:
            self.parsed.insert(0, Token(_FLOW_TOKEN, "", 0))


def _trimmed(line: Line) -> Line:
    """`line` without trailing blanks that show nothing (Rich pads lines to the full width)."""
    line = list(line)
    while line:
        text, style, control = line[-1]
        if control or (
            style is not None and (style.bgcolor or style.reverse or style.underline or style.strike)
        ):
            break
        kept = text.rstrip(" ")
        if kept:
            line[-1] = Segment(kept, style)
            break
        line.pop()
    return line


def _visible(line: Line) -> bool:
    return any(text.strip() for text, _, control in line if not control)


def render_markdown(
    console: Console, source: str, flow: Flow, code_theme: str, list_goes_on: bool = False
) -> tuple[list[Line], Flow]:
    """The lines `source` shows after what `flow` describes, and the flow for the piece after it.
    `list_goes_on`: the last block of `source` is a list that the next piece continues."""
    markdown = ChatMarkdown(source, code_theme, flow)
    lines = console.render_lines(markdown, console.options, pad=False)
    if flow.list_number is not None and lines and not _visible(lines[0]):
        lines = lines[1:]  # the blank line Rich puts before a list, but this piece goes on with one
    tokens = markdown.parsed
    blocks = [at for at, token in enumerate(tokens) if token.level == 0 and token.nesting >= 0 and token.map]
    if not blocks:
        return [_trimmed(line) for line in lines], flow
    last = tokens[blocks[-1]]
    next_number = None
    if list_goes_on:
        start = int(last.attrs.get("start", 1))
        if flow.list_number is not None and last.map is not None and last.map[0] == 0:
            start = flow.list_number
        items = sum(
            1 for token in tokens[blocks[-1] :] if token.type == "list_item_open" and token.level == 1
        )
        next_number = start + items
    return [_trimmed(line) for line in lines], Flow(last.type != "hr", next_number)


def render_code(
    console: Console,
    code: str,
    lexer: str,
    code_theme: str,
    *,
    first: bool,
    last: bool,
    flow: Flow,
    before: Sequence[str] = (),
) -> list[Line]:
    """Lines of a fenced code block shown in pieces: `first` and `last` say which padding the piece gets.
    `before`: code lines shown before this piece, lexed again but not shown, so that a string or comment
    begun in them colours this piece as it does in the whole block."""
    start = len(before) + 1
    syntax = Syntax(
        "\n".join((*before, code)),
        lexer,
        theme=code_theme,
        word_wrap=True,
        padding=(int(first), 1, int(last), 1),
        line_range=(start, start + code.count("\n")) if before else None,
    )
    lines = [_trimmed(line) for line in console.render_lines(syntax, console.options, pad=False)]
    return [[], *lines] if first and flow.blank_before else lines


class Lines:
    """Renderable of lines already rendered."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines:
            yield from line
            yield newline
