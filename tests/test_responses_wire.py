"""The responses backend's own rules, without a server: which requests ask for reasoning, what llama.cpp's
server leaves out of its streams, malformed data, error events and whole responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chatcli.backends.responses.client import ResponsesBackend
from chatcli.backends.responses.events import read_events, read_response
from chatcli.backends.responses.request import responses_body
from chatcli.core.conversation import Message
from chatcli.core.errors import BackendError, PartialAnswer
from chatcli.core.stream import (
    BackendSettings,
    ChatRequest,
    Piece,
    ProviderItem,
    Reasoning,
    StreamInfo,
    ToolCallPiece,
    Usage,
)
from tests.openai_server import RESPONSES_COUNT_PATH, OpenAIServer
from tests.responses_streams import ResponseStream, llama_stream

KEY = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"


def data_lines(data: bytes) -> Iterator[bytes]:
    for line in data.splitlines():
        if line.startswith(b"data: "):
            yield line[6:]


def read(data: bytes, warnings: list[str] | None = None) -> tuple[list[Piece], StreamInfo]:
    info = StreamInfo()
    warn = (warnings if warnings is not None else []).append
    return list(read_events(data_lines(data), info, KEY, warn)), info


def events(*objects: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(item).encode() + b"\n\n" for item in objects)


@pytest.mark.parametrize(
    ("model", "options", "shown", "reasoning"),
    [
        ("gpt-4o", {}, True, None),  # OpenAI answers 400 to `reasoning` for it
        ("gpt-5-chat-latest", {}, True, None),
        ("o3", {}, False, {}),
        ("o4-mini", {}, True, {"summary": "auto"}),
        ("openai/gpt-5.1", {}, True, {"summary": "auto"}),
        ("gpt-4o", {"reasoning_effort": "low"}, False, {"effort": "low"}),
        (
            "tiny",
            {"reasoning": {"effort": "high", "summary": "detailed"}},
            True,
            {"effort": "high", "summary": "detailed"},
        ),
    ],
)
def test_reasoning_is_asked_for_only_where_the_model_takes_it(
    model: str, options: dict[str, Any], shown: bool, reasoning: dict[str, Any] | None
) -> None:
    body = responses_body(
        ChatRequest([Message("user", "hi")], model, options=options, reasoning_shown=shown), stream=True
    )
    assert body.get("reasoning") == (reasoning or None)
    assert body.get("include") == (None if reasoning is None else ["reasoning.encrypted_content"])
    assert "reasoning_effort" not in body


def test_llama_cpp_stream_without_indexes_reads_once_each() -> None:
    pieces, info = read(llama_stream("Hel", "lo", reasoning="hmm", call=("now", '{"a":1}')))
    assert [piece for piece in pieces if isinstance(piece, str)] == ["Hel", "lo"]
    assert [piece for piece in pieces if isinstance(piece, Reasoning)] == [Reasoning(c) for c in "hmm"]
    assert [piece for piece in pieces if isinstance(piece, ToolCallPiece)] == [
        ToolCallPiece(0, "call_x", "now", ""),
        ToolCallPiece(0, arguments='{"a":1}'),
    ]
    (kept,) = [piece for piece in pieces if isinstance(piece, ProviderItem)]
    assert kept.data["content"] == [{"text": "hmm", "type": "reasoning_text"}]
    assert (info.finish_reason, info.usage, info.model) == ("tool_calls", Usage(9, 5), "tiny")


def test_what_only_done_events_carry_is_read_from_them() -> None:
    message = {
        "type": "message",
        "id": "m",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "All"}],
    }
    call = {"type": "function_call", "id": "f", "call_id": "c", "name": "now", "arguments": "{}"}
    reasoning = {
        "type": "reasoning",
        "id": "r",
        "summary": [],
    }  # neither encrypted nor plain: nothing to keep
    done = [{"type": "response.output_item.done", "item": item} for item in (reasoning, message, call)]
    pieces, info = read(events(*done, {"type": "response.completed", "response": {"status": "completed"}}))
    assert pieces == ["All", ToolCallPiece(0, "c", "now", "{}")]
    assert info.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "response.output_text.delta", "delta": 7},
        {"type": "response.output_item.added", "item": "call"},
        {"type": "response.function_call_arguments.delta", "delta": "{}"},  # of no call
        {"type": "response.completed", "response": {"status": 3}},
        {"type": ["response.completed"]},
        {"no": "type"},
        {"type": "response.output_text.delta", "delta": "\ud800"},  # a lone surrogate cannot be printed
    ],
)
def test_malformed_data_fails_in_one_line_keeping_the_text(bad: dict[str, Any]) -> None:
    text = {"type": "response.output_text.delta", "delta": "Kept"}
    with pytest.raises(PartialAnswer) as partial:
        read(events(text, bad))
    with pytest.raises(BackendError) as failed:
        read(events(bad))
    assert str(partial.value) == str(failed.value) == "server sent malformed stream data"
    assert type(failed.value) is BackendError  # nothing reached the user: it may be retried


def test_a_stream_that_ends_before_its_response_is_done_fails() -> None:
    with pytest.raises(PartialAnswer, match="the answer ended early"):
        read(events({"type": "response.output_text.delta", "delta": "Half"}))


def test_an_error_event_is_one_redacted_line() -> None:
    stream = ResponseStream().error(f"Incorrect key {KEY}\nsee the docs", code="invalid_api_key")
    with pytest.raises(BackendError) as raised:
        read(stream.bytes())
    assert str(raised.value) == "server reported an error mid-stream: Incorrect key [redacted] see the docs"


def test_usage_chatcli_cannot_read_is_dropped_with_a_warning() -> None:
    warnings: list[str] = []
    _, info = read(ResponseStream().message("ok").completed(usage={"input_tokens": -1}).bytes(), warnings)
    assert info.usage is None and info.finish_reason == "stop"
    assert warnings == ["warning: the server reported token usage chatcli cannot read; ignored"]


def test_a_whole_response_reads_like_its_stream() -> None:
    stream = ResponseStream().reasoning(["Think", "ing"], ["More"]).message("Answer").completed()
    response = stream.events[-1]["response"]
    info = StreamInfo()
    pieces = read_response(json.dumps(response).encode(), info)
    assert pieces == [Reasoning("Thinking\n\nMore"), ProviderItem("responses", stream.output[0]), "Answer"]
    assert info.finish_reason == "stop" and info.usage == Usage(31, 45, 12, 3, 20)
    assert read_response(b'{"choices": []}', StreamInfo()) is None


def test_the_prompt_is_counted_by_the_servers_input_tokens_or_not_at_all(server: OpenAIServer) -> None:
    backend = ResponsesBackend(BackendSettings(base_url=server.url, api_key="k"))
    request = ChatRequest([Message("system", "be brief"), Message("user", "hi")], "gpt-5", 0.2, 40)
    server.token_counts[RESPONSES_COUNT_PATH] = 17
    assert backend.count_prompt_tokens(request) == 17
    (counted,) = server.count_requests
    assert counted.body["instructions"] == "be brief" and counted.body["model"] == "gpt-5"
    assert not {"stream", "store", "max_output_tokens", "temperature"} & set(counted.body)
    server.count_errors[RESPONSES_COUNT_PATH] = 404  # a server without the counter
    assert backend.count_prompt_tokens(request) is None
    server.count_errors[RESPONSES_COUNT_PATH] = 500  # or one that fails: never an error, only no count
    assert backend.count_prompt_tokens(request) is None
