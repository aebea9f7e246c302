"""The openai SDK as the oracle: chatcli no longer sends through it, so the tests check that every
request body chatcli sends is one the SDK's own request types accept, and that chatcli's event-stream reader
and the SDK's `Stream` read the same text, finish reason and usage from the test server's streams."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, get_type_hints

import httpx2
import pytest
from pydantic import TypeAdapter, ValidationError

from chatcli.backends.http.sse import read_lines
from chatcli.backends.openai.client import OpenAIBackend
from chatcli.backends.openai.events import read_events
from chatcli.core.conversation import Message
from chatcli.core.stream import BackendSettings, ChatRequest, StreamInfo, Usage
from tests.openai_server import OpenAIServer, Reply, chunk, json_reply, sse_event, sse_reply, stream_bytes
from tests.sdk_oracle import materialized

pytestmark = pytest.mark.e2e  # a local server


@dataclass(frozen=True, slots=True)
class RequestTypes:
    """The SDK's request types: streaming and whole, and the keys they declare."""

    streaming: TypeAdapter[Any]
    whole: TypeAdapter[Any]
    known_keys: frozenset[str]


@functools.cache
def request_types() -> RequestTypes:
    """Imported when a test first needs them: the openai SDK takes 0.6 s of CPU to import, and every xdist
    worker collects this module, most of them running none of its tests."""
    from openai.types.chat import completion_create_params as params

    return RequestTypes(
        TypeAdapter(params.CompletionCreateParamsStreaming),
        TypeAdapter(params.CompletionCreateParamsNonStreaming),
        frozenset(get_type_hints(params.CompletionCreateParamsStreaming)),
    )


REJECTION = {"error": {"message": "Unrecognized request argument supplied: stream_options"}}
TOOL = {
    "type": "function",
    "function": {
        "name": "now",
        "description": "The time",
        "parameters": {"type": "object", "properties": {}},
    },
}


def conforms(body: dict[str, Any]) -> None:
    """The body validates against the SDK's request type and has no key the SDK does not know."""
    types = request_types()
    assert set(body) <= types.known_keys, set(body) - types.known_keys
    materialized((types.streaming if body["stream"] else types.whole).validate_python(body))


REQUESTS = {
    "plain": ChatRequest([Message("user", "hi")], "gpt-4o-mini"),
    "conversation": ChatRequest(
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
    "options and tools": ChatRequest(
        [Message("developer", "be brief"), Message("user", "time?")],
        "m",
        options={"top_p": 0.5, "seed": 7, "stop": ["\n\n"], "reasoning_effort": "low"},
        tools=[TOOL],
    ),
    "unicode": ChatRequest([Message("user", "héllo \U0001f600 \x00")], "m"),
}


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_request_body_is_one_the_sdk_accepts(server: OpenAIServer, name: str, stream: bool) -> None:
    whole = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]
    }
    server.enqueue(sse_reply("ok") if stream else json_reply(200, whole))
    backend = OpenAIBackend(BackendSettings(base_url=server.url, api_key="k", stream=stream))
    assert "".join(str(piece) for piece in backend.stream(REQUESTS[name])) == "ok"
    (body,) = server.bodies
    conforms(body)
    assert ("stream_options" in body) == stream


def test_the_retry_without_stream_options_conforms_too(server: OpenAIServer) -> None:
    server.enqueue(json_reply(400, REJECTION), sse_reply("ok"))
    backend = OpenAIBackend(BackendSettings(base_url=server.url))
    assert "".join(str(piece) for piece in backend.stream(REQUESTS["plain"])) == "ok"
    for body in server.bodies:
        conforms(body)
    assert "stream_options" not in server.bodies[1]


def test_a_body_the_sdk_would_refuse_is_caught_by_the_oracle() -> None:
    """The check has teeth: a wrong type or an unknown key fails it."""
    with pytest.raises(ValidationError, match="temperature"):
        conforms({"model": "m", "messages": [], "stream": True, "temperature": "hot"})
    with pytest.raises(AssertionError):
        conforms({"model": "m", "messages": [], "stream": True, "max_output_tokens": 5})


# -- streams: chatcli's reader against the SDK's Stream ---------------------------------------------------------

USAGE = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
STREAMS: dict[str, Reply] = {
    "plain": sse_reply("Hello", " there", "."),
    "usage": sse_reply("Counted", usage=USAGE),
    "length": sse_reply("Cut", " short", finish_reason="length"),
    "unicode split": sse_reply("h\u00e9", "\U0001f600", "\u4e2d\u6587"),
    "reasoning, empty choices, null content": Reply(
        body=[
            sse_event({**chunk(), "choices": []}),
            sse_event(chunk(reasoning_content="thinking")),
            sse_event(
                {**chunk(), "choices": [{"index": 0, "delta": {"content": None}, "finish_reason": None}]}
            ),
            sse_event(chunk("Answer")),
            sse_event(chunk(finish_reason="stop")),
            sse_event({**chunk(), "choices": [], "usage": USAGE}),
            b"data: [DONE]\n\n",
        ]
    ),
    "crlf and comments": Reply(
        body=[
            b": keep-alive\r\n\r\n",
            b"data: " + json.dumps(chunk("a")).encode() + b"\r\n\r\n",
            b"event: message\r\ndata: " + json.dumps(chunk("b", finish_reason="stop")).encode() + b"\r\n\r\n",
            b"data: [DONE]\r\n\r\n",
        ]
    ),
}


def recorded(server: OpenAIServer, reply: Reply) -> bytes:
    """The stream as it came over HTTP from the test server."""
    server.enqueue(reply)
    with httpx2.stream("POST", f"{server.url}/chat/completions", json={}) as response:
        data = response.read()
    assert data == stream_bytes(reply)
    return data


def read_by_chatcli(data: bytes) -> tuple[str, str | None, Usage | None]:
    info = StreamInfo()
    pieces = read_events(read_lines(iter([data[:7], data[7:]])), info, None)
    return "".join(piece for piece in pieces if isinstance(piece, str)), info.finish_reason, info.usage


def read_by_sdk(data: bytes) -> tuple[str, str | None, Usage | None]:
    import openai
    from openai.types.chat import ChatCompletionChunk

    client = openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1")
    response = httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=data,
        request=httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions"),
    )
    text, finish, usage = "", None, None
    for part in openai.Stream(cast_to=ChatCompletionChunk, response=response, client=client):
        for choice in part.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        if part.usage is not None:
            usage = Usage(part.usage.prompt_tokens, part.usage.completion_tokens)
    return text, finish, usage


@pytest.mark.parametrize("name", list(STREAMS))
def test_chatcli_and_the_sdk_read_the_same_answer_from_every_stream(server: OpenAIServer, name: str) -> None:
    data = recorded(server, STREAMS[name])
    ours = read_by_chatcli(data)
    assert ours == read_by_sdk(data)
    assert ours[0]  # each stream has text, so agreeing on "" would prove nothing
