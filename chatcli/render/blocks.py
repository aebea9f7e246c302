"""Split streamed Markdown into closed blocks, which no later text can change, and the open rest: where a block
begins, and what it is, by markdown-it; where an open fenced code block ends, by the rule markdown-it applies."""

from __future__ import annotations

import copy
import gc
import re
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
    """The opening of a fenced code block, as markdown-it's `fence` token gives it: its marker (``` or ~~~,
    maybe longer), the indentation of its opening line, and its lexer (the info string's first word)."""

    marker: str
    indent: int
    lexer: str

    @classmethod
    def opened_by(cls, token: Token, opening_line: str) -> Fence:
        """The fence a `fence` token opens on `opening_line`."""
        indent = len(opening_line) - len(opening_line.lstrip(" "))
        return cls(token.markup, indent, token.info.partition(" ")[0] or "text")

    def is_closed_by(self, line: str) -> bool:
        """Whether `line` (with or without its newline) closes this block, by CommonMark's rule as markdown-it
        applies it: at most 3 spaces of indentation, then a run of the marker's character at least as long as
        the marker, then only spaces and tabs."""
        text = line.rstrip("\n")
        body = text.lstrip(" ")
        if len(text) - len(body) > 3:
            return False
        run = len(body) - len(body.lstrip(self.marker[0]))
        return run >= len(self.marker) and not body[run:].strip(" \t")

    def closing(self, text: str, start: int, final: bool) -> tuple[int, int]:
        """Where the line closing this block ends in `text`, looking at lines from offset `start` (-1 if none
        closes it yet), and where the lines not yet looked at begin. The last line counts once it is whole, or
        the text is `final`."""
        while (newline := text.find("\n", start)) >= 0:
            if self.is_closed_by(text[start:newline]):
                return newline + 1, newline + 1
            start = newline + 1
        if final and start < len(text) and self.is_closed_by(text[start:]):
            return len(text), len(text)
        return -1, start

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


def block_tokens(text: str) -> list[Token]:
    """The block tokens of `text` (a table makes several per cell), from the parser the renderer uses, less
    inline parsing (which makes no block)."""
    with gc_paused():
        return _block_parser().parse(text)


def split_blocks(text: str) -> Split:
    """Split `text` (Markdown received so far, maybe ending in a partial line) where more text cannot
    change what comes before: closed blocks are a prefix of whole lines, and rendering them alone gives what
    rendering the whole answer shows for them."""
    end = text.rfind("\n") + 1
    tokens = block_tokens(text[:end])
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
        fence = Fence.opened_by(last, lines[start])
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
        for token in block_tokens(text)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]


# A larger open block is split again only once it has grown by a quarter: each split parses it anew.
_SPLIT_ALWAYS = 16_384
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True, slots=True)
class ClosedPiece:
    """Text of a streamed answer that no later text changes: whole closed blocks (with `list_goes_on`, whole
    items of a list the next piece goes on with), or, when `fence` is set, one top-level fenced code block
    from its opening line through its closing fence (or the end of the answer)."""

    text: str
    list_goes_on: bool = False
    fence: Fence | None = None


class BlockSplitter:
    """Cuts a streamed answer into closed pieces as its text arrives, at a cost linear in its length.

    Where a block begins, and what it is, comes from markdown-it (`split_blocks`). An open top-level fenced
    code block is not parsed again for every piece: only its new lines are looked at, for the closing fence
    by CommonMark's rule (`Fence.is_closed_by`), so a long code block costs linear time too. `pending` is
    the text not cut off yet; `fence` is set when it is an open top-level fenced code block."""

    def __init__(self, huge_block: int) -> None:
        self.pending = ""
        self.fence: Fence | None = None
        self._huge_block = huge_block  # an open block longer than this is split again only at a blank line
        self._scanned = 0  # in a fence, the pending lines before this offset hold no closing fence
        self._split_size = 0  # size of the pending text when it was last split
        # When the open block is one huge block, it is split again only once a blank line arrives after this
        # offset: parsing it anew for every piece would cost more than all the rest (a table of thousands of
        # columns makes tokens by the hundred thousand).
        self._blank_from: int | None = None

    def copy(self) -> BlockSplitter:
        """A splitter in the same state, which this one's later work does not change."""
        return copy.copy(self)

    @property
    def waits_for_blank_line(self) -> bool:
        """Whether the pending text is one huge open block that only a blank line may close."""
        return self._blank_from is not None

    def add(self, text: str) -> None:
        self.pending += text

    def closed_pieces(self, final: bool) -> list[ClosedPiece]:
        """Cut off what has closed (everything when `final`: the answer is complete), in order."""
        pieces: list[ClosedPiece] = []
        while True:
            if self.fence is not None:
                piece = self._closed_fence(final)
                if piece is None:
                    return pieces
                pieces.append(piece)
            elif final:
                if self.pending:
                    pieces.append(ClosedPiece(self.pending))
                    self.pending = ""
                return pieces
            elif not self._splits_again() or not self._split(pieces):
                return pieces

    def open_code_lines(self) -> list[str]:
        """The whole lines of the open fenced code block looked at so far (its opening line left out)."""
        opener = self.pending.index("\n") + 1
        return self.pending[opener : self._scanned].split("\n")[:-1]

    def drop_code_lines(self, count: int) -> None:
        """Take the first `count` of `open_code_lines` out of the pending text (they were shown)."""
        opener = self.pending.index("\n") + 1
        removed = sum(len(line) + 1 for line in self.open_code_lines()[:count])
        self.pending = self.pending[:opener] + self.pending[opener + removed :]
        self._scanned -= removed

    def _closed_fence(self, final: bool) -> ClosedPiece | None:
        """The open fenced code block, once its closing line arrived or the answer is complete."""
        assert self.fence is not None
        opener = self.pending.index("\n") + 1
        end, self._scanned = self.fence.closing(self.pending, max(self._scanned, opener), final)
        if end < 0 and not final:
            return None
        end = len(self.pending) if end < 0 else end
        piece = ClosedPiece(self.pending[:end], fence=self.fence)
        self.pending, self.fence, self._scanned = self.pending[end:], None, 0
        return piece

    def _splits_again(self) -> bool:
        """Whether the pending text has grown enough since it was last split to be worth parsing again."""
        if len(self.pending) > _SPLIT_ALWAYS and len(self.pending) < self._split_size * 5 // 4:
            return False
        if self._blank_from is not None:
            self._blank_from = _still_open(self.pending, self._blank_from)
        return self._blank_from is None

    def _split(self, pieces: list[ClosedPiece]) -> bool:
        """Parse the pending text and cut off its closed blocks into `pieces`; whether the rest is an open
        fenced code block (which the next round looks at line by line)."""
        split = split_blocks(self.pending)
        if split.closed:
            pieces.append(ClosedPiece(split.closed, split.list_goes_on))
            self.pending = split.rest
        self._split_size = len(self.pending)
        if len(self.pending) > self._huge_block and split.fence is None and not split.list_goes_on:
            self._blank_from = max(self.pending.rfind("\n"), 0)
        self.fence, self._scanned = split.fence, 0
        return split.fence is not None


def _still_open(text: str, since: int) -> int | None:
    """None once a blank line follows offset `since` in `text` (a huge open block may have closed); else
    where to look from next time."""
    if _BLANK_LINE.search(text, since):
        return None
    return max(text.rfind("\n"), since)
