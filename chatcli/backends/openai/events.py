"""Reading the OpenAI event stream (SSE): bytes to lines to JSON chunks to answer pieces and a StreamInfo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chatcli.backends.openai.tool_calls import add_tool_call_pieces
from chatcli.backends.redact import short_reason
from chatcli.core.errors import BackendError, PartialAnswer
from chatcli.core.stream import Reasoning, StreamInfo, ToolCall, Usage

JSON = (
    json.JSONDecoder()
)  # json.loads without its per-call checks; bytes are decoded first (faster than loads(bytes))


def read_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream, each with its end (`\n`, `\r\n` or `\r`), the last one possibly without.

    Cheaper per token than httpx's text and line decoders; a line split across chunks is joined once."""
    partial: list[bytes] = []
    for chunk in chunks:
        lines = chunk.splitlines(keepends=True)
        if not lines:
            continue
        if partial:
            partial.append(lines[0])
            if not lines[0].endswith((b"\n", b"\r")):
                continue  # still inside the same line
            lines[0] = b"".join(partial)
            partial = []
        if not lines[-1].endswith((b"\n", b"\r")):
            partial.append(lines.pop())
        yield from lines
    if partial:
        yield b"".join(partial)


def read_events(lines: Iterator[bytes], info: StreamInfo, key: str | None) -> Iterator[str | Reasoning]:
    """The answer's text and reasoning pieces from the event stream's lines; what else it reports goes to
    `info`. Text the server sends is redacted of `key` in error messages."""
    got_text = False
    call_indices: dict[int, ToolCall] = {}
    for line in lines:
        if not line.startswith(b"data:"):
            continue  # blank separators, `: keep-alive` comments, `event:` and `id:` fields
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        try:
            chunk = JSON.decode(data.decode())
        except ValueError:
            raise failure("server sent malformed stream data", got_text) from None
        if not isinstance(chunk, dict):
            raise failure("server sent malformed stream data", got_text)
        if "error" in chunk:
            reason = error_text(chunk["error"])
            raise failure(f"server reported an error mid-stream: {short_reason(reason, key)}", got_text)
        if usage := chunk.get("usage"):
            info.usage = parse_usage(usage)
        if model := chunk.get("model"):
            info.model = model
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if reasoning := delta.get("reasoning_content") or delta.get("reasoning"):
                yield Reasoning(reasoning)
            if content := delta.get("content"):
                got_text = True
                yield content
            add_tool_call_pieces(info.tool_calls, delta.get("tool_calls"), call_indices)
            if finish := choice.get("finish_reason"):
                info.finish_reason = finish
    if info.finish_reason is None:
        raise failure("the answer ended early: the server closed the stream before it finished", got_text)


def failure(message: str, got_text: bool) -> BackendError:
    """A failure of the stream: PartialAnswer once text reached the user (it is kept, never retried)."""
    return PartialAnswer(message) if got_text else BackendError(message)


def parse_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
