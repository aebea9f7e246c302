"""Split streamed Markdown into closed blocks, which no later text can change, and the open rest."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

# A block of these kinds is closed by the blank line after it; headings and rules by their own line end.
_CLOSED_BY_BLANK_LINE = frozenset({"paragraph_open", "table_open", "blockquote_open", "html_block"})
_CLOSED_AT_LINE_END = frozenset({"heading_open", "hr"})
_LISTS = frozenset({"bullet_list_open", "ordered_list_open"})


@dataclass(frozen=True, slots=True)
class Fence:
    """The opening of a fenced code block: its marker (``` or ~~~, maybe longer), indentation and lexer."""

    marker: str
    indent: int
    lexer: str

    def is_closed_by(self, line: str) -> bool:
        """Whether `line` (with or without its newline) is a closing fence for this block."""
        text = line.rstrip("\n")
        body = text.lstrip(" ")
        if len(text) - len(body) > 3:
            return False
        run = len(body) - len(body.lstrip(self.marker[0]))
        return run >= len(self.marker) and not body[run:].strip(" \t")

    def code(self, line: str) -> str:
        """A content line of the block without the indentation its fence had, as CommonMark removes it: up
        to that many columns of spaces and tabs (tab stops every 4 columns; a split tab leaves spaces)."""
        column = 0
        for index, char in enumerate(line):
            if column >= self.indent or char not in " \t":
                return line[index:]
            width = 4 - column % 4 if char == "\t" else 1
            if column + width > self.indent:
                return " " * (column + width - self.indent) + line[index + 1 :]
            column += width
        return ""


@dataclass(frozen=True, slots=True)
class Split:
    """`closed + rest` is the text split. `closed` holds whole closed blocks (or whole closed items of a list
    that goes on in `rest` when `list_goes_on`); `fence` is set when `rest` is an open top-level fenced code
    block, starting with its opening line."""

    closed: str
    rest: str
    list_goes_on: bool = False
    fence: Fence | None = None


def new_parser() -> MarkdownIt:
    """The parser Rich's Markdown uses, less link reference definitions: one may come after the links that use
    it, and resolving them would change what is already printed, so definitions and links show as written."""
    return MarkdownIt().enable("strikethrough").enable("table").disable("reference")


@cache
def _block_parser() -> MarkdownIt:
    return new_parser().disable("inline")  # only the block structure matters here


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while making many objects that hold no cycles (the tokens of a
    wide table, the rows of a huge block): it would walk them again and again as they pile up, which makes
    the cost superlinear in their number."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _block_tokens(text: str) -> list[Token]:
    """The block tokens of `text` (a table makes several per cell)."""
    with gc_paused():
        return _block_parser().parse(text)


def split_blocks(text: str) -> Split:
    """Split `text` (Markdown received so far, maybe ending in a partial line) where more text cannot
    change what comes before: closed blocks are a prefix of whole lines, and rendering them alone gives what
    rendering the whole answer shows for them."""
    end = text.rfind("\n") + 1
    tokens = _block_tokens(text[:end])
    blocks = [(index, token) for index, token in enumerate(tokens) if token.level == 0 and token.nesting >= 0]
    if not blocks:
        return Split("", text)
    lines = text[:end].split("\n")[:-1]
    index, last = blocks[-1]
    assert last.map is not None
    start, stop = last.map
    cut, list_goes_on, fence = start, False, None
    if last.type in _CLOSED_AT_LINE_END or (last.type in _CLOSED_BY_BLANK_LINE and stop < len(lines)):
        cut = len(lines)
    elif last.type == "fence":
        opener = lines[start]
        fence = Fence(
            last.markup, len(opener) - len(opener.lstrip(" ")), last.info.partition(" ")[0] or "text"
        )
        if stop - start >= 2 and fence.is_closed_by(lines[stop - 1]):
            cut, fence = len(lines), None
    elif last.type in _LISTS:
        items = [token.map for token in tokens[index:] if token.type == "list_item_open" and token.level == 1]
        if len(items) > 1 and items[-1] is not None:
            cut, list_goes_on = items[-1][0], True
    offset = sum(len(line) + 1 for line in lines[:cut])
    return Split(text[:offset], text[offset:], list_goes_on, fence)


def top_level_blocks(text: str) -> list[tuple[str, int, int]]:
    """Each top-level block of `text`: its token type (`paragraph_open`, `fence`, `table_open`…) and its
    first and past-last line numbers. Block structure only (no inline parsing): linear in the text."""
    return [
        (token.type, token.map[0], token.map[1])
        for token in _block_tokens(text)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
