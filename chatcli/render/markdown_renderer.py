"""Markdown on a terminal while the answer streams: closed blocks printed once, the open block redrawn."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from chatcli.render.sanitize import StreamSanitizer

if TYPE_CHECKING:
    from rich.console import Console

    from chatcli.render.blocks import Fence
    from chatcli.render.markdown import Flow, Line


MIN_INTERVAL = 1 / 20  # seconds between redraws of the open block, at least…
MAX_INTERVAL = 2.0  # …and at most; in between, about ten times what the last redraw took
_SPLIT_ALWAYS = 16_384  # a larger open block is split again only once it has grown by a quarter
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
        from chatcli.render.markdown import Flow

        self._console = console
        self._code_theme = code_theme
        self._clock = clock
        self._sanitizer = StreamSanitizer()
        self._parts: list[str] = []  # received since the last update
        self._parts_size = 0
        self._pending = ""  # the open block(s): not printed yet
        self._flow = Flow()
        self._fence: Fence | None = None  # the pending text is this open top-level fenced code block
        self._fence_started = False  # … of which some lines are printed already
        self._scanned = 0  # in a fence, the pending lines before this offset hold no closing fence
        # Code of the open fence printed so far (None: too long to lex again).
        self._code_before: tuple[str, ...] | None = ()
        self._split_size = 0  # size of the pending text when it was last split
        # When the open block is one huge block (shown as plain text, see PLAIN_BLOCK_CHARS), it is split
        # again only once a blank line arrives after this offset: parsing it anew for every update would
        # cost more than all the rest (a table of thousands of columns makes tokens by the hundred thousand).
        self._blank_from: int | None = None
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
                # would cost a thread switch each, a quarter of the renderer's CPU at 2 000 tokens/s.
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

        if (
            self._parts
            and not final
            and self._blank_from is not None
            and self._parts_size * 8 < len(self._pending)
        ):
            # One huge open block: adding to it costs a copy of it, so that waits until it grew by an eighth
            # (a linear total); meanwhile the live area shows its end, text received included.
            if self._live is not None:
                self._live.update([], self._live_lines())
            return
        if self._parts:
            self._pending += "".join(self._parts)
            self._parts.clear()
            self._parts_size = 0
        committed = self._commit(final)
        if self._live is not None:
            self._live.update(committed, [] if final else self._live_lines())
        elif committed:
            self._console.print(Lines(committed), crop=False)

    def _commit(self, final: bool) -> list[Line]:
        """Render what has closed (everything when `final`) and take it out of the pending text.

        Works on local copies and stores them at the end, so that Ctrl-C while rendering loses nothing."""
        from chatcli.render.blocks import split_blocks
        from chatcli.render.markdown import PLAIN_BLOCK_CHARS, Flow, render_code, render_markdown

        console, theme = self._console, self._code_theme
        pending, flow, fence, started, scanned, before = (
            self._pending,
            self._flow,
            self._fence,
            self._fence_started,
            self._scanned,
            self._code_before,
        )
        split_size, blank_from = self._split_size, self._blank_from
        out: list[Line] = []
        while True:
            if fence is not None:
                opener = pending.index("\n") + 1
                end, scanned = _closing_fence(pending, fence, max(scanned, opener), final)
                if end < 0 and not final:
                    pending, scanned, before, piece = self._code_piece(pending, fence, scanned, before, flow)
                    if piece:
                        out += piece
                        started = True
                    break
                block, pending = (pending[:end], pending[end:]) if end >= 0 else (pending, "")
                if started:
                    body = block[opener:]
                    if end >= 0:
                        body = body[: body.rstrip("\n").rfind("\n") + 1]  # without the closing fence
                    code = "\n".join(fence.code(line) for line in body.split("\n")).rstrip()
                    out += render_code(
                        console,
                        code,
                        fence.lexer,
                        theme,
                        first=False,
                        last=True,
                        flow=flow,
                        before=before or (),
                    )
                    flow = Flow(blank_before=True)
                else:
                    lines, flow = render_markdown(console, block, flow, theme)
                    out += lines
                fence, started, scanned, before = None, False, 0, ()
                continue
            if final:
                if pending:
                    lines, flow = render_markdown(console, pending, flow, theme)
                    out += lines
                    pending = ""
                break
            if len(pending) > _SPLIT_ALWAYS and len(pending) < split_size * 5 // 4:
                break
            if blank_from is not None and (blank_from := _still_open(pending, blank_from)) is not None:
                break
            split = split_blocks(pending)
            if split.closed:
                lines, flow = render_markdown(console, split.closed, flow, theme, split.list_goes_on)
                out += lines
                pending = split.rest
            split_size = len(pending)
            if len(pending) > PLAIN_BLOCK_CHARS and split.fence is None and not split.list_goes_on:
                blank_from = max(pending.rfind("\n"), 0)
            if split.fence is None:
                break
            fence, started, scanned = split.fence, False, 0
        self._pending, self._flow, self._fence, self._fence_started, self._scanned, self._code_before = (
            pending,
            flow,
            fence,
            started,
            scanned,
            before,
        )
        self._split_size, self._blank_from = split_size, blank_from
        return out

    def _code_piece(
        self, pending: str, fence: Fence, scanned: int, before: tuple[str, ...] | None, flow: Flow
    ) -> tuple[str, int, tuple[str, ...] | None, list[Line]]:
        """Print the first lines of an open fenced code block taller than the live area; keep its last ones
        (at least its last non-blank line, so that the piece printed last is never empty). `before`: the code
        lines printed already (see `_CODE_CONTEXT`), returned with the new ones."""
        from chatcli.render.markdown import render_code

        opener = pending.index("\n") + 1
        lines = pending[opener:scanned].split("\n")[:-1]  # the complete code lines
        keep = max(1, self._live_height() // 2)
        if len(lines) <= self._live_height():
            return pending, scanned, before, []
        last_text = next(
            index for index in range(len(lines) - 1, -1, -1) if lines[index].strip() or index == 0
        )
        count = min(last_text, len(lines) - keep)
        if count <= 0:
            return pending, scanned, before, []
        code = [fence.code(line) for line in lines[:count]]
        theme = self._code_theme
        piece = render_code(
            self._console,
            "\n".join(code),
            fence.lexer,
            theme,
            first=before == (),
            last=False,
            flow=flow,
            before=before or (),
        )
        removed = sum(len(line) + 1 for line in lines[:count])
        before = (*before, *code) if before is not None and len(before) + count <= _CODE_CONTEXT else None
        return pending[:opener] + pending[opener + removed :], scanned - removed, before, piece

    def _live_height(self) -> int:
        return max(1, self._console.size.height // 2)

    def _live_lines(self) -> list[Line]:
        """The last lines of the open block, rendered from at most a few screens of its source."""
        from chatcli.render.markdown import Flow, render_code, render_markdown

        console, theme, pending, height = self._console, self._code_theme, self._pending, self._live_height()
        limit = max(4096, 2 * console.width * height)
        if self._parts:  # text not added to the pending text yet (a huge open block): only its end matters
            pending = _tail(pending, limit) + _last_chars(self._parts, limit)
        if self._fence is not None and self._fence_started:
            body = _tail(pending[pending.index("\n") + 1 :], limit)
            code = "\n".join(self._fence.code(line) for line in body.split("\n")).rstrip()
            lines = render_code(
                console,
                code,
                self._fence.lexer,
                theme,
                first=False,
                last=True,
                flow=Flow(),
                before=self._code_before or (),
            )
        elif len(pending) > limit:
            head = pending[: pending.index("\n") + 1] if self._fence is not None else ""
            lines, _ = render_markdown(console, head + _tail(pending[len(head) :], limit), Flow(), theme)
        else:
            lines, _ = render_markdown(console, pending, self._flow, theme)
        return lines[-height:]


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _still_open(text: str, since: int) -> int | None:
    """None once a blank line follows offset `since` in `text` (a huge open block may have closed); else
    where to look from next time."""
    if _BLANK_LINE.search(text, since):
        return None
    return max(text.rfind("\n"), since)


def _closing_fence(text: str, fence: Fence, start: int, final: bool) -> tuple[int, int]:
    """Where the line closing `fence` ends in `text`, looking at lines from `start` (-1 if none yet), and
    where the lines not yet looked at begin. The last line counts once it is whole, or the text is `final`."""
    while (newline := text.find("\n", start)) >= 0:
        if fence.is_closed_by(text[start:newline]):
            return newline + 1, newline + 1
        start = newline + 1
    if final and start < len(text) and fence.is_closed_by(text[start:]):
        return len(text), len(text)
    return -1, start


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
