"""A turn on a terminal: a spinner until the first text, the model's reasoning (dimmed as it streams, one
summary line, or nothing), then the answer through the real renderer."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self, TextIO

from chatcli.core.renderer import Renderer
from chatcli.render.sanitize import StreamSanitizer

_DIM, _RESET = "\x1b[2m", "\x1b[0m"
_SHOW_CURSOR, _HIDE_CURSOR, _ERASE_LINE = "\x1b[?25h", "\x1b[?25l", "\r\x1b[2K"
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class TurnDisplay:
    """Shows a spinner on `spinner_to` until the answer starts; shows reasoning on `reasoning_to` (both
    terminals, or None for no spinner / no reasoning shown) as `reasoning` says: `show` streams it dimmed
    (the spinner stops), `summary` keeps the spinner ("thinking…") and prints one dim line "thought for 12.0 s,
    840 tokens" when it ends, `hide` shows nothing of it. Hands the answer to the renderer `new_renderer` makes.

    The real renderer is created and entered only at the first text, so a turn that fails before any text
    prints nothing but its error line. The answer always starts on a line of its own after the reasoning.
    The spinner thread writes only while holding the lock and not stopped, so nothing follows the erase.

    When the terminal goes away mid-answer (closed window, killed tmux session: writes fail with EIO), the
    turn stops as if interrupted (KeyboardInterrupt), so the partial answer is kept; `terminal_closed` says so.
    """

    def __init__(
        self,
        new_renderer: Callable[[], Renderer],
        spinner_to: TextIO | None = None,
        reasoning_to: TextIO | None = None,
        reasoning: str = "show",
        label: str = "waiting",
    ) -> None:
        self._new_renderer = new_renderer
        self._spinner_to = spinner_to
        self._reasoning_to = reasoning_to if reasoning != "hide" else None
        self._summarise = reasoning == "summary"
        self._reasoning = StreamSanitizer()
        self._reasoning_open = False  # reasoning shown whose last line has no newline yet
        self._thinking_since: float | None = None  # when the first piece of reasoning arrived
        self._thought_pieces = 0  # streamed one token per piece by the servers that send reasoning
        self._label = label  # what the spinner says chatcli waits for
        self._inner: Renderer | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.terminal_closed = False
        self.output_error: OSError | None = None

    @contextmanager
    def _writing(self, *, interrupt: bool = True) -> Iterator[None]:
        """Turn EIO from a terminal that went away into `terminal_closed` (and, with `interrupt`, a
        KeyboardInterrupt that stops the turn). A closed pipe passes (the reader is gone: stop reading too);
        any other write error (a full disk) is kept in `output_error` and nothing more is written, while the
        answer is still read to its end, so that it is recorded whole."""
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as error:
            self._write_failed(error, interrupt)

    def _write_failed(self, error: OSError, interrupt: bool) -> None:
        if error.errno != errno.EIO:
            self.output_error = self.output_error or error
            return
        self.terminal_closed = True
        if interrupt:
            raise KeyboardInterrupt from None

    def __enter__(self) -> Self:
        if self._spinner_to is not None:
            self._draw(0.0)
            threading.Thread(target=self._spin, name="chatcli-waiting", daemon=True).start()
        return self

    def reason(self, text: str) -> None:
        if self._reasoning_to is None or self._inner is not None or self.output_error is not None:
            return
        if self._thinking_since is None:
            self._thinking_since = time.monotonic()
        self._thought_pieces += 1
        if self._summarise:
            self._label = "thinking"
            return
        with self._writing():
            self.stop_waiting()
            shown = self._reasoning.feed(text)
            if shown:
                self._reasoning_to.write(f"{_DIM}{shown}{_RESET}")
                self._reasoning_to.flush()
                self._reasoning_open = not shown.endswith("\n")

    def feed(self, text: str) -> None:
        if self.output_error is not None:
            return
        if (
            self._inner is not None
        ):  # every piece after the first: _writing's rules, without its context manager
            try:
                self._inner.feed(text)
            except BrokenPipeError:
                raise
            except OSError as error:
                self._write_failed(error, interrupt=True)
            return
        with self._writing():
            self.stop_waiting()
            self._end_reasoning()
            self._inner = self._new_renderer()
            self._inner.__enter__()
            self._inner.feed(text)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._writing(interrupt=False):
            self.stop_waiting()
            if self._inner is not None:
                self._inner.__exit__(kind, error, trace)
            else:
                self._end_reasoning()

    def _end_reasoning(self) -> None:
        if self._reasoning_to is not None and self._summarise and self._thinking_since is not None:
            seconds = time.monotonic() - self._thinking_since
            tokens = f"{self._thought_pieces} token{'s' if self._thought_pieces != 1 else ''}"
            self._reasoning_to.write(f"{_DIM}thought for {seconds:.1f} s, {tokens}{_RESET}\n")
            self._reasoning_to.flush()
            self._thinking_since = None
        if self._reasoning_open and self._reasoning_to is not None:
            self._reasoning_to.write("\n")
            self._reasoning_to.flush()
        self._reasoning_open = False

    def _spin(self) -> None:
        started = time.monotonic()
        while not self._stopped.wait(0.1):
            try:
                self._draw(time.monotonic() - started)
            except OSError:  # the terminal went away; the turn finds out at its next write
                return

    def _draw(self, elapsed: float) -> None:
        with self._lock:
            if self._stopped.is_set() or self._spinner_to is None:
                return
            frame = _FRAMES[int(elapsed * 10) % len(_FRAMES)]
            self._spinner_to.write(f"{_HIDE_CURSOR}\r{_DIM}{frame} {self._label}… {elapsed:.1f}s{_RESET}")
            self._spinner_to.flush()

    def stop_waiting(self) -> None:
        """Erase the spinner."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            if self._spinner_to is not None:
                self._spinner_to.write(_ERASE_LINE + _SHOW_CURSOR)
                self._spinner_to.flush()
