"""The ollama backend end to end against the scripted server playing Ollama (tests/ollama_streams.py): the path,
headers and body chatcli sends, `think` only for a model /api/show says can think, a tool round, the context
window the gauge shows, `models`, and Ollama's errors in one line; in-process, and through the installed
command once (e2e)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from chatcli import __version__
from chatcli.backends import create_backend
from chatcli.core.context import ContextWindow
from chatcli.core.conversation import Conversation, Message
from chatcli.core.errors import BackendError
from chatcli.core.session import Session
from chatcli.core.stream import BackendSettings, ChatRequest, ToolCall
from tests import ollama_streams as docs
from tests.conftest import run_chatcli, write_config
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply
from tests.test_tool_loop import Renderer, ScriptedRunner


def root(server: OpenAIServer) -> str:
    """Ollama's own root, as its SDK takes it (the server's URL ends in /v1, which chatcli drops as well)."""
    return server.url.removesuffix("/v1")


def test_ask_posts_the_documented_request_to_api_chat_without_a_key(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(isolated_home, 'keep_alive = "-1"\n[context_windows]\n"llama3.2" = 16384\n')
    server.enqueue(docs.PLAIN)
    result = invoke("ask", "-b", "ollama", "--base-url", root(server), "-m", "llama3.2", "-t", "0", "why?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"The sky is blue because of Rayleigh scattering.\n"
    show, request = server.requests  # reasoning is shown by default: may the model think? (/api/show: 404)
    assert (show.path, show.body) == ("/api/show", {"model": "llama3.2"})
    assert (request.method, request.path) == ("POST", "/api/chat")
    assert "authorization" not in request.headers
    assert request.headers["user-agent"] == f"chatcli/{__version__}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "why?"}],
        "stream": True,
        "options": {"temperature": 0.0, "num_ctx": 16384},
        "keep_alive": -1,
    }


def test_a_base_url_with_v1_and_a_configured_key_still_reach_api_chat(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(isolated_home, 'api_key = "proxy-token"\n')
    server.enqueue(docs.ndjson_reply("ok"))
    result = invoke("ask", "-b", "ollama", "--base-url", server.url, "-m", "m", "hi")
    assert result.returncode == 0, result.stderr
    assert [request.path for request in server.requests] == ["/api/show", "/api/chat"]
    assert {request.headers["authorization"] for request in server.requests} == {"Bearer proxy-token"}


def test_usage_and_the_finish_reason_come_from_the_final_object(server: OpenAIServer) -> None:
    server.enqueue(docs.LENGTH)
    result = invoke("ask", "--json", "-b", "ollama", "--base-url", root(server), "-m", "llama3.2", "hi")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["content"], shown["finish_reason"], shown["model"]) == (
        "The sky is blue because",
        "length",
        "llama3.2",
    )
    assert (shown["usage"]["prompt_tokens"], shown["usage"]["completion_tokens"]) == (26, 4)


def test_no_stream_asks_for_the_whole_answer_and_reads_it(server: OpenAIServer) -> None:
    server.enqueue(json_reply(200, docs.WHOLE))
    result = invoke(
        "ask", "--no-stream", "-u", "-b", "ollama", "--base-url", root(server), "-m", "llama3.2", "hi"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello! How are you today?\n"
    assert b"usage: 26 prompt + 298 completion tokens" in result.stderr
    (chat,) = [request.body for request in server.requests if request.path == "/api/chat"]
    assert chat["stream"] is False


@pytest.mark.parametrize(
    ("capabilities", "think"), [(["completion", "thinking"], True), (["completion"], None), (None, None)]
)
def test_think_is_sent_with_reasoning_shown_only_to_a_model_that_can_think(
    server: OpenAIServer, capabilities: list[str] | None, think: bool | None
) -> None:
    server.ollama_show = docs.show(capabilities) if capabilities is not None else None  # None: /api/show 404
    server.enqueue(docs.THINKING, docs.THINKING)
    backend = create_backend("ollama", BackendSettings(base_url=root(server)))
    for _ in range(2):
        pieces = list(
            backend.stream(ChatRequest([Message("user", "17 × 23?")], "qwen3", reasoning_shown=True))
        )
        assert "**391**" in pieces
    shows = [request for request in server.requests if request.path == "/api/show"]
    assert [request.body for request in shows] == [{"model": "qwen3"}]  # asked once per model
    assert [body.get("think") for body in server.bodies if "messages" in body] == [think, think]


@pytest.mark.e2e  # waits out a connect timeout
def test_an_unreachable_server_is_waited_for_once_not_for_the_probe_and_again(blackhole: str) -> None:
    backend = create_backend("ollama", BackendSettings(base_url=blackhole, connect_timeout=0.5))
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"^cannot connect to .* within 0.5 s"):
        list(backend.stream(ChatRequest([Message("user", "q")], "qwen3", reasoning_shown=True)))
    assert time.monotonic() - started < 0.95


def test_think_is_not_asked_about_when_reasoning_is_hidden_or_set_by_the_user(server: OpenAIServer) -> None:
    server.ollama_show = docs.show(["thinking"])
    server.enqueue(docs.PLAIN, docs.PLAIN)
    backend = create_backend("ollama", BackendSettings(base_url=root(server)))
    list(backend.stream(ChatRequest([Message("user", "q")], "qwen3")))
    list(
        backend.stream(
            ChatRequest([Message("user", "q")], "qwen3", options={"think": "low"}, reasoning_shown=True)
        )
    )
    assert [request.path for request in server.requests] == ["/api/chat", "/api/chat"]
    assert [body.get("think") for body in server.bodies] == [None, "low"]


def test_a_tool_round_sends_calls_and_results_as_ollama_takes_them(server: OpenAIServer) -> None:
    server.enqueue(docs.TOOLS, docs.ndjson_reply("It is 11 degrees in Tokyo."))
    runner = ScriptedRunner(lambda call: "11 degrees celsius")
    backend = create_backend("ollama", BackendSettings(base_url=root(server)))
    session = Session(backend, Conversation(), "llama3.2", tools=runner)
    result = session.turn("what is the weather in tokyo?", Renderer())
    assert (result.text, runner.ran) == ("It is 11 degrees in Tokyo.", ["get_weather"])
    asked, answered = server.bodies
    assert asked["tools"] == list(runner.definitions())
    assert answered["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}],
        },
        {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"},
    ]
    assert session.conversation.messages[1].extra["tool_calls"] == [
        ToolCall("call_0", "get_weather", '{"city": "Tokyo"}').to_api()
    ]


def test_the_context_window_is_the_setting_else_the_loaded_context_else_a_guess(server: OpenAIServer) -> None:
    settings = BackendSettings(base_url=root(server), context_windows={"big": 65536})
    backend = create_backend("ollama", settings)
    window = backend.context_window  # type: ignore[attr-defined]
    assert window("big") == ContextWindow(65536, "config")
    assert window("qwen3") is None  # no Ollama answers: the gauge says nothing rather than guess
    server.ollama_version = "0.12.6"
    server.ollama_show = docs.show(["completion"], context_length=2048)
    assert window("qwen3") == ContextWindow(
        2048, "Ollama", guessed=True
    )  # the default, cut to the model's own
    server.ollama_show = docs.show(["completion"], context_length=131072)
    assert window("qwen3") == ContextWindow(4096, "Ollama", guessed=True)
    server.ollama_show = docs.show(
        ["completion"], parameters='num_ctx                        8192\nstop "<|im_end|>"'
    )
    assert window("qwen3") == ContextWindow(8192, "Ollama")  # the Modelfile's PARAMETER num_ctx
    server.ollama_loaded = [{"name": "qwen3:latest", "model": "qwen3:latest", "context_length": 40960}]
    assert window("qwen3") == ContextWindow(40960, "Ollama")  # what it runs with, once loaded


def test_models_lists_api_tags(server: OpenAIServer) -> None:
    server.enqueue(json_reply(200, docs.TAGS))
    result = invoke("models", "-b", "ollama", "--base-url", root(server))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"deepseek-r1:latest\nllama3.2:latest\n"
    assert (server.requests[0].method, server.requests[0].path) == ("GET", "/api/tags")


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            json_reply(404, {"error": 'model "llama9" not found, try pulling it first'}),
            'model "llama9" is not on this server; pull it with `ollama pull llama9`',
        ),
        (
            json_reply(
                400, {"error": "registry.ollama.ai/library/llama3.2:latest does not support thinking"}
            ),
            "does not support thinking",
        ),
        (docs.ERROR, "server reported an error mid-stream: an error was encountered while running the model"),
    ],
)
def test_ollamas_errors_are_one_line(server: OpenAIServer, reply: Any, says: str) -> None:
    server.enqueue(reply)
    result = invoke("ask", "-b", "ollama", "--base-url", root(server), "-m", "llama9", "hi")
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatcli: error: ") and says in lines[0], lines


@pytest.mark.e2e
def test_the_installed_command_speaks_ollama(server: OpenAIServer) -> None:
    server.enqueue(docs.THINKING, json_reply(200, docs.TAGS))
    server.ollama_show = docs.show(["completion", "thinking"])
    result = run_chatcli(
        "ask", "-b", "ollama", "--base-url", root(server), "-m", "qwen3", "-u", "-R", "17 × 23?"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "17 × 23 = **391**\n".encode()
    assert b"usage: 18 prompt + 61 completion tokens" in result.stderr
    chat = next(request for request in server.requests if request.path == "/api/chat")
    assert chat.body["think"] is True
    listed = run_chatcli("models", "-b", "ollama", "--base-url", root(server))
    assert (listed.returncode, listed.stdout) == (0, b"deepseek-r1:latest\nllama3.2:latest\n")
