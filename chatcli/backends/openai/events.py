"""Reading the chat-completions event stream (SSE): its lines to JSON chunks to answer pieces and a StreamInfo.

This is the one place where what a server sends is decoded, so every field read here is type- and
range-checked: a field of the wrong shape fails the turn as "malformed stream data" (keeping any text that
already arrived), except token usage, which is only informative: a bad one is dropped with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chatcli.backends.http.errors import MALFORMED
from chatcli.backends.http.stream_data import (
    JSON,
    Malformed,
    ServerError,
    checked_text,
    decode_object,
    guarded,
    ignore,
)
from chatcli.backends.openai.tool_calls import ToolCallPieces, whole_tool_calls
from chatcli.core.errors import BackendError
from chatcli.core.stream import Piece, Reasoning, StreamInfo, ToolCallPiece, Usage

MAX_TOKEN_COUNT = 2**53  # token counts above this are not counts (sqlite, JSON numbers and sums stay exact)
BAD_USAGE = "warning: the server reported token usage chatcli cannot read; ignored"
_BOM = b"\xef\xbb\xbf"


def read_events(
    lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None] = ignore
) -> Iterator[Piece]:
    """The answer's pieces (text, reasoning, tool calls) from the event stream's lines; its finish reason,
    usage and model go to `info`. Text the server sends is redacted of `key` in error messages; `warn` gets
    one-line notices."""
    return guarded(_event_pieces(lines, info, warn), info, key)


def _event_pieces(lines: Iterator[bytes], info: StreamInfo, warn: Callable[[str], None]) -> Iterator[Piece]:
    calls = ToolCallPieces()
    for line in _without_bom(lines):
        if not line.startswith(b"data:"):
            continue  # blank separators, `: keep-alive` comments, `event:` and `id:` fields
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        chunk = decode_object(data)
        if "error" in chunk:
            raise ServerError(error_text(chunk["error"]))
        _read_report(chunk, info, warn)
        choices = chunk.get("choices")
        if choices is None:
            continue
        if type(choices) is not list:
            raise Malformed
        for choice in choices:
            yield from _choice_pieces(choice, info, calls)


def _without_bom(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The lines, without a UTF-8 byte-order mark at the start of the stream (SSE says to ignore it)."""
    for line in lines:
        yield line.removeprefix(_BOM)
        break
    yield from lines


def _read_report(chunk: dict[str, Any], info: StreamInfo, warn: Callable[[str], None]) -> None:
    """The chunk's usage and model into `info`."""
    if usage := chunk.get("usage"):
        parsed = parse_usage(usage)
        if parsed is None:
            warn(BAD_USAGE)
        info.usage = parsed or info.usage
    if model := chunk.get("model"):
        info.model = checked_text(model)


def _choice_pieces(choice: Any, info: StreamInfo, calls: ToolCallPieces) -> Iterator[Piece]:
    if type(choice) is not dict:
        raise Malformed
    delta = choice.get("delta") or {}
    if type(delta) is not dict:
        raise Malformed
    if reasoning := delta.get("reasoning_content") or delta.get("reasoning"):
        yield Reasoning(checked_text(reasoning))
    if content := delta.get("content"):
        yield checked_text(content)
    if (deltas := delta.get("tool_calls")) is not None:
        try:
            yield from calls.read(deltas)
        except (TypeError, ValueError):
            raise Malformed from None
    if finish := choice.get("finish_reason"):
        info.finish_reason = checked_text(finish)


def read_completion(
    body: str, info: StreamInfo, warn: Callable[[str], None] = ignore
) -> tuple[str, list[ToolCallPiece]] | None:
    """The text and tool calls of a whole (non-streamed) completion; its finish reason and usage into `info`.

    None when `body` is not a chat completion at all; BackendError when it is one with malformed fields."""
    try:
        data = JSON.decode(body)
    except (ValueError, RecursionError):
        return None
    if type(data) is not dict or type(data.get("choices")) is not list or not data["choices"]:
        return None
    try:
        choice = data["choices"][0]
        if type(choice) is not dict or type(choice.get("message")) is not dict:
            raise Malformed
        content = choice["message"].get("content")
        text = "" if content is None else checked_text(content)
        try:
            calls = whole_tool_calls(choice["message"])
        except (TypeError, ValueError):
            raise Malformed from None
        finish = choice.get("finish_reason")
        info.finish_reason = "stop" if finish is None else checked_text(finish)
        _read_report(data, info, warn)
    except Malformed:
        raise BackendError(MALFORMED.replace("stream ", "")) from None
    return text, calls


def parse_usage(usage: Any) -> Usage | None:
    """Token counts, or None unless both are whole numbers from 0 to MAX_TOKEN_COUNT (or absent); with them
    the cached prompt tokens and the reasoning tokens where the server details them (OpenAI's
    `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`; a bad detail is
    dropped, the counts kept)."""
    if type(usage) is not dict:
        return None
    prompt, completion = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
    if prompt is None or completion is None:
        return None
    prompt_details, completion_details = (
        usage.get("prompt_tokens_details"),
        usage.get("completion_tokens_details"),
    )
    cached = _count(prompt_details, "cached_tokens") if type(prompt_details) is dict else None
    reasoning = _count(completion_details, "reasoning_tokens") if type(completion_details) is dict else None
    return Usage(prompt, completion, min(cached or 0, prompt), reasoning_tokens=reasoning or None)


def _count(counts: dict[str, Any], name: str) -> int | None:
    """`counts[name]` as a token count (absent: 0); None when it is no whole number from 0 to MAX_TOKEN_COUNT."""
    count = counts.get(name) or 0
    if type(count) is float and count.is_integer():  # 12.0: a count; inf, nan and 1.5 are not
        count = int(count)
    return count if type(count) is int and 0 <= count <= MAX_TOKEN_COUNT else None


def error_text(error: Any) -> str:
    """A server's error object as text, printable whatever it holds (lone surrogates become U+FFFD)."""
    text = str(error.get("message") or error) if isinstance(error, dict) else str(error)
    return text.encode("utf-8", "replace").decode("utf-8", "replace") if not text.isascii() else text
