"""The openai SDK as the oracle of the responses backend: every body chatcli sends validates against the SDK's
`ResponseCreateParamsStreaming`, and chatcli and the SDK's `responses.stream` read the same text, reasoning
summary, function calls, status and usage from every documented stream."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args, get_type_hints

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatcli.backends.responses.events import read_events
from chatcli.backends.responses.request import responses_body
from chatcli.core.conversation import Message
from chatcli.core.errors import BackendError
from chatcli.core.stream import ChatRequest, ProviderItem, Reasoning, StreamInfo, ToolCallPiece, Usage
from tests.openai_server import OpenAIServer
from tests.responses_streams import ResponseStream
from tests.sdk_oracle import materialized

pytestmark = pytest.mark.e2e  # a local server


@dataclass(frozen=True, slots=True)
class SdkTypes:
    """The SDK's streaming request type and the keys it declares; each stream event's model, by its `type`."""

    streaming: TypeAdapter[Any]
    known_keys: frozenset[str]
    event_models: dict[str, type[BaseModel]]


@functools.cache
def sdk_types() -> SdkTypes:
    """Imported when a test first needs them: the openai SDK takes 0.6 s of CPU to import, and every xdist
    worker collects this module, most of them running none of its tests."""
    from openai.types.responses import ResponseStreamEvent, response_create_params

    return SdkTypes(
        TypeAdapter(response_create_params.ResponseCreateParamsStreaming),
        frozenset(get_type_hints(response_create_params.ResponseCreateParamsStreaming)),
        # the SDK's union is discriminated by its own means, not pydantic's
        {
            get_args(model.model_fields["type"].annotation)[0]: model
            for model in get_args(get_args(ResponseStreamEvent)[0])
        },
    )


# What the SDK's types require and chatcli leaves out, on purpose: a reasoning item's `id`. With `store: false`
# an id makes OpenAI look for a stored item and fail; the encrypted content is the whole item (OpenAI's Codex
# CLI sends reasoning items without ids too). The check puts one in, and checks everything else.
OMITTED = {"reasoning": {"id": "rs_omitted_by_chatcli"}}
TOOL = {
    "type": "function",
    "function": {
        "name": "now",
        "description": "The time",
        "parameters": {"type": "object", "properties": {}},
    },
}
PNG = "data:image/png;base64,iVBORw0KGgo="
PDF = "data:application/pdf;base64,JVBERi0xLjQK"
CALL = {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": SCHEMA}}
KEPT_REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "**Time** I need the time."}],
    "encrypted_content": "gAAAA-opaque",
    "status": "completed",
}


def conforms(body: dict[str, Any]) -> None:
    """The body validates against the SDK's request type and has no key the SDK does not know."""
    types = sdk_types()
    assert set(body) <= types.known_keys, set(body) - types.known_keys
    items = [{**OMITTED.get(item.get("type"), {}), **item} for item in body["input"]]
    materialized(types.streaming.validate_python({**body, "input": items}))


REQUESTS = {
    "plain": ChatRequest([Message("user", "hi")], "gpt-4o-mini"),
    "system prompt and a conversation": ChatRequest(
        [
            Message("system", "terse"),
            Message("user", "q"),
            Message("assistant", "a"),
            Message("developer", "be brief"),
            Message("user", "again"),
        ],
        "gpt-4.1",
        temperature=0.2,
        max_tokens=64,
    ),
    "a tool round with results": ChatRequest(
        [
            Message("user", "time?"),
            Message("assistant", None, extra={"tool_calls": [CALL]}),
            Message("tool", "12:00", extra={"tool_call_id": "call_1"}),
        ],
        "gpt-4.1",
        tools=[TOOL],
    ),
    "an image and a PDF": ChatRequest(
        [
            Message(
                "user",
                [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": PNG}, "chatcli": {"name": "a.png"}},
                    {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                    {
                        "type": "file",
                        "file": {"filename": "doc.pdf", "file_data": PDF},
                        "chatcli": {"name": "d"},
                    },
                ],
            )
        ],
        "gpt-4.1",
    ),
    "options": ChatRequest(
        [Message("user", "hi")],
        "gpt-4.1",
        options={"top_p": 0.5, "service_tier": "flex", "text": {"verbosity": "low"}, "store": True},
    ),
    "--schema's response_format": ChatRequest(
        [Message("user", "hi")],
        "gpt-4.1",
        options={"response_format": SCHEMA_FORMAT, "text": {"verbosity": "low"}},
    ),
    "reasoning shown, in a tool loop": ChatRequest(
        [
            Message("system", "terse"),
            Message("user", "time?"),
            Message(
                "assistant",
                None,
                extra={"tool_calls": [CALL], "provider_items": {"responses": [KEPT_REASONING]}},
            ),
            Message("tool", "12:00", extra={"tool_call_id": "call_1"}),
        ],
        "o4-mini",
        options={"reasoning_effort": "high"},
        tools=[TOOL],
        reasoning_shown=True,
    ),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_request_body_is_one_the_sdk_accepts(name: str) -> None:
    body = responses_body(REQUESTS[name], stream=True)
    conforms(body)
    assert body["stream"] is True
    assert body["store"] is (name == "options")  # -O store=true is the user's to send


def test_the_reasoning_body_asks_for_summaries_and_encrypted_reasoning_and_sends_it_back() -> None:
    body = responses_body(REQUESTS["reasoning shown, in a tool loop"], stream=True)
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["instructions"] == "terse"
    assert [item["type"] for item in body["input"]] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert body["input"][1] == {
        "type": "reasoning",
        "summary": KEPT_REASONING["summary"],
        "encrypted_content": "gAAAA-opaque",
    }
    assert body["input"][2] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "now",
        "arguments": "{}",
    }
    assert body["input"][3] == {"type": "function_call_output", "call_id": "call_1", "output": "12:00"}
    assert body["tools"] == [
        {
            "type": "function",
            "name": "now",
            "description": "The time",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]


def test_schema_output_is_asked_as_the_text_format() -> None:
    body = responses_body(REQUESTS["--schema's response_format"], stream=True)
    assert "response_format" not in body
    assert body["text"] == {
        "verbosity": "low",
        "format": {"type": "json_schema", "name": "answer", "strict": True, "schema": SCHEMA},
    }


def test_a_body_the_sdk_would_refuse_is_caught_by_the_oracle() -> None:
    """The check has teeth: a wrong type, a content part of the wrong kind or an unknown key fails it."""
    good = responses_body(REQUESTS["an image and a PDF"], stream=True)
    with pytest.raises(ValidationError, match="temperature"):
        conforms({**good, "temperature": "hot"})
    image = {"type": "input_image", "image_url": PNG}  # without its `detail`
    with pytest.raises(ValidationError):
        conforms({**good, "input": [{"type": "message", "role": "user", "content": [image]}]})
    with pytest.raises(ValidationError):
        conforms({**good, "input": [{"type": "reasoning", "summary": [{"text": "no type"}]}]})
    with pytest.raises(AssertionError):
        conforms({**good, "max_tokens": 5})


# -- streams: chatcli's reader against the SDK's responses.stream ------------------------------------------------

STREAMS: dict[str, ResponseStream] = {
    "text": ResponseStream().message("Hello", " there", ", \u00e9\U0001f600.").completed(),
    "reasoning, then text": ResponseStream()
    .reasoning(["**Plan**", " Say hi."], ["**Check** ", "Done."])
    .message("Hi", "!")
    .completed(),
    "function calls": ResponseStream()
    .reasoning(["Need the time."])
    .function_call("now", '{"zone"', ': "UTC"}', call_id="call_a")
    .function_call("later", "{}", call_id="call_b")
    .completed(),
    "cut at the token limit": ResponseStream().message("Cut", " short").incomplete("max_output_tokens"),
    "content filter": ResponseStream().message("Well").incomplete("content_filter"),
    "no usage": ResponseStream(model="gpt-5").message("Fine").completed(usage=None),
}


def recorded(server: OpenAIServer, stream: ResponseStream) -> bytes:
    """The stream's bytes, every event checked against the SDK's event types."""
    for event in stream.events:
        sdk_types().event_models[event["type"]].model_validate(event)
    return stream.bytes()


def data_lines(data: bytes) -> Iterator[bytes]:
    """Each event's data: what read_events takes."""
    for line in data.splitlines():
        if line.startswith(b"data: "):
            yield line[6:]


Answer = tuple[str, str, list[tuple[str, str, str]], str | None, Usage | None]


def read_by_chatcli(data: bytes) -> tuple[Answer, list[ProviderItem]]:
    info = StreamInfo()
    text, reasoning, items = "", "", []
    calls: dict[int, list[str]] = {}
    for piece in read_events(data_lines(data), info, None):
        if isinstance(piece, str):
            text += piece
        elif isinstance(piece, Reasoning):
            reasoning += piece.text
        elif isinstance(piece, ToolCallPiece):
            call = calls.setdefault(piece.index, ["", "", ""])
            call[0] = piece.id or call[0]
            call[1] = piece.name or call[1]
            call[2] += piece.arguments
        else:
            items.append(piece)
    found = [(call_id, name, arguments) for call_id, name, arguments in calls.values()]
    return (text, reasoning, found, info.finish_reason, info.usage), items


def read_by_sdk(server: OpenAIServer, stream: ResponseStream) -> Answer:
    import openai

    server.enqueue(stream.reply())
    client = openai.OpenAI(api_key="k", base_url=server.url, max_retries=0)
    with client.responses.stream(model="gpt-test", input="hi") as events:
        # the accumulator's response for a completed stream; the SDK leaves an incomplete one to its event
        ended = [event.response for event in events if event.type == "response.incomplete"]
        final = ended[0] if ended else events.get_final_response()
    reasoning = "".join(
        "\n\n".join(part.text for part in item.summary) for item in final.output if item.type == "reasoning"
    )
    calls = [
        (item.call_id, item.name, item.arguments) for item in final.output if item.type == "function_call"
    ]
    if final.status == "incomplete":
        assert final.incomplete_details is not None
        finish = {"max_output_tokens": "length"}.get(str(final.incomplete_details.reason))
        finish = finish or final.incomplete_details.reason
    else:
        finish = "tool_calls" if calls else "stop"
    usage = None
    if final.usage is not None:
        usage = Usage(
            final.usage.input_tokens,
            final.usage.output_tokens,
            cache_read_tokens=final.usage.input_tokens_details.cached_tokens,
            cache_write_tokens=final.usage.input_tokens_details.cache_write_tokens,
            reasoning_tokens=final.usage.output_tokens_details.reasoning_tokens,
        )
    return final.output_text, reasoning, calls, finish, usage


@pytest.mark.parametrize("name", list(STREAMS))
def test_chatcli_and_the_sdk_read_the_same_answer_from_every_stream(server: OpenAIServer, name: str) -> None:
    stream = STREAMS[name]
    ours, items = read_by_chatcli(recorded(server, stream))
    assert ours == read_by_sdk(server, stream)
    assert ours[0] or ours[2]  # text or calls in every stream: agreeing on nothing would prove nothing
    reasoning_items = [item for item in stream.output if item["type"] == "reasoning"]
    assert items == [ProviderItem("responses", item) for item in reasoning_items]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (ResponseStream().message("Partial").failed("The model crashed."), "The model crashed."),
        (ResponseStream().error("Rate limit reached for gpt-test."), "Rate limit reached for gpt-test."),
    ],
    ids=["response.failed", "error"],
)
def test_chatcli_and_the_sdk_report_the_same_error(
    server: OpenAIServer, stream: ResponseStream, message: str
) -> None:
    import openai

    data = recorded(server, stream)
    with pytest.raises(BackendError) as raised:
        read_by_chatcli(data)
    assert str(raised.value) == f"server reported an error mid-stream: {message}"
    server.enqueue(stream.reply())
    client = openai.OpenAI(api_key="k", base_url=server.url, max_retries=0)
    errors = []
    with client.responses.stream(model="gpt-test", input="hi") as events:
        for event in events:
            if event.type == "response.failed" and event.response.error is not None:
                errors.append(event.response.error.message)
            elif event.type == "error":
                errors.append(event.message)
    assert errors == [message]
