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

from chatcli.render.blocks import gc_paused, new_parser, top_level_blocks

Line = list[Segment]

_BLANK_BEFORE_TOKEN = "chatcli_blank_before"
# A block whose Markdown source is longer than this (one huge paragraph, a table of thousands of columns) is
# shown as its source, wrapped: Rich's cost for one block grows faster than its length. Code blocks and
# lists are not concerned (they cost linear time, and the streaming renderer prints them in pieces).
PLAIN_BLOCK_CHARS = 64 * 1024
_NEVER_PLAIN = frozenset({"fence", "code_block", "bullet_list_open", "ordered_list_open"})


@dataclass(frozen=True, slots=True)
class PieceContext:
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
        _BLANK_BEFORE_TOKEN: _BlankBefore,
    }

    def __init__(self, markup: str, code_theme: str, context: PieceContext = PieceContext()) -> None:
        # The attributes Markdown.__init__ sets, without the new parser it would build for every piece.
        self.markup = markup
        self.parsed = _parser().parse(markup)
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme
        self.list_start = context.list_number
        if context.blank_before:
            self.parsed.insert(0, Token(_BLANK_BEFORE_TOKEN, "", 0))


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
    console: Console, source: str, context: PieceContext, code_theme: str, list_goes_on: bool = False
) -> tuple[list[Line], PieceContext]:
    """The lines `source` shows after what `context` describes, and the context for the piece after it.
    `list_goes_on`: the last block of `source` is a list that the next piece continues.

    Blocks longer than PLAIN_BLOCK_CHARS show as their source, wrapped (`plain_block`), so the cost stays
    linear in the length of `source`; a piece holding such a block shows what the whole answer shows."""
    if len(source) <= PLAIN_BLOCK_CHARS:
        return _render_rich(console, source, context, code_theme, list_goes_on)
    lines = source.split("\n")
    spans = [
        (start, stop)
        for kind, start, stop in top_level_blocks(source)
        if kind not in _NEVER_PLAIN and sum(len(line) + 1 for line in lines[start:stop]) > PLAIN_BLOCK_CHARS
    ]
    if not spans:
        return _render_rich(console, source, context, code_theme, list_goes_on)
    out: list[Line] = []
    at = 0
    for start, stop in spans:
        if start > at:
            rendered, context = _render_rich(console, "\n".join(lines[at:start]) + "\n", context, code_theme)
            out += rendered
        out += plain_block(console, lines[start:stop], context)
        context, at = PieceContext(blank_before=True), stop
    rest = "\n".join(lines[at:])
    if rest.strip():
        rendered, context = _render_rich(console, rest, context, code_theme, list_goes_on)
        out += rendered
    return out, context


def plain_block(console: Console, source_lines: Sequence[str], context: PieceContext) -> list[Line]:
    """A block shown as its source: each line cut to the console's width (tabs expanded), unstyled, after
    a blank line when `context` asks for one. Linear in its length, and the same whatever pieces it came in."""
    from rich.cells import chop_cells

    width = max(1, console.width)
    out: list[Line] = [[]] if context.blank_before else []
    with gc_paused():
        for line in source_lines:
            text = (line.expandtabs(8) if "\t" in line else line).rstrip(" ")
            if not text:
                out.append([])
                continue
            rows = [text[at : at + width] for at in range(0, len(text), width)] if text.isascii() else None
            out += [[Segment(row.rstrip(" "))] for row in rows or chop_cells(text, width)]
    return out


def _render_rich(
    console: Console, source: str, context: PieceContext, code_theme: str, list_goes_on: bool = False
) -> tuple[list[Line], PieceContext]:
    markdown = ChatMarkdown(source, code_theme, context)
    lines = console.render_lines(markdown, console.options, pad=False)
    if context.list_number is not None and lines and not _visible(lines[0]):
        lines = lines[1:]  # the blank line Rich puts before a list, but this piece goes on with one
    tokens = markdown.parsed
    blocks = [at for at, token in enumerate(tokens) if token.level == 0 and token.nesting >= 0 and token.map]
    if not blocks:
        return [_trimmed(line) for line in lines], context
    last = tokens[blocks[-1]]
    next_number = None
    if list_goes_on:
        start = int(last.attrs.get("start", 1))
        if context.list_number is not None and last.map is not None and last.map[0] == 0:
            start = context.list_number
        items = sum(
            1 for token in tokens[blocks[-1] :] if token.type == "list_item_open" and token.level == 1
        )
        next_number = start + items
    return [_trimmed(line) for line in lines], PieceContext(last.type != "hr", next_number)


def render_code(
    console: Console,
    code: str,
    lexer: str,
    code_theme: str,
    *,
    first: bool,
    last: bool,
    context: PieceContext,
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
    return [[], *lines] if first and context.blank_before else lines


class Lines:
    """Renderable of lines already rendered."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines:
            yield from line
            yield newline
