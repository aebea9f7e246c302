"""Ollama's official Python client (`ollama`, test-only) as the oracle for the ollama wire: every body chatcli
builds is one the client sends unchanged when handed the same request (its pydantic types drop what they do
not know, so a field Ollama does not take shows as a difference), and every documented stream
(tests/ollama_streams.py) is read by both into the same text, thinking, tool calls, finish reason and usage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatcli.backends.ollama.client import OllamaBackend
from chatcli.core.conversation import Message
from chatcli.core.errors import PartialAnswer
from chatcli.core.stream import BackendSettings, ChatRequest, Reasoning, StreamInfo, ToolCallPiece, Usage
from tests import ollama_streams as docs
from tests.openai_server import OpenAIServer, Reply
from tests.test_ollama_wire import PNG, TOOL

pytestmark = pytest.mark.e2e  # a local server
CALL = {
    "id": "call_0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Toronto"}'},
}
SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
IMAGE = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}

REQUESTS: dict[str, tuple[ChatRequest, dict[str, Any]]] = {
    "plain": (ChatRequest([Message("user", "why is the sky blue?")], "llama3.2"), {}),
    "system prompt and history": (
        ChatRequest(
            [
                Message("system", "terse"),
                Message("user", "why is the sky blue?"),
                Message("assistant", "due to rayleigh scattering."),
                Message("user", "how is that different than mie scattering?"),
            ],
            "llama3.2",
        ),
        {},
    ),
    "a tool round with results": (
        ChatRequest(
            [
                Message("user", "what is the weather in Toronto?"),
                Message("assistant", None, extra={"tool_calls": [CALL]}, reasoning="I should look it up"),
                Message("tool", "11 degrees celsius", extra={"tool_call_id": "call_0"}),
            ],
            "llama3.2",
            tools=[TOOL],
        ),
        {},
    ),
    "images": (
        ChatRequest(
            [Message("user", [{"type": "text", "text": "what is in this image?"}, IMAGE, IMAGE])], "llava"
        ),
        {},
    ),
    "options, format and keep_alive": (
        ChatRequest(
            [Message("user", "Ollama is 22 years old. Return JSON.")],
            "llama3.1",
            temperature=0.0,
            max_tokens=100,
            options={
                "seed": 42,
                "top_k": 20,
                "top_p": 0.9,
                "stop": "\n\n",
                "response_format": {"type": "json_schema", "json_schema": {"name": "age", "schema": SCHEMA}},
            },
        ),
        {"context_window": 16384, "keep_alive": "-1"},
    ),
    "reasoning on": (
        ChatRequest([Message("user", "What is 17 × 23?")], "qwen3", reasoning_shown=True),
        {},
    ),
    "a thinking level": (ChatRequest([Message("user", "q")], "gpt-oss", options={"think": "high"}), {}),
}


def chatcli_body(server: OpenAIServer, name: str) -> dict[str, Any]:
    """The body the ollama backend sends for the request (/api/show says the model can think)."""
    request, settings = REQUESTS[name]
    server.ollama_show = docs.show(["completion", "tools", "thinking"])
    server.enqueue(docs.ndjson_reply("ok"))
    backend = OllamaBackend(BackendSettings(base_url=server.url, **settings))
    assert "".join(str(piece) for piece in backend.stream(request)) == "ok"
    sent: dict[str, Any] = server.bodies[-1]
    return sent


def sdk_body(server: OpenAIServer, ours: dict[str, Any]) -> dict[str, Any]:
    """What the client sends for the same request, each field handed to it as chatcli built it."""
    import ollama  # the client only when a test runs: every xdist worker collects this module

    server.enqueue(docs.ndjson_reply("ok"))
    client = ollama.Client(host=server.url.removesuffix("/v1"))
    list(
        client.chat(
            model=ours["model"],
            messages=ours["messages"],
            tools=ours.get("tools"),
            stream=ours["stream"],
            think=ours.get("think"),
            format=ours.get("format"),
            options=ours.get("options"),
            keep_alive=ours.get("keep_alive"),
        )
    )
    sent: dict[str, Any] = server.bodies[-1]
    assert server.requests[-1].path == "/api/chat"
    if sent.get("tools") == []:  # the client sends an empty list for no tools; chatcli leaves the key out
        del sent["tools"]
    return sent


def without_empty_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The client leaves a message's empty fields out (`content: ""` beside tool calls); so may chatcli."""
    return {**body, "messages": [{key: value for key, value in m.items() if value} for m in body["messages"]]}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_body_is_one_the_official_client_sends_unchanged(server: OpenAIServer, name: str) -> None:
    import ollama

    ours = chatcli_body(server, name)
    assert sdk_body(server, ours) == without_empty_fields(ours)
    request = REQUESTS[name][0]
    assert ("think" in ours) == (request.reasoning_shown or "think" in request.options)
    options = ours.get("options", {})
    unknown = set(options) - set(ollama.Options.model_fields)
    assert not unknown, f"options the client's Options type does not know: {unknown}"
    ollama.Options.model_validate(options)


def test_the_oracle_catches_a_field_ollama_does_not_take(server: OpenAIServer) -> None:
    """The check has teeth: a message field outside Ollama's Message is dropped by the client."""
    ours = chatcli_body(server, "plain")
    ours["messages"][0]["name"] = "alice"
    assert sdk_body(server, ours) != ours


# -- streams: chatcli's reader against the client's ----------------------------------------------------------

Read = tuple[str, str, list[tuple[str, dict[str, Any]]], str | None, Usage | None]


def read_by_chatcli(server: OpenAIServer, reply: Reply) -> Read:
    """The answer as the ollama backend reads it from the server."""
    server.enqueue(reply)
    backend = OllamaBackend(BackendSettings(base_url=server.url))
    stream = backend.stream(ChatRequest([Message("user", "hi")], "llama3.2"))
    pieces = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as end:
            info: StreamInfo = end.value
            break
    text = "".join(piece for piece in pieces if isinstance(piece, str))
    thinking = "".join(piece.text for piece in pieces if isinstance(piece, Reasoning))
    calls = [
        (piece.name, json.loads(piece.arguments)) for piece in pieces if isinstance(piece, ToolCallPiece)
    ]
    return text, thinking, calls, info.finish_reason, info.usage


def read_by_sdk(server: OpenAIServer, reply: Reply) -> Read:
    import ollama

    server.enqueue(reply)
    client = ollama.Client(host=server.url.removesuffix("/v1"))
    parts = list(client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True))
    text = "".join(part.message.content or "" for part in parts)
    thinking = "".join(part.message.thinking or "" for part in parts)
    calls = [
        (call.function.name, dict(call.function.arguments))
        for part in parts
        for call in part.message.tool_calls or []
    ]
    last = parts[-1]
    assert last.done
    usage = Usage(last.prompt_eval_count or 0, last.eval_count or 0)
    return text, thinking, calls, last.done_reason or "stop", usage  # an older server's final object has none


@pytest.mark.parametrize("name", list(docs.STREAMS))
def test_chatcli_and_the_client_read_the_same_answer_from_every_documented_stream(
    server: OpenAIServer, name: str
) -> None:
    reply = docs.STREAMS[name]
    ours = read_by_chatcli(server, reply)
    assert ours == read_by_sdk(server, reply)
    assert ours[0] or ours[2]  # each stream has text or calls, so agreeing on nothing would prove nothing


def test_both_stop_at_an_error_line_with_its_message(server: OpenAIServer) -> None:
    import ollama

    with pytest.raises(ollama.ResponseError) as theirs:
        read_by_sdk(server, docs.ERROR)
    with pytest.raises(PartialAnswer) as ours:
        read_by_chatcli(server, docs.ERROR)
    assert str(ours.value) == f"server reported an error mid-stream: {theirs.value.error}"
