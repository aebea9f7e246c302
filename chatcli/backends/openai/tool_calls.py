"""Assembling the model's tool calls from the pieces a stream sends (`delta.tool_calls`), and reading them
from a whole (non-streamed) answer.

A call's id and name come in its first piece, its JSON arguments in any number of pieces after; parallel
calls are told apart by `index` (servers that omit it start a new call with a new id). Anything of the wrong
shape raises ValueError or TypeError, which the client reports as malformed stream data.
"""

from __future__ import annotations

from typing import Any

from chatcli.core.stream import ToolCall

MAX_CALLS = 128  # per answer
MAX_ARGUMENT_CHARS = 1024 * 1024  # per call


def add_tool_call_pieces(calls: list[ToolCall], pieces: Any, indices: dict[int, ToolCall]) -> None:
    """Fold one delta's `tool_calls` list into `calls`; `indices` maps each stream index to its call."""
    if pieces is None:
        return
    if not isinstance(pieces, list):
        raise TypeError("tool_calls is not a list")
    for piece in pieces:
        if not isinstance(piece, dict):
            raise TypeError("a tool call piece is not an object")
        call = _call_for(calls, piece, indices)
        function = piece.get("function") or {}
        if not isinstance(function, dict):
            raise TypeError("a tool call's function is not an object")
        if name := function.get("name"):
            call.name = _text(name)
        if arguments := function.get("arguments"):
            call.arguments += arguments if isinstance(arguments, str) else _json_text(arguments)
            if len(call.arguments) > MAX_ARGUMENT_CHARS:
                raise ValueError("tool call arguments too long")


def whole_tool_calls(message: Any) -> list[ToolCall]:
    """The tool calls of a whole answer's `message` (`--no-stream`, or a server that does not stream)."""
    calls: list[ToolCall] = []
    if isinstance(message, dict) and message.get("tool_calls"):
        add_tool_call_pieces(calls, message["tool_calls"], {})
    return calls


def _call_for(calls: list[ToolCall], piece: dict[str, Any], indices: dict[int, ToolCall]) -> ToolCall:
    index, call_id = piece.get("index"), piece.get("id")
    if index is not None and not (isinstance(index, int) and not isinstance(index, bool)):
        raise TypeError("a tool call index is not an integer")
    call = indices.get(index) if index is not None else (calls[-1] if calls else None)
    if call is None or (call_id and call.id and call_id != call.id):  # a new call
        if len(calls) >= MAX_CALLS:
            raise ValueError("too many tool calls")
        call = ToolCall()
        calls.append(call)
        if index is not None:
            indices[index] = call
    if call_id:
        call.id = _text(call_id)
    return call


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise TypeError("a tool call id or name is not a short string")
    return value


def _json_text(value: Any) -> str:
    import json

    if not isinstance(value, dict):
        raise TypeError("tool call arguments are neither JSON text nor an object")
    return json.dumps(value)
