"""Showing an answer as it streams: PlainRenderer for pipes, MarkdownRenderer for terminals."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Protocol

from chatcli.sanitize import StreamSanitizer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live


class Renderer(Protocol):
    """Consumes text deltas; leaving the `with` block always finishes the output, also on errors."""

    def __enter__(self) -> Renderer: ...

    def feed(self, text: str) -> None: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...


class PlainRenderer:
    """Writes each delta as UTF-8 and flushes it; ends with one newline if the text did not.

    Byte-exact for pipes; with a sanitizer (plain text on a terminal) control characters are made visible.
    """

    def __init__(self, out: BinaryIO, sanitizer: StreamSanitizer | None = None) -> None:
        self._out = out
        self._sanitizer = sanitizer
        self._last = "\n"

    def __enter__(self) -> PlainRenderer:
        return self

    def feed(self, text: str) -> None:
        if self._sanitizer is not None:
            text = self._sanitizer.feed(text)
        if text:
            self._last = text[-1]  # first: a Ctrl-C right after the write must still end the line
            self._out.write(text.encode("utf-8", "replace"))
            self._out.flush()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._sanitizer is not None:
            self.feed(self._sanitizer.flush())
        if kind is BrokenPipeError:
            return
        if self._last != "\n":
            self._out.write(b"\n")
            self._last = "\n"
        self._out.flush()


class MarkdownRenderer:
    """Renders the answer as Markdown in a Rich `Live` view while it streams, throttled adaptively."""

    def __init__(self, console: Console, code_theme: str = "monokai") -> None:
        self._console = console
        self._code_theme = code_theme
        self._sanitizer = StreamSanitizer()
        self._parts: list[str] = []
        self._live: Live | None = None
        self._next_render = 0.0
        self._interval = 1 / 20

    def __enter__(self) -> MarkdownRenderer:
        from rich.live import Live

        self._live = Live(console=self._console, auto_refresh=False, vertical_overflow="visible")
        self._live.start()
        return self

    def feed(self, text: str) -> None:
        self._parts.append(self._sanitizer.feed(text))
        if time.monotonic() >= self._next_render:
            self._render()

    def _render(self) -> None:
        from rich.markdown import Markdown

        assert self._live is not None
        started = time.monotonic()
        self._live.update(Markdown("".join(self._parts), code_theme=self._code_theme, hyperlinks=False))
        self._live.refresh()
        spent = time.monotonic() - started
        self._interval = min(max(10 * spent, 1 / 20), 2.0)
        self._next_render = time.monotonic() + self._interval

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self._parts.append(self._sanitizer.flush())
            self._render()
        finally:
            assert self._live is not None
            self._live.stop()
            self._console.show_cursor(True)
