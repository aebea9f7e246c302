"""SIGTERM and SIGHUP end chatcli the way Ctrl-C does, so that what must be kept is kept before it exits."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class ExitSignals:
    """While active (a context manager), the first SIGTERM or SIGHUP is recorded in `received` and unwinds the
    work in progress as KeyboardInterrupt: the terminal restored, the partial answer kept, the conversation
    saved by the caller. Later ones are ignored: chatcli is already on its way out. It does not raise when

    - `ignore()` is true: the turn already stopped for a closed terminal, and the hang-up must not cut short
      saving;
    - `end_wait()` returns true: it ended a wait that raising would break (the REPL's prompt, whose event loop
      would leave the terminal raw).

    The previous handlers come back afterwards (the tests run chatcli in their own process)."""

    def __init__(
        self, ignore: Callable[[], bool] = lambda: False, end_wait: Callable[[], bool] = lambda: False
    ) -> None:
        self.received: int | None = None
        self.ignore = ignore
        self._end_wait = end_wait
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ExitSignals:
        self._previous = {signum: signal.signal(signum, self._handle) for signum in EXIT_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return
        self.received = signum
        if self.ignore() or self._end_wait():
            return
        raise KeyboardInterrupt
