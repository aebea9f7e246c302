"""Answers as text: PlainRenderer writes the model's bytes (sanitised on a terminal); SilentRenderer shows
nothing (`ask --json` prints the answer inside its JSON object)."""

from __future__ import annotations

from types import TracebackType
from typing import BinaryIO, Self

from chatcli.render.sanitize import StreamSanitizer


class PlainRenderer:
    """Writes each delta as UTF-8 and flushes it; ends with one newline if the text did not.

    Byte-exact for pipes; with a sanitizer (plain text on a terminal) control characters are made visible.
    """

    def __init__(self, out: BinaryIO, sanitizer: StreamSanitizer | None = None) -> None:
        self._out = out
        self._sanitizer = sanitizer
        self._last = "\n"

    def __enter__(self) -> Self:
        return self

    def reason(self, text: str) -> None:
        """Reasoning never goes into the answer's bytes (TurnDisplay shows it on a terminal)."""

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


class SilentRenderer:
    """Shows nothing: with --json the answer reaches stdout only inside the JSON object."""

    def __enter__(self) -> Self:
        return self

    def feed(self, text: str) -> None:
        pass

    def reason(self, text: str) -> None:
        pass

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        pass
