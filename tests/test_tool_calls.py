"""Streamed tool calls: the pieces servers send (backends/openai/tool_calls.py) assembled by the turn
(core/turn.py's ToolCallAssembler)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from chatcli.backends.openai.events import read_events
from chatcli.backends.openai.tool_calls import ToolCallPieces, whole_tool_calls
from chatcli.core.stream import StreamInfo, ToolCall, ToolCallPiece
from chatcli.core.turn import MAX_TOOL_CALLS, ToolCallAssembler
from tests.openai_server import tool_calls_reply


def assembled(*deltas: list[object]) -> list[ToolCall]:
    """The calls the turn assembles from these deltas' `tool_calls`, read as one stream."""
    reader, assembler = ToolCallPieces(), ToolCallAssembler()
    for delta in deltas:
        for piece in reader.read(delta):
            assembler.add(piece)
    return assembler.calls()


def assemble(pieces: Iterable[object]) -> list[ToolCall]:
    assembler = ToolCallAssembler()
    for piece in pieces:
        assert isinstance(piece, ToolCallPiece)
        assembler.add(piece)
    return assembler.calls()


def test_arguments_arriving_in_pieces_are_joined() -> None:
    calls = assembled(
        [{"index": 0, "id": "c1", "type": "function", "function": {"name": "notes__add", "arguments": ""}}],
        [{"index": 0, "function": {"arguments": '{"a": '}}],
        [{"index": 0, "function": {"arguments": "2, "}}],
        [{"index": 0, "function": {"arguments": '"b": 3}'}}],
    )
    assert calls == [ToolCall("c1", "notes__add", '{"a": 2, "b": 3}')]


def test_parallel_calls_interleaved_by_index_stay_apart() -> None:
    calls = assembled(
        [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"x"'}}],
        [{"index": 1, "id": "c2", "function": {"name": "g", "arguments": '{"y"'}}],
        [{"index": 1, "function": {"arguments": ": 2}"}}, {"index": 0, "function": {"arguments": ": 1}"}}],
    )
    assert calls == [ToolCall("c1", "f", '{"x": 1}'), ToolCall("c2", "g", '{"y": 2}')]


def test_servers_without_an_index_start_a_new_call_with_each_new_id() -> None:
    calls = assembled(
        [{"id": "a", "function": {"name": "f", "arguments": "{}"}}],
        [{"id": "b", "function": {"name": "g", "arguments": "{"}}],
        [{"function": {"arguments": "}"}}],
    )
    assert calls == [ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}")]


def test_arguments_given_as_an_object_become_json_text() -> None:
    assert assemble(
        whole_tool_calls({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": {"x": 1}}}]})
    ) == [ToolCall("a", "f", '{"x": 1}')]
    assert whole_tool_calls({"content": "hi"}) == []


@pytest.mark.parametrize(
    "delta",
    [
        "not a list",
        ["not an object"],
        [{"index": "0", "function": {"arguments": "{}"}}],
        [{"index": 0, "id": 7, "function": {}}],
        [{"index": 0, "function": "f"}],
        [{"index": 0, "function": {"arguments": 3}}],
    ],
)
def test_tool_calls_of_the_wrong_shape_are_refused(delta: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        assembled(delta)  # type: ignore[arg-type]


def test_more_calls_than_the_bound_are_refused() -> None:
    assembler = ToolCallAssembler()
    for index in range(MAX_TOOL_CALLS):
        assembler.add(ToolCallPiece(index, f"c{index}", "f", "{}"))
    with pytest.raises(ValueError, match="more than 128 tool calls"):
        assembler.add(ToolCallPiece(MAX_TOOL_CALLS, "one-more", "f", "{}"))


def test_unknown_fields_of_a_call_are_kept_and_sent_back() -> None:
    signature = {"google": {"thought_signature": "c2ln"}}
    calls = assembled(
        [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}, "extra_content": signature}],
        [{"index": 0, "function": {"arguments": "}"}}],
    )
    assert calls == [ToolCall("c1", "f", "{}", {"extra_content": signature})]
    assert calls[0].to_api() == {
        "extra_content": signature,
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }


def test_the_event_reader_fills_stream_info_with_the_calls() -> None:
    reply = tool_calls_reply(
        ("c1", "notes__add", '{"a": 2, "b": 3}'), ("c2", "notes__read_note", '{"name": "n"}')
    )
    lines = [line + b"\n" for piece in reply.body for line in piece.split(b"\n")]
    info = StreamInfo()
    pieces = list(read_events(iter(lines), info, None))
    assert all(isinstance(piece, ToolCallPiece) for piece in pieces)
    assert info.finish_reason == "tool_calls"
    assert assemble(pieces) == [
        ToolCall("c1", "notes__add", '{"a": 2, "b": 3}'),
        ToolCall("c2", "notes__read_note", '{"name": "n"}'),
    ]
