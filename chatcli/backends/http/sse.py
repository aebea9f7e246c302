"""A response body as bounded lines, and those lines as server-sent events (the SSE wires: openai, anthropic,
responses); NDJSON wires (ollama) read the lines directly."""

from __future__ import annotations

from collections.abc import Iterator

MAX_LINE_BYTES = 8 * 1024 * 1024  # one line (one event's JSON); a longer one fails the turn
_BOM = b"\xef\xbb\xbf"


class LineTooLong(Exception):
    """A line of the body passed MAX_LINE_BYTES without ending."""


def read_lines(chunks: Iterator[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a byte stream, each with its end (`\n`, `\r\n` or `\r`), the last one possibly without.

    Cheaper per token than httpx's text and line decoders; a line split across chunks is joined once.
    A line longer than `max_line` raises LineTooLong rather than growing without limit."""
    partial: list[bytes] = []
    partial_size = 0
    for chunk in chunks:
        lines = chunk.splitlines(keepends=True)
        if not lines:
            continue
        if partial:
            partial.append(lines[0])
            partial_size += len(lines[0])
            if partial_size > max_line:
                raise LineTooLong
            if not lines[0].endswith((b"\n", b"\r")):
                continue  # still inside the same line
            lines[0] = b"".join(partial)
            partial = []
            partial_size = 0
        if not lines[-1].endswith((b"\n", b"\r")):
            last = lines.pop()
            partial.append(last)
            partial_size = len(last)
        for line in lines:
            if len(line) > max_line:
                raise LineTooLong
        yield from lines
    if partial:
        yield b"".join(partial)


def sse_events(lines: Iterator[bytes]) -> Iterator[tuple[str, bytes]]:
    """The events of an event stream: (event name, data), the name "message" when the event names none and
    the data lines joined with `\n`. Comments (`: keep-alive`), `id:` and `retry:` fields and events without
    data are skipped, as the SSE standard says; an event still open when the stream ends is dispatched too
    (servers that end the body without the final blank line)."""
    name = ""
    data: list[bytes] = []
    first = True
    for line in lines:
        if first:
            line = line.removeprefix(_BOM)  # SSE says to ignore a byte-order mark at the start
            first = False
        line = line.rstrip(b"\r\n")
        if not line:
            if data:
                yield name or "message", b"\n".join(data)
            name, data = "", []
            continue
        field, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if data:
        yield name or "message", b"\n".join(data)
