"""Markdown on a terminal while the answer streams: closed blocks printed once, the open block redrawn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from chatcli.render.sanitize import StreamSanitizer

if TYPE_CHECKING:
    from rich.console import Console

    from chatcli.render.blocks import BlockSplitter, ClosedPiece
    from chatcli.render.markdown import Line, PieceContext


MIN_INTERVAL = 1 / 20  # seconds between redraws of the open block, at least…
MAX_INTERVAL = 2.0  # …and at most; in between, about ten times what the last redraw took
# A piece of a code block is lexed again with the code printed before it, so that a string or comment
# begun there colours it as in the whole block; past this many lines of code, pieces are lexed alone
# (the cost stays linear).
_CODE_CONTEXT = 100


class MarkdownRenderer:
    """Renders the answer as Markdown while it streams, at a cost linear in its length.

    Closed blocks (see chatcli.render.blocks) are rendered once and printed into the normal scrollback; only the
    open block is live: redrawn below them at an adaptive rate, cut to its last lines so that it never takes
    more than half the screen. A long open fenced code block is printed in pieces as its lines arrive. The
    final output equals rendering the whole answer at once with `ChatMarkdown`. Without a capable terminal
    (a pipe, TERM=dumb) closed blocks are printed as they close and nothing is redrawn.
    """

    def __init__(
        self, console: Console, code_theme: str = "monokai", *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from chatcli.render.blocks import BlockSplitter
        from chatcli.render.markdown import PLAIN_BLOCK_CHARS, PieceContext

        self._console = console
        self._code_theme = code_theme
        self._clock = clock
        self._sanitizer = StreamSanitizer()
        self._parts: list[str] = []  # received since the last update
        self._parts_size = 0
        self._splitter = BlockSplitter(PLAIN_BLOCK_CHARS)  # holds the open block(s): not printed yet
        self._context = PieceContext()
        self._fence_started = False  # some lines of the splitter's open fenced code block are printed already
        # Code of the open fence printed so far (None: too long to lex again).
        self._code_before: tuple[str, ...] | None = ()
        self._live = _LiveArea(console) if console.is_terminal and not console.is_dumb_terminal else None
        self._next_update = 0.0
        self._lock = threading.Lock()  # the stream and the catch-up thread both update the display
        self._wake = threading.Condition(self._lock)
        self._catch_up: threading.Thread | None = None
        self._closing = False

    def __enter__(self) -> Self:
        return self

    def reason(self, text: str) -> None:
        """Reasoning is shown by TurnDisplay, on stderr; the rendered answer holds only the answer."""

    def feed(self, text: str) -> None:
        text = self._sanitizer.feed(text)
        if not text:
            return
        with self._lock:
            was_empty = not self._parts
            self._parts.append(text)
            self._parts_size += len(text)
            if self._clock() >= self._next_update:
                self._refresh()
            elif self._catch_up is None:
                self._catch_up = threading.Thread(
                    target=self._catch_up_loop, name="chatcli-render", daemon=True
                )
                self._catch_up.start()
            elif was_empty:
                # Otherwise the thread already waits for the next update time: waking it for every token
                # would cost a thread switch each (see README, Performance).
                self._wake.notify()

    def refresh(self) -> None:
        """Print the blocks that have closed and redraw the open block, now."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        started = self._clock()
        self._update(final=False)
        spent = self._clock() - started
        self._next_update = self._clock() + min(max(10 * spent, MIN_INTERVAL), MAX_INTERVAL)

    def _catch_up_loop(self) -> None:
        """Show text that arrived just before the stream paused: without this thread it would wait for the
        next delta."""
        with self._lock:
            while not self._closing:
                delay = self._next_update - self._clock()
                if self._parts and delay <= 0:
                    try:
                        self._refresh()
                    except Exception:
                        return  # renders the same text at its next update and meets the error there
                else:
                    self._wake.wait(delay if self._parts else None)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify()
            try:
                if kind is not BrokenPipeError:
                    self._parts.append(self._sanitizer.flush())
                    self._update(final=True)
            finally:
                if self._live is not None:
                    self._live.close()

    def _update(self, final: bool) -> None:
        from chatcli.render.markdown import Lines

        splitter = self._splitter
        if (
            self._parts
            and not final
            and splitter.waits_for_blank_line
            and self._parts_size * 8 < len(splitter.pending)
        ):
            # One huge open block: adding to it costs a copy of it, so that waits until it grew by an eighth
            # (a linear total); meanwhile the live area shows its end, text received included.
            if self._live is not None:
                self._live.update([], self._live_lines())
            return
        if self._parts:
            splitter.add("".join(self._parts))
            self._parts.clear()
            self._parts_size = 0
        committed = self._commit(final)
        if self._live is not None:
            self._live.update(committed, [] if final else self._live_lines())
        elif committed:
            self._console.print(Lines(committed), crop=False)

    def _commit(self, final: bool) -> list[Line]:
        """Render what has closed (everything when `final`) and take it out of the pending text.

        Works on copies and stores them at the end, so that Ctrl-C while rendering loses nothing."""
        from chatcli.render.markdown import PieceContext, render_markdown

        splitter = self._splitter.copy()
        context, started, before = self._context, self._fence_started, self._code_before
        out: list[Line] = []
        for piece in splitter.closed_pieces(final):
            if started and piece.fence is not None:
                out += self._rest_of_code(piece, context, before)
                context = PieceContext(blank_before=True)
            else:
                lines, context = render_markdown(
                    self._console, piece.text, context, self._code_theme, piece.list_goes_on
                )
                out += lines
            if piece.fence is not None:
                started, before = False, ()
        if splitter.fence is not None and not final:
            lines, before = self._code_piece(splitter, before, context)
            out += lines
            started = started or bool(lines)
        self._splitter, self._context, self._fence_started, self._code_before = (
            splitter,
            context,
            started,
            before,
        )
        return out

    def _rest_of_code(
        self, piece: ClosedPiece, context: PieceContext, before: tuple[str, ...] | None
    ) -> list[Line]:
        """The last lines of a fenced code block whose first lines are printed already (`before`, when not too
        many to lex again)."""
        from chatcli.render.markdown import render_code

        assert piece.fence is not None
        body = piece.text[piece.text.index("\n") + 1 :]
        if piece.fence.is_closed_by(body.rstrip("\n").rpartition("\n")[2]):
            body = body[: body.rstrip("\n").rfind("\n") + 1]  # without the closing fence
        code = "\n".join(piece.fence.code(line) for line in body.split("\n")).rstrip()
        return render_code(
            self._console,
            code,
            piece.fence.lexer,
            self._code_theme,
            first=False,
            last=True,
            context=context,
            before=before or (),
        )

    def _code_piece(
        self, splitter: BlockSplitter, before: tuple[str, ...] | None, context: PieceContext
    ) -> tuple[list[Line], tuple[str, ...] | None]:
        """Print the first lines of an open fenced code block taller than the live area; keep its last ones
        (at least its last non-blank line, so that the piece printed last is never empty). `before`: the code
        lines printed already (see `_CODE_CONTEXT`), returned with the new ones."""
        from chatcli.render.markdown import render_code

        assert splitter.fence is not None
        lines = splitter.open_code_lines()
        if len(lines) <= self._live_height():
            return [], before
        last_text = next(
            index for index in range(len(lines) - 1, -1, -1) if lines[index].strip() or index == 0
        )
        count = min(last_text, len(lines) - max(1, self._live_height() // 2))
        if count <= 0:
            return [], before
        code = [splitter.fence.code(line) for line in lines[:count]]
        piece = render_code(
            self._console,
            "\n".join(code),
            splitter.fence.lexer,
            self._code_theme,
            first=before == (),
            last=False,
            context=context,
            before=before or (),
        )
        splitter.drop_code_lines(count)
        before = (*before, *code) if before is not None and len(before) + count <= _CODE_CONTEXT else None
        return piece, before

    def _live_height(self) -> int:
        return max(1, self._console.size.height // 2)

    def _live_lines(self) -> list[Line]:
        """The last lines of the open block, rendered from at most a few screens of its source."""
        from chatcli.render.markdown import PieceContext, render_code, render_markdown

        console, theme, height = self._console, self._code_theme, self._live_height()
        pending, fence = self._splitter.pending, self._splitter.fence
        limit = max(4096, 2 * console.width * height)
        if self._parts:  # text not added to the pending text yet (a huge open block): only its end matters
            pending = _tail(pending, limit) + _last_chars(self._parts, limit)
        if fence is not None and self._fence_started:
            body = _tail(pending[pending.index("\n") + 1 :], limit)
            code = "\n".join(fence.code(line) for line in body.split("\n")).rstrip()
            lines = render_code(
                console,
                code,
                fence.lexer,
                theme,
                first=False,
                last=True,
                context=PieceContext(),
                before=self._code_before or (),
            )
        elif len(pending) > limit:
            head = pending[: pending.index("\n") + 1] if fence is not None else ""
            lines, _ = render_markdown(
                console, head + _tail(pending[len(head) :], limit), PieceContext(), theme
            )
        else:
            lines, _ = render_markdown(console, pending, self._context, theme)
        return lines[-height:]


def _last_chars(parts: list[str], limit: int) -> str:
    """The end of `"".join(parts)`, at least `limit` characters of it when there are that many."""
    taken: list[str] = []
    size = 0
    for part in reversed(parts):
        taken.append(part)
        size += len(part)
        if size >= limit:
            break
    return "".join(reversed(taken))


def _tail(text: str, limit: int) -> str:
    """The end of `text`: at most `limit` characters, from a line start when there is one."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    newline = text.find("\n", cut, len(text) - 1)
    return text[newline + 1 :] if newline >= 0 else text[cut:]


class _LiveArea:
    """The lines at the bottom of the output that are redrawn; everything printed above them is final."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._shown: list[Line] = []
        self._width = 0  # the console width when they were drawn
        self._cursor_hidden = False

    def _rows(self) -> int:
        width = self._console.width
        if width >= self._width:
            return len(self._shown)
        # A terminal made narrower re-wraps the lines it shows (most do): count the rows they take now.
        from rich.segment import Segment

        return sum(max(1, -(-Segment.get_line_length(line) // width)) for line in self._shown)

    def update(self, committed: list[Line], live: list[Line]) -> None:
        """Print `committed` into the scrollback and show `live` below it, in one write."""
        from rich.control import Control
        from rich.segment import ControlType

        from chatcli.render.markdown import Lines

        console = self._console
        if not committed and live == self._shown and (not live or console.width == self._width):
            return
        rows = self._rows()
        with console:
            if not self._cursor_hidden:
                console.show_cursor(False)
                self._cursor_hidden = True
            if rows:
                erase = ((ControlType.CURSOR_UP, 1), (ControlType.ERASE_IN_LINE, 2)) * rows
                console.control(Control(ControlType.CARRIAGE_RETURN, *erase))
            console.print(Lines(committed + live), crop=False)  # never cut lines already wrapped (a resize)
        self._shown, self._width = live, console.width

    def close(self) -> None:
        if self._cursor_hidden:
            self._console.show_cursor(True)
            self._cursor_hidden = False
