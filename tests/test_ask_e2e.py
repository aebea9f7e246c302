"""`chatcli ask` against echo and the local test server: in-process, and the installed command on a pipe (e2e)."""

from __future__ import annotations

import json
import signal
import stat
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, run_chatcli
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply


@pytest.mark.e2e
def test_echo_answers_the_prompt_byte_for_byte_on_a_pipe() -> None:
    result = run_chatcli("ask", "-b", "echo", "hello", "world")
    assert result.returncode == 0
    assert result.stdout == b"Echo: hello world\n"
    assert result.stderr == b""


def test_auto_without_key_or_base_url_uses_echo_and_says_so() -> None:
    result = invoke("ask", "hi")
    assert result.stdout == b"Echo: hi\n"
    assert b"offline echo backend" in result.stderr
    assert result.stderr.count(b"\n") == 1


def test_stdin_comes_first_then_a_blank_line_then_the_prompt(server: OpenAIServer) -> None:
    result = invoke("ask", "--base-url", server.url, "-m", "m1", "review", "this", input=b"diff --git a b\n")
    assert result.returncode == 0
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "diff --git a b\n\nreview this"}]


def test_stdin_alone_is_the_prompt() -> None:
    result = invoke("ask", "-b", "echo", input="tout seul, é\n".encode())
    assert result.stdout == "Echo: tout seul, é\n".encode()


def test_piped_output_is_exactly_the_model_text_even_with_force_color(server: OpenAIServer) -> None:
    pieces = ["# Title\n", "\n", "some **bold** `code`", "\x1b[31mred\x1b[0m", "\n"]
    server.enqueue(sse_reply(*pieces))
    result = invoke("ask", "--base-url", server.url, "go", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert result.returncode == 0
    assert result.stdout == "".join(pieces).encode()


def test_one_newline_is_added_only_when_the_answer_lacks_it(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("no newline"))
    assert invoke("ask", "--base-url", server.url, "x").stdout == b"no newline\n"


def test_request_carries_model_system_prompt_and_sampling_options(server: OpenAIServer) -> None:
    result = invoke(
        "ask",
        "--base-url",
        server.url,
        "-m",
        "qwen",
        "-s",
        "be brief",
        "-t",
        "0.3",
        "--max-tokens",
        "42",
        "hi",
    )
    assert result.returncode == 0
    body = server.bodies[0]
    assert body["model"] == "qwen"
    assert body["stream"] is True
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 42
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_environment_supplies_model_base_url_and_key(server: OpenAIServer) -> None:
    env = {"OPENAI_BASE_URL": server.url, "CHATCLI_MODEL": "env-model", "OPENAI_API_KEY": TEST_KEY}
    result = invoke("ask", "hi", env=env)
    assert result.returncode == 0
    assert server.bodies[0]["model"] == "env-model"
    assert server.requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_flag_beats_environment(server: OpenAIServer) -> None:
    invoke("ask", "-m", "flag-model", "hi", env={"OPENAI_BASE_URL": server.url, "CHATCLI_MODEL": "env-model"})
    assert server.bodies[0]["model"] == "flag-model"


def test_empty_prompt_without_stdin_is_a_usage_error_and_sends_nothing(server: OpenAIServer) -> None:
    result = invoke("ask", "--base-url", server.url, "   ")
    assert result.returncode == 2
    assert result.stderr.startswith(b"chatcli: error: empty prompt")
    assert server.requests == []


def test_save_then_load_carries_the_whole_conversation(server: OpenAIServer, tmp_path: Path) -> None:
    chat = tmp_path / "chat.json"
    server.enqueue(sse_reply("Paris."), sse_reply("About 2.1 million."))
    first = invoke("ask", "--base-url", server.url, "-s", "terse", "-o", str(chat), "Capital of France?")
    assert first.returncode == 0
    assert stat.S_IMODE(chat.stat().st_mode) == 0o600
    saved = json.loads(chat.read_text())
    assert saved["version"] == 1
    assert saved["messages"][-1] == {"role": "assistant", "content": "Paris."}

    second = invoke("ask", "--base-url", server.url, "-l", str(chat), "-o", str(chat), "Population?")
    assert second.returncode == 0
    assert server.bodies[1]["messages"] == [
        {"role": "system", "content": "terse"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]
    assert len(json.loads(chat.read_text())["messages"]) == 5


def test_load_accepts_a_bare_openai_message_list(server: OpenAIServer, tmp_path: Path) -> None:
    chat = tmp_path / "bare.json"
    chat.write_text(json.dumps([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]))
    invoke("ask", "--base-url", server.url, "-l", str(chat), "c")
    assert [m["content"] for m in server.bodies[0]["messages"]] == ["a", "b", "c"]


def test_invalid_conversation_file_is_refused_by_name_and_left_untouched(
    server: OpenAIServer, tmp_path: Path
) -> None:
    chat = tmp_path / "broken.json"
    chat.write_bytes(b'{"version": 1, "messages": [')
    result = invoke("ask", "--base-url", server.url, "-l", str(chat), "-o", str(chat), "hi")
    assert result.returncode == 2
    assert str(chat).encode() in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert chat.read_bytes() == b'{"version": 1, "messages": ['
    assert server.requests == []


def test_missing_load_file_is_exit_2(tmp_path: Path) -> None:
    result = invoke("ask", "-b", "echo", "-l", str(tmp_path / "nope.json"), "hi")
    assert result.returncode == 2
    assert b"no such file" in result.stderr


def test_saving_over_a_file_that_was_not_loaded_is_refused_before_any_request(
    server: OpenAIServer, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"precious": true}')
    result = invoke("ask", "--base-url", server.url, "-o", str(other), "hi")
    assert result.returncode == 2  # a usage error: nothing was sent, and --force would overwrite it
    assert other.read_text() == '{"precious": true}'
    assert server.requests == []


def test_version_prints_the_version() -> None:
    result = invoke("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(b"chatcli ")


def test_server_error_is_one_line_exit_1_without_traceback(server: OpenAIServer) -> None:
    from tests.openai_server import json_reply

    server.enqueue(json_reply(400, {"error": {"message": "bad things"}}))
    result = invoke("ask", "--base-url", server.url, "hi")
    assert result.returncode == 1
    assert result.stderr.startswith(b"chatcli: error: ")
    assert result.stderr.count(b"\n") == 1
    assert b"Traceback" not in result.stderr


def test_a_loaded_conversation_keeps_its_model_unless_one_is_asked_for(
    server: OpenAIServer, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({"version": 1, "model": "saved-model", "messages": []}))
    invoke("ask", "--base-url", server.url, "-l", str(chat), "one")
    invoke("ask", "--base-url", server.url, "-l", str(chat), "-m", "flag-model", "two")
    invoke("ask", "--base-url", server.url, "-l", str(chat), "three", env={"CHATCLI_MODEL": "env-model"})
    assert [body["model"] for body in server.bodies] == ["saved-model", "flag-model", "env-model"]


def test_ask_gives_back_the_signal_handlers_it_replaced() -> None:
    """`ask` turns SIGTERM and SIGHUP into an interrupt while it runs (tests/test_signals.py), and only then."""
    signals = (signal.SIGTERM, signal.SIGHUP)
    before = [signal.getsignal(signum) for signum in signals]
    assert invoke("ask", "-b", "echo", "hi").returncode == 0
    assert invoke("ask", "-b", "echo", "-l", "/nonexistent/chat.json", "hi").returncode == 2
    assert [signal.getsignal(signum) for signum in signals] == before
