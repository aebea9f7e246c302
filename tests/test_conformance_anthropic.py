"""The anthropic SDK as the anthropic backend's oracle: every request body chatcli builds is one the SDK's
request types accept (where they lack a field chatcli sends, the test names it), and chatcli's stream reader and
the SDK's MessageStream read the same text, thinking, tool calls, stop reason and usage from the same bytes."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, get_type_hints

import httpx2
import pytest
from pydantic import TypeAdapter

from chatcli.backends.anthropic.client import AnthropicBackend
from chatcli.backends.anthropic.events import STOP_REASONS, read_events
from chatcli.backends.anthropic.request import count_tokens_body, messages_body
from chatcli.core.conversation import Message
from chatcli.core.errors import BackendError
from chatcli.core.stream import (
    BackendSettings,
    ChatRequest,
    ProviderItem,
    Reasoning,
    StreamInfo,
    ToolCallPiece,
    Usage,
)
from chatcli.core.turn import ToolCallAssembler
from tests.anthropic_stream import (
    anthropic_reply,
    block_start,
    error_event,
    event,
    message_end,
    message_start,
    text_block,
    thinking_block,
    tool_use_block,
)
from tests.openai_server import MESSAGES_COUNT_PATH, OpenAIServer, Reply, json_reply, stream_bytes
from tests.sdk_oracle import dropped, materialized

pytestmark = pytest.mark.e2e  # a local server


@dataclass(frozen=True, slots=True)
class RequestTypes:
    """The SDK's request types: a streamed message, a whole one, a token count; the keys a message declares."""

    streaming: TypeAdapter[Any]
    whole: TypeAdapter[Any]
    count: TypeAdapter[Any]
    known_keys: frozenset[str]


@functools.cache
def request_types() -> RequestTypes:
    """Imported when a test first needs them: the anthropic SDK takes 1.5 s of CPU to import, and every xdist
    worker collects this module, most of them running none of its tests."""
    from anthropic.types import message_count_tokens_params, message_create_params

    return RequestTypes(
        TypeAdapter(message_create_params.MessageCreateParamsStreaming),
        TypeAdapter(message_create_params.MessageCreateParamsNonStreaming),
        TypeAdapter(message_count_tokens_params.MessageCountTokensParams),
        frozenset(get_type_hints(message_create_params.MessageCreateParamsStreaming)),
    )


# Fields chatcli sends that the SDK's request types lack, named rather than skipped: the API takes
# `temperature`, but anthropic 2.x's types have no such field.
NOT_IN_SDK_TYPES = {"temperature"}
TOOL = {
    "type": "function",
    "function": {
        "name": "now",
        "description": "The time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}
CALLS = [{"id": "toolu_1", "type": "function", "function": {"name": "now", "arguments": '{"tz": "UTC"}'}}]
SIGNED = {"type": "thinking", "thinking": "The user wants the time.", "signature": "EqQBCgIYAhIM"}
PNG = "data:image/png;base64,iVBORw0KGgo="
PDF = "data:application/pdf;base64,JVBERi0xLjQK"


def conforms(body: dict[str, Any], adapter: TypeAdapter[Any]) -> None:
    """The body validates against the SDK's type and every key of it, at any depth, is one the type declares,
    but for the fields NOT_IN_SDK_TYPES names."""
    kept = materialized(adapter.validate_python(body))
    assert dropped(body, kept) <= NOT_IN_SDK_TYPES, dropped(body, kept) - NOT_IN_SDK_TYPES


REQUESTS = {
    "plain": ChatRequest([Message("user", "hi")], "claude-sonnet-4-5"),
    "system prompt and sampling": ChatRequest(
        [
            Message("system", "terse"),
            Message("user", "q"),
            Message("assistant", "a"),
            Message("user", "again"),
        ],
        "m",
        temperature=0.2,
        max_tokens=64,
    ),
    "tool round with results and thinking": ChatRequest(
        [
            Message("developer", "use tools"),
            Message("user", "time?"),
            Message(
                "assistant", None, extra={"tool_calls": CALLS, "provider_items": {"anthropic": [SIGNED]}}
            ),
            Message("tool", "12:00", extra={"tool_call_id": "toolu_1"}),
            Message("assistant", "It is noon.", extra={"provider_items": {"anthropic": [SIGNED]}}),
            Message("user", "thanks"),
        ],
        "m",
        tools=[TOOL],
        options={"thinking": {"type": "enabled", "budget_tokens": 2048}},
    ),
    "images and a pdf": ChatRequest(
        [
            Message(
                "user",
                [
                    {"type": "text", "text": "what is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": PNG, "detail": "high"},
                        "chatcli": {"name": "a.png"},
                    },
                    {
                        "type": "file",
                        "file": {"filename": "doc.pdf", "file_data": PDF},
                        "chatcli": {"name": "doc.pdf"},
                    },
                ],
            )
        ],
        "m",
    ),
    "options": ChatRequest(
        [Message("user", "list")],
        "m",
        options={"stop_sequences": ["\n\n"], "metadata": {"user_id": "u1"}, "service_tier": "auto"},
    ),
    "reasoning effort": ChatRequest([Message("user", "think")], "m", options={"reasoning_effort": "medium"}),
    "compacted": ChatRequest([Message("user", "summary of before"), Message("user", "go on")], "m"),
}


@pytest.mark.parametrize("cache", [True, False], ids=["cached", "uncached"])
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_request_body_is_one_the_sdk_accepts(
    server: OpenAIServer, name: str, stream: bool, cache: bool
) -> None:
    """As the backend sends them: the chat's body, streamed or not, and the token count's."""
    whole = {"type": "message", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn"}
    server.enqueue(anthropic_reply("ok") if stream else json_reply(200, whole))
    server.token_counts[MESSAGES_COUNT_PATH] = 1
    settings = BackendSettings(base_url=server.url, api_key="k", stream=stream, prompt_cache=cache)
    backend = AnthropicBackend(settings)
    assert "".join(piece for piece in backend.stream(REQUESTS[name]) if isinstance(piece, str)) == "ok"
    assert backend.count_prompt_tokens(REQUESTS[name]) == 1
    (sent,) = server.bodies
    (counted,) = [request.body for request in server.count_requests]
    assert sent == messages_body(REQUESTS[name], stream=stream, cache=cache)
    conforms(sent, request_types().streaming if stream else request_types().whole)
    assert counted == count_tokens_body(REQUESTS[name])
    conforms(counted, request_types().count)


def test_the_one_field_the_sdk_lacks_is_sent_and_named() -> None:
    body = messages_body(REQUESTS["system prompt and sampling"], stream=True, cache=True)
    assert body["temperature"] == 0.2
    assert "temperature" not in request_types().known_keys


def test_a_body_the_sdk_would_refuse_is_caught_by_the_oracle() -> None:
    """The check has teeth: a wrong type, a key the type lacks, or a block field it lacks fails it."""
    good = messages_body(REQUESTS["plain"], stream=True, cache=False)
    with pytest.raises(ValueError, match="max_tokens"):
        conforms({**good, "max_tokens": "many"}, request_types().streaming)
    with pytest.raises(AssertionError):
        conforms({**good, "max_output_tokens": 5}, request_types().streaming)
    block = {"type": "text", "text": "hi", "detail": "low"}
    with pytest.raises(AssertionError, match="detail"):
        conforms({**good, "messages": [{"role": "user", "content": [block]}]}, request_types().streaming)


# -- streams: chatcli's reader against the SDK's MessageStream ------------------------------------------------------

USAGE = {"output_tokens": 42, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 30}
STREAMS: dict[str, Reply] = {
    "text": anthropic_reply("Hello", " there", "."),
    "thinking": anthropic_reply("Noon.", thinking=("Let me", " think.")),
    "usage with the cache": anthropic_reply("Counted", usage=USAGE),
    "max tokens": anthropic_reply("Cut", " short", stop_reason="max_tokens"),
    "refusal": anthropic_reply("I can't", stop_reason="refusal"),
    "unicode split": anthropic_reply("h\u00e9", "\U0001f600", "\u4e2d\u6587"),
    "tool calls": Reply(
        body=[
            message_start(),
            *thinking_block(0, "Two", " calls."),
            *text_block(1, "Checking."),
            *tool_use_block(2, "toolu_1", "now", '{"tz": "UTC"}'),
            *tool_use_block(3, "toolu_2", "now", '{"tz": "Europe/Paris", "n": [1, 2]}', piece_chars=3),
            *message_end("tool_use", {"output_tokens": 80}),
        ]
    ),
    "redacted thinking, pings, crlf": Reply(
        body=[
            message_start({"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 0}),
            event({"type": "ping"}).replace(b"\n", b"\r\n"),
            block_start(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
            event({"type": "content_block_stop", "index": 0}),
            *text_block(1, "Fine."),
            *message_end("stop_sequence"),
        ]
    ),
}


def recorded(server: OpenAIServer, reply: Reply) -> bytes:
    """The stream as it came over HTTP from the test server."""
    server.enqueue(reply)
    with httpx2.stream("POST", f"{server.url}/messages", json={}) as response:
        data = response.read()
    assert data == stream_bytes(reply)
    return data


Answer = tuple[str, str, list[tuple[str, str, Any]], str | None, Usage | None]


def read_by_chatcli(data: bytes) -> tuple[Answer, list[ProviderItem]]:
    info = StreamInfo()
    text, thinking, items, calls = "", "", [], ToolCallAssembler()
    for piece in read_events(iter(data.splitlines(keepends=True)), info, None):
        if isinstance(piece, str):
            text += piece
        elif isinstance(piece, Reasoning):
            thinking += piece.text
        elif isinstance(piece, ToolCallPiece):
            calls.add(piece)
        else:
            items.append(piece)
    tools = [(call.id, call.name, json.loads(call.arguments or "{}")) for call in calls.calls()]
    return (text, thinking, tools, info.finish_reason, info.usage), items


def read_by_sdk(server: OpenAIServer, reply: Reply) -> tuple[Answer, list[dict[str, Any]]]:
    import anthropic

    server.enqueue(reply)
    client = anthropic.Anthropic(api_key="k", base_url=server.url.removesuffix("/v1"), max_retries=0)
    with client.messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        message = stream.get_final_message()
    text = "".join(block.text for block in message.content if block.type == "text")
    thinking = "".join(block.thinking for block in message.content if block.type == "thinking")
    tools = [(block.id, block.name, block.input) for block in message.content if block.type == "tool_use"]
    blocks = [block.to_dict() for block in message.content if block.type in ("thinking", "redacted_thinking")]
    usage = message.usage
    read, written = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
    stop = STOP_REASONS.get(message.stop_reason or "", message.stop_reason)
    total = Usage(usage.input_tokens + read + written, usage.output_tokens, read, written)
    return (text, thinking, tools, stop, total), blocks


@pytest.mark.parametrize("name", list(STREAMS))
def test_chatcli_and_the_sdk_read_the_same_answer_from_every_stream(server: OpenAIServer, name: str) -> None:
    ours, items = read_by_chatcli(recorded(server, STREAMS[name]))
    theirs, blocks = read_by_sdk(server, STREAMS[name])
    assert ours == theirs
    assert ours[0]  # each stream has text, so agreeing on "" would prove nothing
    # What chatcli keeps to send back is what the SDK's message holds: the thinking blocks, signed.
    assert [dict(item.data) for item in items] == blocks


def test_an_error_event_fails_both_with_the_server_s_message(server: OpenAIServer) -> None:
    import anthropic

    reply = Reply(
        body=[message_start(), event({"type": "ping"}), error_event("overloaded_error", "Overloaded")]
    )
    with pytest.raises(
        BackendError, match=r"^server reported an error mid-stream: Overloaded \(overloaded_error\)$"
    ):
        read_by_chatcli(recorded(server, reply))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        read_by_sdk(server, reply)
