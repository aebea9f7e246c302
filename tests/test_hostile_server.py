"""A hostile server: malformed fields, endless lines and answers, a byte-order mark. Each ends in
one clear line with the partial answer kept and recorded, never a crash, never unbounded memory."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.inprocess import invoke
from tests.leaks import assert_clean, one_line_error
from tests.openai_server import OpenAIServer, Reply, chunk, json_reply, sse_event, sse_reply
from tests.rss import measure_chatcli

Ask = Callable[..., subprocess.CompletedProcess[bytes]]
MiB = 1024 * 1024
RSS_LIMIT_MIB = 150
DONE = b"data: [DONE]\n\n"


@pytest.fixture
def ask(server: OpenAIServer, tmp_path: Path) -> Ask:
    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        result = invoke("ask", "--base-url", server.url, *args, env={"OPENAI_API_KEY": TEST_KEY})
        assert_clean(result, tmp_path)
        return result

    return run


def library_conversations() -> list[dict[str, object]]:
    listed = invoke("history", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, object]] = json.loads(listed.stdout)
    return rows


def raw_event(json_text: str) -> bytes:
    """An SSE event whose JSON is given as written (json.dumps could not write some of these)."""
    return b"data: " + json_text.encode() + b"\n\n"


def delta(json_fields: str, finish: str = "null") -> bytes:
    return raw_event(
        f'{{"choices": [{{"index": 0, "delta": {{{json_fields}}}, "finish_reason": {finish}}}]}}'
    )


MALFORMED = {
    "lone-surrogate": delta('"content": "\\ud800"'),
    "content-number": delta('"content": 5'),
    "content-list": delta('"content": ["a", "b"]'),
    "finish-reason-object": delta('"role": "assistant"', finish='{"x": 1}'),
    "reasoning-number": delta('"reasoning_content": 7'),
    "model-object": raw_event('{"model": {"id": 1}, "choices": []}'),
    "choices-string": raw_event('{"choices": "abc"}'),
    "deep-nesting": b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n",
    "deep-nesting-in-object": b'data: {"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n\n",
    "invalid-utf8": b'data: {"choices": [{"delta": {"content": "\xff"}}]}\n\n',
}


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_field_fails_the_turn_keeps_and_saves_the_partial_answer(
    ask: Ask, server: OpenAIServer, tmp_path: Path, bad: bytes
) -> None:
    saved = tmp_path / "chat.json"
    server.enqueue(
        Reply(body=[sse_event(chunk("partial")), bad, sse_event(chunk(finish_reason="stop")), DONE])
    )
    result = ask("-o", str(saved), "hi")
    assert result.returncode == 1
    assert result.stdout == b"partial\n"
    assert one_line_error(result) == "server sent malformed stream data"
    answer = json.loads(saved.read_text())["messages"][-1]
    assert answer == {"role": "assistant", "content": "partial", "status": "failed"}
    assert [row["turns"] for row in library_conversations()] == [1]


def test_malformed_data_before_any_text_is_the_same_line_and_nothing_is_kept(
    ask: Ask, server: OpenAIServer
) -> None:
    server.enqueue(Reply(body=[MALFORMED["lone-surrogate"], DONE]))
    result = ask("hi")
    assert result.returncode == 1
    assert result.stdout == b""
    assert one_line_error(result) == "server sent malformed stream data"


@pytest.mark.parametrize(
    "usage",
    ['{"prompt_tokens": 1e400, "completion_tokens": 3}', f'{{"prompt_tokens": {"9" * 32}}}', '"lots"'],
    ids=["infinite", "32-digits", "string"],
)
def test_unreadable_usage_is_one_warning_and_the_answer_is_complete_and_recorded(
    ask: Ask, server: OpenAIServer, usage: str
) -> None:
    usage_event = raw_event(f'{{"choices": [], "usage": {usage}}}')
    server.enqueue(
        Reply(body=[sse_event(chunk("fine")), sse_event(chunk(finish_reason="stop")), usage_event, DONE])
    )
    result = ask("-u", "-b", "openai", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"fine\n"
    lines = result.stderr.decode().splitlines()
    assert lines[0] == "chatcli: warning: the server reported token usage chatcli cannot read; ignored"
    assert len(lines) == 3 and lines[1].startswith("chatcli: usage: ")  # -u: no token counts, the duration
    assert (
        lines[2] == "chatcli: prompt: estimated 5 tokens from the text's length; the server reported no count"
    )
    assert [row["turns"] for row in library_conversations()] == [1]


@pytest.mark.parametrize(
    ("completion", "error"),
    [
        ({"choices": [{"message": {"content": 5}, "finish_reason": "stop"}]}, "server sent malformed data"),
        (
            {"choices": [{"message": {"content": "ok"}, "finish_reason": {"x": 1}}]},
            "server sent malformed data",
        ),
    ],
    ids=["content-number", "finish-reason-object"],
)
def test_whole_completion_with_malformed_fields_is_one_line(
    ask: Ask, server: OpenAIServer, completion: dict[str, object], error: str
) -> None:
    server.enqueue(json_reply(200, completion))
    result = ask("hi")
    assert result.returncode == 1
    assert one_line_error(result) == error


def test_whole_completion_with_unreadable_usage_is_shown_with_a_warning(
    ask: Ask, server: OpenAIServer
) -> None:
    body = b'{"choices": [{"message": {"content": "whole"}}], "usage": {"prompt_tokens": 1e400}}'
    server.enqueue(Reply(200, {"Content-Type": "application/json"}, [body]))
    result = ask("hi")
    assert result.returncode == 0
    assert result.stdout == b"whole\n"
    assert b"token usage chatcli cannot read" in result.stderr


def test_a_byte_order_mark_before_the_first_event_does_not_drop_it(ask: Ask, server: OpenAIServer) -> None:
    reply = sse_reply("first", " second")
    reply.body[0] = b"\xef\xbb\xbf" + reply.body[0]
    reply.body.insert(1, sse_event(chunk("zero ")))
    reply.body[0] = b"\xef\xbb\xbf" + sse_event(chunk("BOM "))
    server.enqueue(reply)
    result = ask("hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"BOM zero first second\n"


@pytest.mark.e2e  # measures a chatcli process's memory
def test_a_line_that_never_ends_fails_the_turn_in_bounded_memory(server: OpenAIServer) -> None:
    piece = b"x" * MiB
    server.enqueue(
        Reply(
            body=[sse_event(chunk("partial")), b'data: {"choices": [{"delta": {"content": "', *[piece] * 400]
        )
    )
    measured = measure_chatcli("ask", "--base-url", server.url, "hi", env={"OPENAI_API_KEY": TEST_KEY})
    assert measured.returncode == 1
    assert measured.stderr == b"chatcli: error: server sent a line longer than 8 MiB; stopped reading\n"
    assert measured.peak_mib < RSS_LIMIT_MIB


@pytest.mark.e2e  # measures a chatcli process's memory
def test_an_endless_answer_stops_at_max_answer_bytes_in_bounded_memory(server: OpenAIServer) -> None:
    """Recording in the library included: SQLite's copy and full-text index of the partial answer count too."""
    event = sse_event(chunk(("lorem ipsum dolor sit amet " * 2500)[:65536]))
    server.enqueue(Reply(body=[event] * (48 * 16)))  # 48 MiB of answer, 64 KiB per event
    measured = measure_chatcli("ask", "--base-url", server.url, "hi", env={"OPENAI_API_KEY": TEST_KEY})
    assert measured.returncode == 1
    assert measured.stderr.decode().startswith(
        f"chatcli: error: the answer passed max_answer_bytes ({16 * MiB} bytes); chatcli stopped reading it"
    )
    assert measured.peak_mib < RSS_LIMIT_MIB
    assert [row["turns"] for row in library_conversations()] == [1]  # the partial answer was recorded


def test_max_answer_bytes_from_the_config_keeps_the_partial_answer(
    ask: Ask, server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_answer_bytes = 1000\n")
    saved = tmp_path / "chat.json"
    server.enqueue(sse_reply(*["z" * 100] * 30))
    result = ask("-o", str(saved), "hi")
    assert result.returncode == 1
    assert result.stdout == b"z" * 1100 + b"\n"
    assert one_line_error(result) == (
        "the answer passed max_answer_bytes (1000 bytes); chatcli stopped reading it"
    )
    assert json.loads(saved.read_text())["messages"][-1]["status"] == "failed"
    assert [row["turns"] for row in library_conversations()] == [1]


@pytest.mark.e2e  # measures a chatcli process's memory
def test_many_tiny_pieces_take_little_more_memory_than_their_text(server: OpenAIServer) -> None:
    """250,000 4-byte pieces (1 MiB): kept as a list of strings they would take about 15 MiB more than one
    piece does (measured: 2.4 MiB more, the text and its joined copies)."""
    thousand = b"".join(sse_event(chunk("abc ")) for _ in range(1000))
    end = [sse_event(chunk(finish_reason="stop")), DONE]
    server.enqueue(Reply(body=[sse_event(chunk("abc ")), *end]), Reply(body=[thousand] * 250 + end))
    args = ("ask", "--base-url", server.url, "--no-log", "hi")
    one, many = (measure_chatcli(*args, env={"OPENAI_API_KEY": TEST_KEY}) for _ in range(2))
    assert one.returncode == many.returncode == 0, many.stderr
    assert many.peak_mib - one.peak_mib < 8, (one.peak_mib, many.peak_mib)
