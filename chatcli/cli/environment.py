"""The Environment of this process, built once in `main` (tests build their own)."""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

from chatcli.core.environment import Environment
from chatcli.storage.paths import platform_dirs


class OutputError(OSError):
    """Writing to stdout failed (a full disk, an I/O error), told apart from every other OSError so that the
    user reads `cannot write the output`. A BrokenPipeError stays itself: the reader left, which is no error."""


class _OutputFile(io.FileIO):
    """stdout's file descriptor, whose failed writes are OutputErrors."""

    def write(self, data: object, /) -> int:
        try:
            return super().write(data)  # type: ignore[arg-type]
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(error.errno, error.strerror) from None


def _isatty(stream: object) -> bool:
    try:
        return stream is not None and os.isatty(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # closed, or an in-memory stream
        return False


def _output_stream(stream: TextIO | None) -> TextIO | None:
    """The process's stdout rebuilt on an _OutputFile, buffered as it was (PYTHONUNBUFFERED), with the same
    encoding; it replaces sys.stdout too, so that everything written to stdout goes through one buffer."""
    if not isinstance(stream, io.TextIOWrapper) or stream.closed:
        return stream
    buffered = isinstance(stream.buffer, io.BufferedWriter)
    raw = stream.buffer.raw if buffered else stream.buffer
    if type(raw) is not io.FileIO:
        return stream  # already rebuilt, or not a file (a test's capture)
    stream.flush()
    output = _OutputFile(stream.fileno(), "w", closefd=False)
    rebuilt = io.TextIOWrapper(
        io.BufferedWriter(output) if buffered else output,
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=stream.write_through,
    )
    sys.stdout = rebuilt
    return rebuilt


def process_environment() -> Environment:
    """The real streams (decided with os.isatty, never FORCE_COLOR), os.environ and the platform's directories
    (platformdirs, imported when first asked for)."""
    stdin = sys.stdin.buffer if sys.stdin is not None and not sys.stdin.closed else None
    return Environment(
        stdin=stdin,
        stdout=_output_stream(sys.stdout),
        stderr=sys.stderr,
        stdin_isatty=_isatty(sys.stdin),
        stdout_isatty=_isatty(sys.stdout),
        stderr_isatty=_isatty(sys.stderr),
        find_dirs=platform_dirs,
        environ=os.environ,
    )
