"""The context gauge: the window learnt from the server (vLLM, OpenRouter, llama.cpp, Ollama) or the config, the
REPL's toolbar and its warning near the limit, `-u`'s context line, and the prompt a server probably truncated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
import pytest

from chatcli.backends.openai.client import OpenAIBackend
from chatcli.core.context import (
    ContextWindow,
    context_line,
    gauge,
    near_limit_notice,
    truncation_warning,
)
from chatcli.core.stream import BackendSettings, Usage
from chatcli.repl.context_windows import ContextWindows
from tests.conftest import write_config
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import ScreenedChild, spawn_chatcli

WINDOW = ContextWindow(32768, "vLLM")


def test_the_gauge_and_the_context_line_say_how_full_the_window_is() -> None:
    assert gauge(12431, WINDOW) == "ctx 12.4k/32.8k (38%)"
    assert gauge(900, ContextWindow(2_000_000, "OpenRouter")) == "ctx 900/2.0M (0%)"
    assert context_line(12431, WINDOW) == "context: 12 431 of 32 768 tokens (38%)"
    assert context_line(12431, None).startswith(
        "context: 12 431 tokens; the model's context window is unknown (set context_window"
    )


def test_the_limit_is_near_from_eighty_percent() -> None:
    assert near_limit_notice(26213, WINDOW) is None
    notice = near_limit_notice(26215, WINDOW)
    assert notice is not None
    assert notice.startswith(
        "the conversation is nearing the model's limit: 26 215 of 32 768 tokens (80%); /compact goes on from a "
        "summary, /clear starts a new one"
    )


def test_a_prompt_counted_far_below_its_size_at_a_cap_or_filling_the_window_is_named() -> None:
    # 40 000 bytes are about 10 000 tokens: counted as 2 000 they were cut.
    far_below = truncation_warning(40_000, Usage(2000, 10), None)
    assert far_below is not None and "counted 2 000 tokens of about 10 000 sent" in far_below
    assert "--ctx-size" in far_below and "num_ctx" in far_below and "--max-model-len" in far_below
    at_cap = truncation_warning(20_000, Usage(4096, 10), None)
    assert at_cap is not None and at_cap.startswith("the server probably truncated the prompt")
    fills = truncation_warning(9000, Usage(2100, 10), ContextWindow(2100, "llama.cpp"))
    assert fills is not None and fills.endswith(
        "to raise its context: start llama-server with a larger --ctx-size"
    )
    ollama = truncation_warning(40_000, Usage(4096, 1), ContextWindow(4096, "Ollama"))
    assert ollama is not None and ollama.endswith("set num_ctx in a Modelfile or OLLAMA_CONTEXT_LENGTH")
    # Counts that fit what was sent say nothing: a short prompt, dense text, a prompt of exactly 4096 tokens.
    assert truncation_warning(400, Usage(30, 5), None) is None
    assert truncation_warning(40_000, Usage(9000, 5), WINDOW) is None
    assert truncation_warning(12_000, Usage(4096, 5), None) is None
    assert truncation_warning(4_000, Usage(100, 5), None) is None  # too small to have met any cap


def backend(server: OpenAIServer) -> OpenAIBackend:
    return OpenAIBackend(BackendSettings(base_url=server.url, timeout=5))


@pytest.mark.parametrize(
    ("fields", "window"),
    [
        ({"max_model_len": 32768}, ContextWindow(32768, "vLLM")),
        ({"context_length": 128000}, ContextWindow(128000, "OpenRouter")),
    ],
)
def test_the_window_comes_from_the_model_list(
    server: OpenAIServer, fields: dict[str, int], window: ContextWindow
) -> None:
    server.model_fields["test-model"] = fields
    assert backend(server).context_window("test-model") == window
    assert backend(server).context_window("other-model") is None  # listed without one; no /props, no Ollama


def test_the_window_comes_from_llama_cpp_props_beside_v1(server: OpenAIServer) -> None:
    server.props = {"default_generation_settings": {"n_ctx": 8192}, "chat_template": "x" * 100_000}
    assert backend(server).context_window("test-model") == ContextWindow(8192, "llama.cpp")
    assert [request.path for request in server.requests] == ["/v1/models", "/props"]


def test_ollama_on_v1_runs_with_the_context_it_loaded_the_model_with_else_its_default(
    server: OpenAIServer,
) -> None:
    server.ollama_version = "0.12.3"
    assert backend(server).context_window("test-model") == ContextWindow(4096, "Ollama", guessed=True)
    assert [request.path for request in server.requests] == [
        "/v1/models",
        "/props",
        "/api/version",
        "/api/ps",
    ]
    server.ollama_loaded = [
        {"name": "other-model:latest", "context_length": 8192},
        {"name": "test-model:latest", "model": "test-model:latest", "context_length": 32768},
    ]
    assert backend(server).context_window("test-model") == ContextWindow(32768, "Ollama")
    assert backend(server).context_window("other-model") == ContextWindow(8192, "Ollama")


def test_a_guessed_window_is_asked_again_after_a_turn_and_never_proves_truncation() -> None:
    answers = [ContextWindow(4096, "Ollama", guessed=True), ContextWindow(32768, "Ollama")]

    class Server:
        def context_window(self, model: str) -> ContextWindow | None:
            return answers.pop(0)

    windows = ContextWindows(lambda _: None, Server())
    assert windows.get("m", wait=5) == ContextWindow(4096, "Ollama", guessed=True)
    assert windows.get("m", wait=5) == ContextWindow(4096, "Ollama", guessed=True)  # asked once
    windows.renew("m")
    assert windows.get("m", wait=5) == ContextWindow(32768, "Ollama")
    windows.renew("m")  # known now: not asked again (another question would find no answer left)
    assert windows.get("m", wait=5) == ContextWindow(32768, "Ollama")
    # 5 000 tokens counted of about 5 000 sent fill a guessed 4096 window: the guess was wrong, not the prompt cut.
    assert truncation_warning(20_000, Usage(5000, 1), ContextWindow(4096, "Ollama", guessed=True)) is None


def test_a_server_that_says_nothing_or_nonsense_leaves_the_window_unknown(server: OpenAIServer) -> None:
    server.model_fields["test-model"] = {"max_model_len": "lots"}
    server.props = {"default_generation_settings": {"n_ctx": True}}
    assert backend(server).context_window("test-model") is None
    unreachable = OpenAIBackend(
        BackendSettings(base_url="http://127.0.0.1:9/v1", timeout=1, connect_timeout=1)
    )
    assert unreachable.context_window("test-model") is None


USAGE = {"prompt_tokens": 12000, "completion_tokens": 431, "total_tokens": 12431}


def test_usage_adds_the_context_line_from_the_server(server: OpenAIServer) -> None:
    server.model_fields["test-model"] = {"max_model_len": 32768}
    server.enqueue(sse_reply("fine", usage=USAGE))
    result = invoke("ask", "-u", "-b", "openai", "--base-url", server.url, "-m", "test-model", "hi")
    assert result.returncode == 0, result.stderr
    usage, estimate, context = result.stderr.decode().splitlines()
    assert usage.startswith("chatcli: usage: 12000 prompt + 431 completion tokens, ")
    assert estimate == "chatcli: prompt: 12 000 tokens (estimated 5 from the text's length)"
    assert context == "chatcli: context: 12 431 of 32 768 tokens (38%)"


def test_usage_takes_the_configured_window_without_asking_and_says_when_none_is_known(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, '[context_windows]\n"test-model" = 16384\n')
    server.enqueue(sse_reply("fine", usage=USAGE), sse_reply("fine", usage=USAGE))
    result = invoke("ask", "-u", "--base-url", server.url, "-m", "test-model", "hi")
    assert result.stderr.decode().splitlines()[-1] == "chatcli: context: 12 431 of 16 384 tokens (76%)"
    assert [request.method for request in server.requests] == [
        "POST"
    ]  # the config's window needs no question
    result = invoke("ask", "-u", "--base-url", server.url, "-m", "other-model", "hi")
    assert b"context: 12 431 tokens; the model's context window is unknown" in result.stderr


def test_without_usage_no_window_is_asked_for_and_no_context_line_shown(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("fine", usage=USAGE))
    result = invoke("ask", "--base-url", server.url, "-m", "test-model", "hi")
    assert result.returncode == 0
    assert result.stderr == b""
    assert [request.method for request in server.requests] == ["POST"]


def test_a_truncated_prompt_is_named_in_one_line(server: OpenAIServer) -> None:
    server.ollama_version = "0.5.7"
    server.enqueue(
        sse_reply("short", usage={"prompt_tokens": 4096, "completion_tokens": 2, "total_tokens": 4098})
    )
    result = invoke("ask", "--base-url", server.url, "-m", "test-model", input=b"word " * 8000)
    assert result.returncode == 0
    lines = result.stderr.decode().splitlines()
    assert lines == [
        "chatcli: warning: the server probably truncated the prompt: it counted 4 096 tokens of about 10 000 sent; "
        "to raise its context: Ollama: use -b ollama with context_window set, or set num_ctx in a Modelfile or OLLAMA_CONTEXT_LENGTH; llama.cpp: start "
        "llama-server with a larger --ctx-size; vLLM: start vLLM with a larger --max-model-len"
    ]


def test_a_context_window_must_be_a_positive_count(isolated_home: Path) -> None:
    write_config(isolated_home, '[context_windows]\n"m" = 0\n')
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert b"[context_windows] 'm' must be a number of tokens, at least 1" in result.stderr
    write_config(isolated_home, "context_window = -5\n")
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert b"context_window must be at least 1" in result.stderr


@pytest.mark.e2e
def test_the_toolbar_shows_the_gauge_and_the_chat_warns_once_near_the_limit(server: OpenAIServer) -> None:
    server.props = {"default_generation_settings": {"n_ctx": 32768}}
    near = {"prompt_tokens": 27000, "completion_tokens": 100, "total_tokens": 27100}
    server.enqueue(
        sse_reply("one", usage=USAGE), sse_reply("two", usage=near), sse_reply("three", usage=near)
    )
    child = spawn_chatcli("--base-url", server.url, "-m", "test-model", dimensions=(20, 140), encoding=None)
    repl = ScreenedChild(child, 140, 20)
    wait_for_toolbar, received = repl.wait_for_toolbar, repl.received
    wait_for_toolbar("Alt-Enter newline")
    child.send("hi\r")
    assert "ctx 12.4k/32.8k (38%)" in wait_for_toolbar("1 turn ")
    child.send("more\r")
    assert "ctx 27.1k/32.8k (83%)" in wait_for_toolbar("2 turns")
    child.send("again\r")
    wait_for_toolbar("3 turns")
    assert received.count(b"nearing the model's limit") == 1
    child.send("/clear\r")
    toolbar = wait_for_toolbar("0 turns")
    assert "ctx" not in toolbar
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()


@pytest.mark.e2e
def test_the_chat_names_a_prompt_the_server_probably_truncated(server: OpenAIServer, tmp_path: Path) -> None:
    from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli

    long_chat = tmp_path / "long.json"
    messages = [{"role": "user", "content": "word " * 8000}, {"role": "assistant", "content": "ok"}]
    long_chat.write_text(json.dumps({"version": 1, "model": "test-model", "messages": messages}))
    server.ollama_version = "0.5.7"
    server.enqueue(
        sse_reply("cut", usage={"prompt_tokens": 4096, "completion_tokens": 1, "total_tokens": 4097})
    )
    child = spawn_chatcli("--base-url", server.url, "-m", "test-model", "-l", str(long_chat), timeout=20)
    expect(child, TOOLBAR)
    say(
        child,
        "and now?",
        "cut",
        "the server probably truncated the prompt: it counted 4 096 tokens of about 10 002 sent; to raise its "
        "context: use -b ollama with context_window set, or set num_ctx in a Modelfile or OLLAMA_CONTEXT_LENGTH",
    )
    child.send("\x04")
    assert exit_code(child) == 0


def test_config_show_lists_the_context_windows(isolated_home: Path) -> None:
    write_config(isolated_home, 'context_window = 8192\n[context_windows]\n"llama3.1:8b" = 32768\n')
    shown = invoke("config", "show").stdout.decode().splitlines()
    assert any(re.fullmatch(r"context_window\s+8192\s+file", line) for line in shown), shown
    assert shown[-1] == 'context window "llama3.1:8b": 32768 tokens'
