"""The ollama wire's pure parts: the /api/chat body built from a ChatRequest, checked against the fields Ollama's
API documentation lists, and the documented NDJSON streams read into pieces, finish reason and usage; every
malformed field one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chatcli.backends.ollama.events import (
    BAD_USAGE,
    error_text,
    read_chat_stream,
    read_chat_whole,
    read_models,
)
from chatcli.backends.ollama.request import chat_body
from chatcli.core.conversation import Message
from chatcli.core.errors import BackendError, PartialAnswer, UsageError
from chatcli.core.stream import ChatRequest, ModelEntry, Piece, Reasoning, StreamInfo, ToolCallPiece, Usage
from tests import ollama_streams as docs
from tests.openai_server import Reply, stream_bytes

# docs/api.md, "Generate a chat completion": the parameters and the `message` object's fields.
DOCUMENTED_PARAMETERS = {"model", "messages", "tools", "think", "format", "options", "stream", "keep_alive"}
DOCUMENTED_MESSAGE_FIELDS = {"role", "content", "thinking", "images", "tool_calls", "tool_name"}
# docs/api.md, "Generate request (With options)": every option Ollama documents (the Modelfile's parameters).
DOCUMENTED_OPTIONS = {
    "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p", "repeat_last_n", "temperature",
    "repeat_penalty", "presence_penalty", "frequency_penalty", "penalize_newline", "stop", "numa", "num_ctx",
    "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread",
}  # fmt: skip
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city to get the weather for"}},
            "required": ["city"],
        },
    },
}


def body(
    request: ChatRequest, *, num_ctx: int | None = None, keep_alive: str | None = None, think: bool = False
) -> dict[str, Any]:
    built = chat_body(request, stream=True, num_ctx=num_ctx, keep_alive=keep_alive, think=think)
    assert set(built) <= DOCUMENTED_PARAMETERS, set(built) - DOCUMENTED_PARAMETERS
    for message in built["messages"]:
        assert set(message) <= DOCUMENTED_MESSAGE_FIELDS, set(message) - DOCUMENTED_MESSAGE_FIELDS
    return built


def calls(*named: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in named
        ]
    }


def test_a_plain_turn_is_the_documented_request() -> None:
    # docs/api.md, "Chat request (Streaming)"
    sent = body(ChatRequest([Message("user", "why is the sky blue?")], "llama3.2"))
    assert sent == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "why is the sky blue?"}],
        "stream": True,
    }


def test_sampling_goes_under_options_and_format_keep_alive_think_at_the_top() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    request = ChatRequest(
        [Message("system", "terse"), Message("developer", "be brief"), Message("user", "q")],
        "llama3.1",
        temperature=0.0,
        max_tokens=100,
        options={
            "top_p": 0.9,
            "seed": 42,
            "stop": "user:",
            "options": {"num_gpu": 1, "top_k": 20},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "strict": True, "schema": schema},
            },
            "think": "high",
        },
    )
    sent = body(request, num_ctx=32768, keep_alive="30m")
    assert sent["messages"][:2] == [
        {"role": "system", "content": "terse"},
        {"role": "system", "content": "be brief"},
    ]
    assert sent["options"] == {
        "top_p": 0.9, "seed": 42, "stop": ["user:"], "num_gpu": 1, "top_k": 20,
        "temperature": 0.0, "num_predict": 100, "num_ctx": 32768,
    }  # fmt: skip
    assert set(sent["options"]) <= DOCUMENTED_OPTIONS
    assert (sent["format"], sent["keep_alive"], sent["think"]) == (schema, "30m", "high")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"num_ctx": 8192}),
        ({"num_ctx": 2048}, {"num_ctx": 2048}),  # -O num_ctx wins over the context-window setting
        ({"max_tokens": 5}, {"num_ctx": 8192, "num_predict": 5}),
        ({"response_format": {"type": "json_object"}}, {"num_ctx": 8192}),
    ],
)
def test_options_from_the_command_line(options: dict[str, Any], expected: dict[str, Any]) -> None:
    sent = body(ChatRequest([Message("user", "q")], "m", options=options), num_ctx=8192)
    assert sent["options"] == expected
    assert sent.get("format") == ("json" if "response_format" in options else None)


def test_no_num_ctx_and_no_options_without_a_setting() -> None:
    assert "options" not in body(ChatRequest([Message("user", "q")], "m"))


@pytest.mark.parametrize(
    ("setting", "sent"), [("-1", -1), ("300", 300), ("1.5", 1.5), ("5m", "5m"), ("0", 0)]
)
def test_keep_alive_numbers_are_sent_as_seconds(setting: str, sent: Any) -> None:
    """Ollama reads a JSON string as a Go duration, which needs a unit: "-1" (for ever) must be the number."""
    assert body(ChatRequest([Message("user", "q")], "m"), keep_alive=setting)["keep_alive"] == sent


def test_think_is_sent_only_when_asked() -> None:
    request = ChatRequest([Message("user", "q")], "qwen3")
    assert "think" not in body(request)
    assert body(request, think=True)["think"] is True
    refused = ChatRequest([Message("user", "q")], "qwen3", options={"think": False})
    assert body(refused, think=True)["think"] is False  # -O think=false wins


def test_images_go_on_the_message_as_base64() -> None:
    # docs/api.md, "Chat request (with images)": `"images": ["iVBORw0…"]` beside the content
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "what is in this image?"},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{PNG}"},
            "chatcli": {"name": "a.png"},
        },
    ]
    sent = body(ChatRequest([Message("user", content)], "llava"))
    assert sent["messages"] == [{"role": "user", "content": "what is in this image?", "images": [PNG]}]


@pytest.mark.parametrize(
    ("part", "says"),
    [
        (
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            "not https://example.com/cat.png",
        ),
        (
            {
                "type": "file",
                "file": {"filename": "doc.pdf", "file_data": "data:application/pdf;base64,JVBE"},
            },
            "anthropic, responses",
        ),
        ({"type": "input_audio", "input_audio": {}}, "'input_audio'"),
    ],
)
def test_what_ollama_cannot_take_is_one_line(part: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        chat_body(
            ChatRequest([Message("user", [part])], "m"),
            stream=True,
            num_ctx=None,
            keep_alive=None,
            think=False,
        )


def test_a_tool_round_as_documented() -> None:
    """docs/api.md, "Chat request (With history, with tools)": the call's arguments as an object, the result
    named by its tool; and two rounds whose calls have the same ids (Ollama numbers them anew in each answer)."""
    messages = [
        Message("user", "what is the weather in Toronto?"),
        Message(
            "assistant",
            None,
            extra=calls(("call_0", "get_weather", '{"city": "Toronto"}')),
            reasoning="look it up",
        ),
        Message("tool", "11 degrees celsius", extra={"tool_call_id": "call_0"}),
        Message(
            "assistant",
            None,
            extra=calls(("call_0", "get_time", "{}"), ("call_1", "get_weather", "not json")),
        ),
        Message("tool", "noon", extra={"tool_call_id": "call_0"}),
        Message("tool", "bad arguments", extra={"tool_call_id": "call_1"}),
        Message("assistant", "It is 11°C at noon.", reasoning="done"),
    ]
    sent = body(ChatRequest(messages, "llama3.2", tools=[TOOL]))
    assert sent["tools"] == [TOOL]
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}],
            "thinking": "look it up",
        },
        {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_time", "arguments": {}}},
                {"function": {"name": "get_weather", "arguments": {}}},  # broken JSON goes back as {}
            ],
        },
        {"role": "tool", "content": "noon", "tool_name": "get_time"},
        {"role": "tool", "content": "bad arguments", "tool_name": "get_weather"},
        {
            "role": "assistant",
            "content": "It is 11°C at noon.",
        },  # a plain answer's reasoning is not sent back
    ]


def test_a_response_format_ollama_cannot_take_is_one_line() -> None:
    with pytest.raises(UsageError, match="json_schema or json_object"):
        body(ChatRequest([Message("user", "q")], "m", options={"response_format": {"type": "grammar"}}))


# -- reading ---------------------------------------------------------------------------------------------------


def read(reply: Reply | bytes, warn: list[str] | None = None) -> tuple[list[Piece], StreamInfo]:
    data = stream_bytes(reply) if isinstance(reply, Reply) else reply
    info = StreamInfo()
    pieces = list(
        read_chat_stream(
            iter(data.splitlines(keepends=True)), info, "sk-secret", (warn if warn is not None else []).append
        )
    )
    return pieces, info


def test_the_documented_stream_gives_text_finish_usage_and_model() -> None:
    pieces, info = read(docs.PLAIN)
    assert "".join(map(str, pieces)) == "The sky is blue because of Rayleigh scattering."
    assert (info.finish_reason, info.usage, info.model) == ("stop", Usage(26, 282), "llama3.2")


def test_an_older_final_object_without_done_reason_still_finishes() -> None:
    assert read(docs.NO_DONE_REASON)[1].finish_reason == "stop"


def test_thinking_is_reasoning() -> None:
    pieces, info = read(docs.THINKING)
    assert [piece for piece in pieces if isinstance(piece, Reasoning)] == [
        Reasoning("17 × 23: "), Reasoning("17 × 20 = 340, 17 × 3 = 51, "), Reasoning("340 + 51 = 391."),
    ]  # fmt: skip
    assert [piece for piece in pieces if isinstance(piece, str)] == ["17 × 23 = ", "**391**"]
    assert info.usage == Usage(18, 61)


def test_tool_calls_get_stable_ids_in_order_across_objects() -> None:
    assert read(docs.TOOLS)[0] == [ToolCallPiece(0, "call_0", "get_weather", '{"city": "Tokyo"}')]
    pieces, info = read(docs.PARALLEL_TOOLS)
    assert pieces == [
        ToolCallPiece(0, "call_0", "get_temperature", '{"city": "New York"}'),
        ToolCallPiece(1, "call_1", "get_conditions", '{"city": "New York"}'),
        ToolCallPiece(2, "call_2", "get_temperature", '{"city": "London"}'),
    ]
    assert info.finish_reason == "stop"


def test_a_call_with_an_id_keeps_it() -> None:
    data = docs.line(docs.piece(tool_calls=[{"id": "call_x1", "function": {"name": "f", "arguments": {}}}]))
    assert read(data + docs.line(docs.final()))[0] == [ToolCallPiece(0, "call_x1", "f", "{}")]


def test_an_error_line_after_text_keeps_the_text() -> None:
    with pytest.raises(
        PartialAnswer,
        match=r"^server reported an error mid-stream: an error was encountered while running the model$",
    ):
        read(docs.ERROR)


def test_an_error_line_before_text_is_a_plain_error_and_never_shows_the_key() -> None:
    with pytest.raises(BackendError) as raised:
        read(docs.line({"error": "bad key sk-secret"}))
    assert not isinstance(raised.value, PartialAnswer)
    assert "sk-secret" not in str(raised.value)


def test_the_objects_after_done_are_never_read() -> None:
    def lines() -> Iterator[bytes]:
        yield docs.line(docs.piece("hi"))
        yield docs.line(docs.final())
        raise AssertionError("read past the end")

    assert list(read_chat_stream(lines(), StreamInfo(), None)) == ["hi"]


def test_a_stream_that_ends_before_done_ended_early() -> None:
    with pytest.raises(PartialAnswer, match="ended early"):
        read(docs.line(docs.piece("hi")))


@pytest.mark.parametrize(
    "data",
    [
        b"not json\n",
        b"[1, 2]\n",
        json.dumps({"message": [], "done": False}).encode(),
        json.dumps({"message": {"content": 5}, "done": False}).encode(),
        json.dumps({"message": {"thinking": ["x"]}, "done": False}).encode(),
        json.dumps({"message": {"content": "\ud800"}, "done": False}).encode(),
        json.dumps({"message": {"tool_calls": {"function": {}}}, "done": False}).encode(),
        json.dumps(
            {"message": {"tool_calls": [{"function": {"name": 1, "arguments": {}}}]}, "done": False}
        ).encode(),
        json.dumps(
            {"message": {"tool_calls": [{"function": {"name": "f", "arguments": 3}}]}, "done": False}
        ).encode(),
        json.dumps({"message": {"content": "x"}, "done": "yes"}).encode(),
        json.dumps({"done": True, "done_reason": 7}).encode(),
        b"\xff\xfe\n",
        b"[" * 100_000 + b"\n",
    ],
)
def test_a_field_of_the_wrong_shape_is_malformed(data: bytes) -> None:
    with pytest.raises(BackendError, match=r"^server sent malformed stream data$"):
        read(data + b"\n")


@pytest.mark.parametrize(
    "counts", [{"prompt_eval_count": -1}, {"eval_count": "12"}, {"eval_count": 1.5}, {"eval_count": 2**60}]
)
def test_bad_counts_are_dropped_with_a_warning(counts: dict[str, Any]) -> None:
    warnings: list[str] = []
    pieces, info = read(docs.line(docs.piece("ok")) + docs.line({**docs.final(), **counts}), warnings)
    assert (pieces, info.finish_reason, info.usage, warnings) == (["ok"], "stop", None, [BAD_USAGE])


def test_a_count_left_out_is_zero() -> None:
    """A prompt served from Ollama's cache has been reported without prompt_eval_count."""
    assert read(docs.line(docs.piece("ok")) + docs.line(docs.final(prompt=None, completion=3)))[
        1
    ].usage == Usage(0, 3)


def test_a_whole_answer() -> None:
    info = StreamInfo()
    assert read_chat_whole(json.dumps(docs.WHOLE).encode(), info) == ["Hello! How are you today?"]
    assert (info.finish_reason, info.usage) == ("stop", Usage(26, 298))
    assert read_chat_whole(b'{"choices": []}', StreamInfo()) is None
    assert read_chat_whole(b"<html>", StreamInfo()) is None
    with pytest.raises(BackendError, match="malformed data"):
        read_chat_whole(b'{"message": {"content": 1}, "done": true}', StreamInfo())
    with pytest.raises(BackendError, match=r"^server reported an error: model failed$"):
        read_chat_whole(b'{"error": "model failed"}', StreamInfo())


def test_error_bodies() -> None:
    assert error_text({"error": 'model "llama9" not found, try pulling it first'}) == (
        'model "llama9" is not on this server; pull it with `ollama pull llama9`'
    )
    assert error_text({"error": "unexpected EOF"}) == "unexpected EOF"
    assert error_text({"error": {"message": "proxied"}}) == "proxied"
    assert error_text({"detail": "x"}) is None
    assert error_text("text") is None


def test_the_model_list() -> None:
    assert read_models(json.dumps(docs.TAGS).encode()) == [
        ModelEntry("deepseek-r1:latest"),
        ModelEntry("llama3.2:latest"),
    ]
    for unreadable in (b"[]", b'{"models": 3}', b"{}"):
        with pytest.raises((ValueError, KeyError, TypeError)):
            read_models(unreadable)
