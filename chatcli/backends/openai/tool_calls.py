"""The model's tool calls as chat completions send them (`delta.tool_calls`, or a whole answer's
`message.tool_calls`), turned into `ToolCallPiece`s that the turn assembles.

A call's id and name come in its first piece, its JSON arguments in any number of pieces after; parallel
calls are told apart by `index` (servers that omit it start a new call with a new id). Fields chatcli does
not know (Gemini's `extra_content`) are kept with the call, which sends them back. Anything of the wrong
shape raises ValueError or TypeError, which the client reports as malformed stream data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatcli.core.stream import ToolCallPiece

_KNOWN_FIELDS = frozenset({"index", "id", "type", "function"})


class ToolCallPieces:
    """Reads one answer's tool-call deltas; numbers its calls 0, 1, … in the order they start."""

    def __init__(self) -> None:
        self._by_index: dict[int, int] = {}  # the server's index → ours
        self._ids: list[str] = []  # each call's id, by our index

    def read(self, deltas: Any) -> Iterator[ToolCallPiece]:
        """The pieces of one delta's `tool_calls` list (None: none)."""
        if deltas is None:
            return
        if not isinstance(deltas, list):
            raise TypeError("tool_calls is not a list")
        for delta in deltas:
            if not isinstance(delta, dict):
                raise TypeError("a tool call piece is not an object")
            function = delta.get("function") or {}
            if not isinstance(function, dict):
                raise TypeError("a tool call's function is not an object")
            extra = {key: value for key, value in delta.items() if key not in _KNOWN_FIELDS}
            yield ToolCallPiece(
                self._index_of(delta),
                _text(delta.get("id") or ""),
                _text(function.get("name") or ""),
                _arguments(function.get("arguments")),
                extra or None,
            )

    def _index_of(self, delta: dict[str, Any]) -> int:
        index, call_id = delta.get("index"), delta.get("id")
        if index is not None and not (isinstance(index, int) and not isinstance(index, bool)):
            raise TypeError("a tool call index is not an integer")
        ours = self._by_index.get(index) if index is not None else (len(self._ids) - 1 if self._ids else None)
        if ours is None or (call_id and self._ids[ours] and call_id != self._ids[ours]):  # a new call
            ours = len(self._ids)
            self._ids.append("")
            if index is not None:
                self._by_index[index] = ours
        if call_id:
            self._ids[ours] = _text(call_id)
        return ours


def whole_tool_calls(message: Any) -> list[ToolCallPiece]:
    """The tool calls of a whole answer's `message` (`--no-stream`, or a server that does not stream)."""
    if isinstance(message, dict) and message.get("tool_calls"):
        return list(ToolCallPieces().read(message["tool_calls"]))
    return []


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise TypeError("a tool call id or name is not a short string")
    return value


def _arguments(value: Any) -> str:
    if not value or isinstance(value, str):
        return value or ""
    import json

    if not isinstance(value, dict):
        raise TypeError("tool call arguments are neither JSON text nor an object")
    return json.dumps(value)
