"""Reading Anthropic's Messages stream (SSE) and whole answers: events to answer pieces and a StreamInfo.

A stream is `message_start`, then content blocks (`content_block_start`, deltas, `content_block_stop`) by
index, then `message_delta` (the stop reason and the cumulative usage) and `message_stop`; `ping` and unknown
events are skipped, an `error` event fails the turn in one line. Text deltas are answer text, thinking deltas
`Reasoning`; a finished signed thinking block (or a redacted one) is a `ProviderItem` that goes back with the
answer in later requests; a `tool_use` block is a tool call whose JSON input arrives in pieces. Every field read
here is type-checked: a wrong shape fails the turn as malformed stream data (keeping any text that arrived),
except usage, which is only informative: a bad one is dropped with a warning.
"""

from __future__ import annotations

import json
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
from chatcli.core.errors import BackendError
from chatcli.core.stream import ModelEntry, Piece, ProviderItem, Reasoning, StreamInfo, ToolCallPiece, Usage

BACKEND = "anthropic"
BAD_USAGE = "warning: the server reported token usage chatcli cannot read; ignored"
MAX_TOKEN_COUNT = 2**53  # token counts above this are not counts (sums stay exact)
MAX_ID_CHARS = 256  # a tool call's id or name
# Anthropic's stop reasons in chatcli's (chat-completions) words; the others (refusal, pause_turn,
# model_context_window_exceeded, any new one) are kept as they are.
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
# Each delta chatcli reads, and the type of block it belongs to.
_KNOWN_DELTAS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "thinking",
    "input_json_delta": "tool_use",
}
_BOM = b"\xef\xbb\xbf"


def read_events(
    lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None] = ignore
) -> Iterator[Piece]:
    """The answer's pieces from the event stream's lines; its stop reason, usage and model go to `info`. `key`
    is redacted from the server's error text; `warn` gets one-line notices."""
    return guarded(_event_pieces(lines, StreamReader(info, warn)), info, key)


def _event_pieces(lines: Iterator[bytes], reader: StreamReader) -> Iterator[Piece]:
    for data in data_lines(lines):
        yield from reader.event(decode_object(data))
        if reader.stopped:
            return


def data_lines(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The data of each event: every event's JSON holds its own type, so `event:` lines, comments and blank
    separators are skipped (a byte-order mark at the start too, as SSE says)."""
    for line in lines:
        line = line.removeprefix(_BOM)
        if line.startswith(b"data:"):
            yield line[5:].strip()
        break
    for line in lines:
        if line.startswith(b"data:"):
            yield line[5:].strip()


class _Block:
    """A content block while it streams: its type, and what its end needs (a thinking block's text and
    signature, a tool call's number and whether its input came in pieces)."""

    __slots__ = ("call", "kind", "parts", "signature", "start")

    def __init__(self, kind: str, start: dict[str, Any], call: int = -1) -> None:
        self.kind = kind
        self.start = start
        self.call = call
        self.parts: list[str] = []
        self.signature = ""


class StreamReader:
    """One answer's events, in order, as pieces; `stopped` once `message_stop` came."""

    def __init__(self, info: StreamInfo, warn: Callable[[str], None]) -> None:
        self.info = info
        self.stopped = False
        self._warn = warn
        self._blocks: dict[int, _Block] = {}
        self._calls = 0
        self._usage: dict[str, int] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], Iterator[Piece]]] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_stop": self._block_stop,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
            "error": self._error,
        }

    def event(self, event: dict[str, Any]) -> Iterator[Piece]:
        kind = event.get("type")
        if kind == "content_block_delta":  # nearly every event: kept cheap
            return self._delta(event)
        handler = self._handlers.get(kind) if type(kind) is str else None
        return handler(event) if handler is not None else iter(())  # ping, and events new to chatcli

    def _delta(self, event: dict[str, Any]) -> Iterator[Piece]:
        delta, index = event.get("delta"), event.get("index")
        block = self._blocks.get(index) if type(index) is int else None
        if type(delta) is not dict or block is None:
            raise Malformed
        kind = delta.get("type")
        if kind == "text_delta" and block.kind == "text":
            if text := checked_text(delta.get("text")):
                yield text
        elif kind == "thinking_delta" and block.kind == "thinking":
            if thought := checked_text(delta.get("thinking")):
                block.parts.append(thought)
                yield Reasoning(thought)
        elif kind == "signature_delta" and block.kind == "thinking":
            block.signature = checked_text(delta.get("signature"))  # the whole signature, as the SDK takes it
        elif kind == "input_json_delta" and block.kind == "tool_use":
            block.parts.append("")  # the input came in pieces
            if partial := checked_text(delta.get("partial_json")):
                yield ToolCallPiece(block.call, arguments=partial)
        elif kind in _KNOWN_DELTAS and block.kind in _KNOWN_DELTAS.values():
            raise Malformed  # a delta for a block of another type
        # citations_delta, deltas new to chatcli, and the blocks of server tools (which chatcli does not send
        # back, so does not keep): nothing to show

    def _block_start(self, event: dict[str, Any]) -> Iterator[Piece]:
        index, block = event.get("index"), event.get("content_block")
        if type(index) is not int or type(block) is not dict or type(block.get("type")) is not str:
            raise Malformed
        kind = block["type"]
        self._blocks[index] = started = _Block(kind, block)
        if kind == "text":
            if text := checked_text(block.get("text", "")):
                yield text
        elif kind == "thinking":
            if thought := checked_text(block.get("thinking", "")):
                started.parts.append(thought)
                yield Reasoning(thought)
            started.signature = checked_text(block.get("signature", ""))
        elif kind == "tool_use":
            started.call = self._calls
            self._calls += 1
            yield ToolCallPiece(started.call, short_text(block.get("id")), short_text(block.get("name")))

    def _block_stop(self, event: dict[str, Any]) -> Iterator[Piece]:
        index = event.get("index")
        block = self._blocks.pop(index, None) if type(index) is int else None
        if block is None:
            raise Malformed
        if block.kind == "thinking":
            yield from thinking_item("".join(block.parts), block.signature)
        elif block.kind == "redacted_thinking":
            yield from redacted_item(block.start)
        # A tool call whose whole input came with its start, not in pieces.
        elif block.kind == "tool_use" and not block.parts and (arguments := tool_input(block.start)):
            yield ToolCallPiece(block.call, arguments=arguments)

    def _message_start(self, event: dict[str, Any]) -> Iterator[Piece]:
        message = event.get("message")
        if type(message) is not dict:
            raise Malformed
        if (model := message.get("model")) is not None:
            self.info.model = checked_text(model)
        self._add_usage(message.get("usage"))
        return iter(())

    def _message_delta(self, event: dict[str, Any]) -> Iterator[Piece]:
        delta = event.get("delta")
        if type(delta) is not dict:
            raise Malformed
        if (reason := delta.get("stop_reason")) is not None:
            reason = checked_text(reason)
            self.info.finish_reason = STOP_REASONS.get(reason, reason)
        self._add_usage(event.get("usage"))
        return iter(())

    def _message_stop(self, event: dict[str, Any]) -> Iterator[Piece]:
        self.info.finish_reason = self.info.finish_reason or "stop"
        self.stopped = True
        return iter(())

    def _error(self, event: dict[str, Any]) -> Iterator[Piece]:
        raise ServerError(error_text(event) or "an error of unknown shape")

    def _add_usage(self, usage: Any) -> None:
        """message_start's usage, then message_delta's cumulative counts over it (the fields it has)."""
        if usage is None:
            return
        counts = usage_counts(usage)
        if counts is None:
            self._warn(BAD_USAGE)
            return
        self._usage.update(counts)
        self.info.usage = to_usage(self._usage)


def usage_counts(usage: Any) -> dict[str, int] | None:
    """The token counts of a usage object (those it has), or None when one is not a count."""
    if type(usage) is not dict:
        return None
    counts = {}
    for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        if (count := count_of(usage.get(name))) is None:
            return None
        if count >= 0:
            counts[name] = count
    details = usage.get("output_tokens_details")
    if details is not None:
        thinking = count_of(details.get("thinking_tokens") if type(details) is dict else False)
        if thinking is None:
            return None
        if thinking >= 0:
            counts["thinking_tokens"] = thinking
    return counts


def count_of(value: Any) -> int | None:
    """A token count; -1 when absent (null); None when it is no whole number from 0 to MAX_TOKEN_COUNT."""
    if value is None:
        return -1
    if type(value) is float and value.is_integer():
        value = int(value)
    return value if type(value) is int and 0 <= value <= MAX_TOKEN_COUNT else None


def to_usage(counts: dict[str, int]) -> Usage:
    """Anthropic's counts as chatcli's: the prompt is the uncached input and what was read from and written to
    the cache."""
    read = counts.get("cache_read_input_tokens", 0)
    written = counts.get("cache_creation_input_tokens", 0)
    return Usage(
        counts.get("input_tokens", 0) + read + written,
        counts.get("output_tokens", 0),
        read,
        written,
        counts.get("thinking_tokens"),
    )


def thinking_item(thinking: str, signature: str) -> Iterator[ProviderItem]:
    """A finished thinking block to send back. One without a signature (a server that does not sign) is not
    kept: the API takes thinking back only to check its signature."""
    if signature:
        yield ProviderItem(BACKEND, {"type": "thinking", "thinking": thinking, "signature": signature})


def redacted_item(block: dict[str, Any]) -> Iterator[ProviderItem]:
    yield ProviderItem(BACKEND, {"type": "redacted_thinking", "data": checked_text(block.get("data"))})


def tool_input(block: dict[str, Any]) -> str:
    """A tool_use block's whole input as JSON text ("" for none)."""
    value = block.get("input", {})
    if type(value) is not dict:
        raise Malformed
    return json.dumps(value) if value else ""


def short_text(value: Any) -> str:
    """A tool call's id or name."""
    if len(text := checked_text(value)) > MAX_ID_CHARS:
        raise Malformed
    return text


def read_message(body: bytes, info: StreamInfo) -> list[Piece] | None:
    """The pieces of a whole (non-streamed) message, its stop reason, usage and model into `info`; None when
    `body` is not a message at all; BackendError when it is one with malformed fields."""
    try:
        message = JSON.decode(body.decode())
    except (ValueError, RecursionError):
        return None
    if type(message) is not dict or message.get("type") != "message":
        return None
    reader = StreamReader(info, ignore)
    try:
        content = message.get("content")
        if type(content) is not list:
            raise Malformed
        pieces = [piece for block in content for piece in whole_block(reader, block)]
        list(reader.event({"type": "message_start", "message": {**message, "stop_reason": None}}))
        list(reader.event({"type": "message_delta", "delta": {"stop_reason": message.get("stop_reason")}}))
        info.finish_reason = info.finish_reason or "stop"
    except Malformed:
        raise BackendError(MALFORMED.replace("stream ", "")) from None
    return pieces


def whole_block(reader: StreamReader, block: Any) -> list[Piece]:
    """One whole content block's pieces, read as the stream of that one block would be."""
    if type(block) is not dict:
        raise Malformed
    pieces = list(reader.event({"type": "content_block_start", "index": 0, "content_block": block}))
    pieces += reader.event({"type": "content_block_stop", "index": 0})
    return pieces


def error_text(body: Any) -> str | None:
    """An Anthropic error (`{"type": "error", "error": {"type": …, "message": …}}`) as "message (type)";
    None for another shape."""
    error = body.get("error") if type(body) is dict else None
    if type(error) is not dict or type(message := error.get("message")) is not str:
        return None
    kind = error.get("type")
    text = f"{message} ({kind})" if type(kind) is str and kind and kind not in message else message
    return text.encode("utf-8", "replace").decode("utf-8", "replace") if not text.isascii() else text


def read_models(body: bytes) -> list[ModelEntry]:
    """GET /v1/models: the models' ids; ValueError, KeyError or TypeError when unreadable."""
    data = json.loads(body)["data"]
    if type(data) is not list:
        raise TypeError("data is not a list")
    return [ModelEntry(checked_text(entry["id"])) for entry in data]
