"""The anthropic wire without a server: the Messages body chatcli builds from a conversation, and the pieces,
stop reason and usage it reads from Anthropic's documented event sequences."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatcli.backends.anthropic.events import error_text, read_events, read_message
from chatcli.backends.anthropic.request import DEFAULT_MAX_TOKENS, count_tokens_body, messages_body
from chatcli.core.conversation import Message
from chatcli.core.errors import BackendError, PartialAnswer, UsageError
from chatcli.core.stream import ChatRequest, Piece, ProviderItem, Reasoning, StreamInfo, ToolCallPiece, Usage
from tests.anthropic_stream import (
    anthropic_reply,
    block_start,
    delta,
    error_event,
    event,
    message_end,
    message_start,
    text_block,
    tool_reply,
)
from tests.openai_server import Reply, stream_bytes

TOOL = {
    "type": "function",
    "function": {
        "name": "now",
        "description": "The time",
        "parameters": {"type": "object", "properties": {}},
    },
}
SIGNED = {"type": "thinking", "thinking": "let me see", "signature": "sig"}
CACHE = {"type": "ephemeral"}


def body(*messages: Message, cache: bool = False, **fields: Any) -> dict[str, Any]:
    return messages_body(ChatRequest(list(messages), "claude-test", **fields), stream=True, cache=cache)


def test_system_prompts_go_top_level_and_max_tokens_is_always_sent() -> None:
    sent = body(
        Message("system", "terse"), Message("developer", "british"), Message("user", "hi"), temperature=0.2
    )
    assert sent == {
        "model": "claude-test",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "system": "terse\n\nbritish",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "stream": True,
        "temperature": 0.2,
    }
    assert body(Message("user", "hi"), max_tokens=50)["max_tokens"] == 50


def test_consecutive_messages_of_one_role_are_merged_so_turns_alternate() -> None:
    """A compacted conversation starts with two user messages; the API refuses two user turns in a row."""
    sent = body(Message("user", "summary"), Message("user", "next"), Message("assistant", "ok"))
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "summary"}, {"type": "text", "text": "next"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]


def test_a_tool_round_sends_thinking_first_then_tool_use_then_the_results_in_one_user_turn() -> None:
    calls = [
        {"id": "t1", "type": "function", "function": {"name": "now", "arguments": '{"tz": "UTC"}'}},
        {"id": "t2", "type": "function", "function": {"name": "now", "arguments": "not json"}},
    ]
    answer = Message(
        "assistant",
        None,
        extra={"tool_calls": calls, "provider_items": {"anthropic": [SIGNED], "responses": [{}]}},
    )
    sent = body(
        Message("user", "time?"),
        answer,
        Message("tool", "12:00", extra={"tool_call_id": "t1"}),
        Message("tool", "", extra={"tool_call_id": "t2"}),
        tools=[TOOL],
    )
    assert sent["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}, "description": "The time"}
    ]
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                SIGNED,
                {"type": "tool_use", "id": "t1", "name": "now", "input": {"tz": "UTC"}},
                {"type": "tool_use", "id": "t2", "name": "now", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "12:00"}]},
                {"type": "tool_result", "tool_use_id": "t2"},
            ],
        },
    ]


def test_images_and_pdfs_become_image_and_document_blocks_without_chatcli_s_own_keys() -> None:
    parts: list[dict[str, Any]] = [
        {"type": "text", "text": "compare"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"},
            "chatcli": {},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
        {
            "type": "file",
            "file": {"filename": "doc.pdf", "file_data": "data:application/pdf;base64,JVBE"},
            "chatcli": {"name": "doc.pdf"},
        },
    ]
    assert body(Message("user", parts))["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "doc.pdf",
        },
    ]


def test_cache_breakpoints_mark_the_system_prompt_the_tools_and_the_two_latest_user_turns() -> None:
    history = [Message("system", "terse"), Message("user", "a"), Message("assistant", "b")]
    history += [Message("user", "c"), Message("assistant", "d"), Message("user", "e")]
    sent = body(*history, cache=True, tools=[TOOL, TOOL])
    assert sent["system"] == [{"type": "text", "text": "terse", "cache_control": CACHE}]
    assert [("cache_control" in tool) for tool in sent["tools"]] == [False, True]
    marked = [turn["content"][-1].get("cache_control") for turn in sent["messages"]]
    assert marked == [None, None, CACHE, None, CACHE]
    assert "cache_control" not in json.dumps(body(*history, tools=[TOOL]))


@pytest.mark.parametrize(
    ("options", "thinking", "most"),
    [
        ({"reasoning_effort": "low"}, {"type": "enabled", "budget_tokens": 1024}, DEFAULT_MAX_TOKENS + 1024),
        ({"reasoning_effort": "none"}, None, DEFAULT_MAX_TOKENS),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            {"type": "enabled", "budget_tokens": 2048},
            10240,
        ),
        ({"thinking": {"type": "adaptive"}, "max_tokens": 999}, {"type": "adaptive"}, 999),
    ],
)
def test_thinking_from_the_option_or_the_reasoning_effort_leaves_the_answer_its_tokens(
    options: dict[str, Any], thinking: dict[str, Any] | None, most: int
) -> None:
    sent = body(Message("user", "hi"), options={**options, "top_k": 5})
    assert (sent.get("thinking"), sent["max_tokens"], sent["top_k"]) == (thinking, most, 5)
    assert "reasoning_effort" not in sent


def test_an_unknown_reasoning_effort_is_one_line() -> None:
    with pytest.raises(UsageError, match=r"reasoning_effort 'extreme' .* low, medium, high or none"):
        body(Message("user", "hi"), options={"reasoning_effort": "extreme"})


def test_count_tokens_sends_only_the_prompt() -> None:
    request = ChatRequest([Message("system", "s"), Message("user", "hi")], "m", 0.5, 10, {"top_k": 1}, [TOOL])
    assert set(count_tokens_body(request)) == {"model", "messages", "system", "tools"}


# -- reading ------------------------------------------------------------------------------------------------------


def read(reply: Reply | bytes) -> tuple[list[Piece], StreamInfo, list[str]]:
    data = reply if isinstance(reply, bytes) else stream_bytes(reply)
    info, warnings = StreamInfo(), list[str]()
    pieces = list(read_events(iter(data.splitlines(keepends=True)), info, "sk-ant-secret", warnings.append))
    return pieces, info, warnings


def test_text_thinking_usage_and_stop_reason_are_read() -> None:
    usage = {
        "output_tokens": 30,
        "cache_read_input_tokens": 100,
        "output_tokens_details": {"thinking_tokens": 9},
    }
    pieces, info, warnings = read(anthropic_reply("Hel", "lo", thinking=("hm", "m"), usage=usage))
    assert pieces == [
        Reasoning("hm"),
        Reasoning("m"),
        ProviderItem(
            "anthropic", {"type": "thinking", "thinking": "hmm", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}
        ),
        "Hel",
        "lo",
    ]
    assert (info.finish_reason, info.model, warnings) == ("stop", "claude-test", [])
    # message_start said 25 input tokens; message_delta's cumulative counts win where it has them
    assert info.usage == Usage(125, 30, cache_read_tokens=100, reasoning_tokens=9)


def test_tool_use_blocks_are_tool_call_pieces_numbered_in_order() -> None:
    pieces, info, _ = read(
        tool_reply(("t1", "now", '{"tz":"UTC"}'), ("t2", "now", "{}"), text="Let me look.")
    )
    calls = [piece for piece in pieces if isinstance(piece, ToolCallPiece)]
    assert calls[0] == ToolCallPiece(0, "t1", "now")
    assert "".join(piece.arguments for piece in calls if piece.index == 0) == '{"tz":"UTC"}'
    assert calls[-2:] == [ToolCallPiece(1, "t2", "now"), ToolCallPiece(1, arguments="{}")]
    assert (pieces[0], info.finish_reason) == ("Let me look.", "tool_calls")


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
    ],
)
def test_stop_reasons_in_chatcli_s_words(stop_reason: str, finish: str) -> None:
    assert read(anthropic_reply("x", stop_reason=stop_reason))[1].finish_reason == finish


def test_an_unsigned_thinking_block_is_shown_but_not_kept_and_redacted_thinking_is_kept() -> None:
    body_ = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "t"}),
        event({"type": "content_block_stop", "index": 0}),
    ]
    body_ += [
        block_start(1, {"type": "redacted_thinking", "data": "opaque"}),
        event({"type": "content_block_stop", "index": 1}),
    ]
    pieces, _, _ = read(Reply(body=[*body_, *text_block(2, "a"), *message_end()]))
    assert pieces == [
        Reasoning("t"),
        ProviderItem("anthropic", {"type": "redacted_thinking", "data": "opaque"}),
        "a",
    ]


def test_an_error_event_is_one_line_and_keeps_the_text_that_came() -> None:
    body_ = [message_start(), *text_block(0, "partial"), error_event(message="Overloaded sk-ant-secret")]
    with pytest.raises(
        PartialAnswer,
        match=r"^server reported an error mid-stream: Overloaded \[redacted\] \(overloaded_error\)$",
    ):
        read(Reply(body=body_))
    with pytest.raises(BackendError, match="mid-stream: Overloaded"):
        read(Reply(body=[message_start(), error_event()]))


@pytest.mark.parametrize(
    "bad",
    [
        b"data: {not json}\n\n",
        event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}),
        event({"type": "content_block_delta", "index": 7, "delta": {"type": "text_delta", "text": "x"}}),
        event({"type": "content_block_delta", "index": [0], "delta": {"type": "text_delta", "text": "x"}}),
        event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": "{"},
            }
        ),
        event({"type": "message_delta", "delta": {"stop_reason": 3}}),
        event(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": 1, "name": "n"},
            }
        ),
    ],
)
def test_malformed_events_fail_in_one_line_keeping_the_text(bad: bytes) -> None:
    body_ = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="ok"),
        bad,
    ]
    with pytest.raises(PartialAnswer, match=r"^server sent malformed stream data$"):
        read(Reply(body=body_))


def test_pings_unknown_events_and_server_tool_blocks_are_skipped_but_a_stream_without_its_end_is_early() -> (
    None
):
    server_tool = [
        block_start(1, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        delta(1, type="input_json_delta", partial_json='{"query": "x"}'),
        event({"type": "content_block_stop", "index": 1}),
    ]
    body_ = [message_start(), event({"type": "ping"}), event({"type": "brand_new"}), *server_tool]
    body_ += text_block(0, "a")
    assert read(Reply(body=[*body_, *message_end()]))[0] == ["a"]
    with pytest.raises(PartialAnswer, match="ended early"):
        read(Reply(body=body_))


def test_unreadable_usage_is_dropped_with_a_warning() -> None:
    pieces, info, warnings = read(anthropic_reply("a", usage={"output_tokens": -1}))
    assert (pieces, info.usage, len(warnings)) == (["a"], Usage(25, 1), 1)


def test_a_whole_message_gives_the_same_pieces_as_its_stream() -> None:
    message = {
        "type": "message",
        "model": "claude-test",
        "content": [
            SIGNED,
            {"type": "text", "text": "Sure."},
            {"type": "tool_use", "id": "t1", "name": "now", "input": {"tz": "UTC"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 5},
    }
    info = StreamInfo()
    assert read_message(json.dumps(message).encode(), info) == [
        Reasoning("let me see"),
        ProviderItem("anthropic", SIGNED),
        "Sure.",
        ToolCallPiece(0, "t1", "now"),
        ToolCallPiece(0, arguments='{"tz": "UTC"}'),
    ]
    assert info == StreamInfo("tool_calls", Usage(8, 4, cache_write_tokens=5), "claude-test")
    assert read_message(b'{"choices": []}', StreamInfo()) is None


def test_error_bodies_read_as_message_and_type() -> None:
    error = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x"}}
    assert error_text(error) == "model: claude-x (not_found_error)"
    assert error_text({"error": "plain"}) is None
