"""Reading what Ollama sends: the NDJSON stream of /api/chat (one JSON object a line: `message.content`,
`message.thinking`, `message.tool_calls`, and last `done: true` with `done_reason` and the token counts), a
whole answer, an error body, and the model list (/api/tags).

Every field read here is type-checked: a field of the wrong shape fails the turn as "server sent malformed
stream data" (keeping any text that already arrived), except the token counts, which are only informative: bad
ones are dropped with a warning. Each line is decoded once.
"""

from __future__ import annotations

import json
import re
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
from chatcli.backends.redact import short_reason
from chatcli.core.errors import BackendError
from chatcli.core.stream import ModelEntry, Piece, Reasoning, StreamInfo, ToolCallPiece, Usage

MAX_TOKEN_COUNT = 2**53  # token counts above this are not counts (sqlite, JSON numbers and sums stay exact)
BAD_USAGE = "warning: the server reported token usage chatcli cannot read; ignored"
# Ollama's answer (404) for a model it does not have: `model "llama3" not found, try pulling it first`
NOT_PULLED = re.compile(r'model "([^"]{1,200})" not found, try pulling it first')


def read_chat_stream(
    lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None] = ignore
) -> Iterator[Piece]:
    """The answer's pieces from the stream's lines; its finish reason (`done_reason`), usage and model go to
    `info`. The stream is over at the `done` object: what follows it is never read."""
    return guarded(_stream_pieces(lines, info, warn), info, key)


class _CallCount:
    """The tool calls of one answer so far: Ollama sends each call whole, without an index or (before 0.12)
    an id, so chatcli numbers them in order and names them call_0, call_1…"""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count - 1


def _stream_pieces(lines: Iterator[bytes], info: StreamInfo, warn: Callable[[str], None]) -> Iterator[Piece]:
    calls = _CallCount()
    for line in lines:
        if line.isspace():
            continue
        chunk = decode_object(line)
        if "error" in chunk:
            raise ServerError(error_text(chunk) or "no reason given")
        message = chunk.get("message")
        if message is not None:
            yield from _message_pieces(message, calls)
        if _finished(chunk, info, warn):
            return


def _message_pieces(message: Any, calls: _CallCount) -> Iterator[Piece]:
    if type(message) is not dict:
        raise Malformed
    if thinking := message.get("thinking"):
        yield Reasoning(checked_text(thinking))
    if content := message.get("content"):
        yield checked_text(content)
    if (tool_calls := message.get("tool_calls")) is not None:
        yield from _call_pieces(tool_calls, calls)


def _call_pieces(tool_calls: Any, calls: _CallCount) -> Iterator[ToolCallPiece]:
    if type(tool_calls) is not list:
        raise Malformed
    for call in tool_calls:
        if type(call) is not dict or type(call.get("function")) is not dict:
            raise Malformed
        function = call["function"]
        name = checked_text(function.get("name"))
        text = arguments_text(function.get("arguments", {}))
        index = calls.next()
        call_id = call.get("id")
        yield ToolCallPiece(index, checked_text(call_id) if call_id else f"call_{index}", name, text)


def arguments_text(arguments: Any) -> str:
    """A call's arguments as JSON text: Ollama sends an object (a server imitating it may send the text)."""
    if type(arguments) is dict:
        return json.dumps(arguments, ensure_ascii=False)
    return checked_text(arguments)


def _finished(chunk: dict[str, Any], info: StreamInfo, warn: Callable[[str], None]) -> bool:
    """Whether `chunk` is the last one (`done`); its reason, counts and model go to `info`."""
    done = chunk.get("done", False)
    if type(done) is not bool:
        raise Malformed
    if not done:
        return False
    reason = chunk.get("done_reason")
    info.finish_reason = "stop" if reason is None else checked_text(reason)
    if model := chunk.get("model"):
        info.model = checked_text(model)
    if "prompt_eval_count" in chunk or "eval_count" in chunk:
        usage = parse_usage(chunk)
        if usage is None:
            warn(BAD_USAGE)
        info.usage = usage or info.usage
    return True


def parse_usage(chunk: dict[str, Any]) -> Usage | None:
    """The final object's counts (`prompt_eval_count`, `eval_count`) as Usage; None unless each is a whole
    number from 0 to MAX_TOKEN_COUNT or absent (Ollama has left out a count of zero)."""
    counts = []
    for count in (chunk.get("prompt_eval_count") or 0, chunk.get("eval_count") or 0):
        if type(count) is float and count.is_integer():  # 12.0: a count; inf, nan and 1.5 are not
            count = int(count)
        if type(count) is not int or not 0 <= count <= MAX_TOKEN_COUNT:
            return None
        counts.append(count)
    return Usage(*counts)


def read_chat_whole(body: bytes, info: StreamInfo) -> list[Piece] | None:
    """A whole (non-streamed) answer's pieces, its finish reason and usage into `info`; None when `body` is no
    /api/chat answer at all."""
    try:
        data = JSON.decode(body.decode())
    except (ValueError, RecursionError):
        return None
    if type(data) is not dict or not ("message" in data or "error" in data):
        return None
    if "error" in data:
        raise BackendError(
            f"server reported an error: {short_reason(error_text(data) or 'no reason given', None)}"
        )
    try:
        pieces = list(_message_pieces(data["message"], _CallCount()))
        if not _finished(data, info, ignore):
            info.finish_reason = "stop"  # a whole answer is finished whatever `done` says
    except (Malformed, RecursionError):
        raise BackendError(MALFORMED.replace("stream ", "")) from None
    return pieces


def error_text(body: Any) -> str | None:
    """Ollama's error JSON (`{"error": "…"}`) as its message; a model that is not there says how to pull it."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    if not isinstance(error, str) or not error:
        return None
    if match := NOT_PULLED.search(error):
        return f'model "{match[1]}" is not on this server; pull it with `ollama pull {match[1]}`'
    return error


def read_models(body: bytes) -> list[ModelEntry]:
    """/api/tags's `models[].name`; ValueError, KeyError or TypeError when the list cannot be read."""
    models = json.loads(body)["models"]
    if not isinstance(models, list):
        raise TypeError("models is not a list")
    return [
        ModelEntry(model["name"])
        for model in models
        if isinstance(model, dict) and isinstance(model.get("name"), str)
    ]
