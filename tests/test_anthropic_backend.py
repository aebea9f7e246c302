"""The anthropic backend through chatcli's own surfaces, against the scripted local server speaking the Messages
API: the request (path, key and version headers, body), answers and their stop reasons, errors and retries,
the token count, and (e2e: a real MCP server, then the installed chatcli) a tool loop whose signed thinking goes
back to the server, in that turn and in later ones, and to no other backend."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.backends.anthropic.client import AnthropicBackend
from chatcli.core.conversation import Message
from chatcli.core.stream import BackendSettings, ChatRequest
from tests.anthropic_stream import anthropic_reply, message_end, message_start, thinking_block, tool_use_block
from tests.conftest import TEST_KEY, run_chatcli
from tests.inprocess import invoke
from tests.leaks import one_line_error
from tests.openai_server import MESSAGES_COUNT_PATH, OpenAIServer, Reply, json_reply
from tests.test_imports import heavy_modules_loaded

KEY = {"ANTHROPIC_API_KEY": TEST_KEY}
CACHE = {"type": "ephemeral"}
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"


def root(server: OpenAIServer) -> str:
    """The server as Anthropic's SDK takes it: its root, without /v1."""
    return server.url.removesuffix("/v1")


def ask(server: OpenAIServer, *args: str) -> Any:
    return invoke("ask", "-b", "anthropic", "--base-url", root(server), *args, env=KEY)


def test_a_turn_is_a_messages_request_with_the_key_header_the_version_and_cache_points(
    server: OpenAIServer,
) -> None:
    server.enqueue(anthropic_reply("Hello", " there."))
    result = ask(server, "-s", "be terse", "hi")
    assert (result.returncode, result.stdout) == (0, b"Hello there.\n"), result.stderr
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == TEST_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": CACHE}]}],
        "system": [{"type": "text", "text": "be terse", "cache_control": CACHE}],
        "max_tokens": 8192,
        "stream": True,
    }


def test_options_max_tokens_and_prompt_cache_off_reach_the_body(
    server: OpenAIServer, isolated_home: Path
) -> None:
    (isolated_home / ".config" / "chatcli").mkdir(parents=True)
    (isolated_home / ".config" / "chatcli" / "config.toml").write_text("prompt_cache = false\n")
    server.enqueue(anthropic_reply("ok"))
    args = ("--max-tokens", "300", "-t", "0.5", "-O", "top_k", "4", "-O", "reasoning_effort", "low", "hi")
    assert ask(server, *args).returncode == 0
    body = server.bodies[0]
    assert (body["max_tokens"], body["temperature"], body["top_k"]) == (300, 0.5, 4)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert "cache_control" not in json.dumps(body) and "reasoning_effort" not in body


def test_a_whole_answer_without_streaming(server: OpenAIServer) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": "Whole."}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    server.enqueue(json_reply(200, message))
    result = ask(server, "--no-stream", "--json", "hi")
    assert result.returncode == 0, result.stderr
    assert server.bodies[0]["stream"] is False
    output = json.loads(result.stdout.splitlines()[-1])
    assert (output["content"], output["model"], output["finish_reason"]) == ("Whole.", "claude-test", "stop")
    assert output["usage"]["prompt_tokens"] == 3


@pytest.mark.parametrize(
    ("reply", "stdout", "warning"),
    [
        (anthropic_reply("Cut", stop_reason="max_tokens"), b"Cut\n", "cut off at the token limit"),
        (
            Reply(body=[message_start(), *message_end("refusal")]),
            b"",
            "the model declined to answer (stop_reason: refusal)",
        ),
        (anthropic_reply("So far", stop_reason="pause_turn"), b"So far\n", "paused the turn"),
        (
            anthropic_reply("Full", stop_reason="model_context_window_exceeded"),
            b"Full\n",
            "cut off at the model's context window",
        ),
    ],
    ids=["max_tokens", "refusal", "pause_turn", "context_window"],
)
def test_every_stop_reason_that_ends_an_answer_early_says_so_in_one_line(
    server: OpenAIServer, reply: Reply, stdout: bytes, warning: str
) -> None:
    server.enqueue(reply)
    result = ask(server, "hi")
    assert result.stdout == stdout
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith("chatcli: warning: ") and warning in line


def test_a_bad_key_names_the_anthropic_variable(server: OpenAIServer) -> None:
    error = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    server.enqueue(json_reply(401, error))
    result = ask(server, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"authentication failed at {root(server)} (401: invalid x-api-key (authentication_error)); "
        "check ANTHROPIC_API_KEY or api_key_cmd"
    )


def test_a_prompt_too_long_says_the_conversation_is_too_long(server: OpenAIServer) -> None:
    message = "prompt is too long: 210417 tokens > 200000 maximum"
    server.enqueue(
        json_reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}})
    )
    result = ask(server, "-m", "claude-test", "hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"the conversation is too long for model 'claude-test' ({message} (invalid_request_error)); "
        "start a new conversation or use a model with a longer context"
    )


def test_an_overloaded_server_is_retried(server: OpenAIServer) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.enqueue(json_reply(529, overloaded, {"retry-after": "0"}), anthropic_reply("Back."))
    result = ask(server, "hi")
    assert (result.returncode, result.stdout) == (0, b"Back.\n"), result.stderr
    assert "waiting 0s (server error 529)" in result.stderr.decode()
    assert len(server.bodies) == 2


def test_models_asks_for_every_model_in_one_page(server: OpenAIServer) -> None:
    server.models = None
    server.enqueue(json_reply(200, {"data": [{"type": "model", "id": "claude-b"}, {"id": "claude-a"}]}))
    result = invoke("models", "-b", "anthropic", "--base-url", root(server), env=KEY)
    assert (result.returncode, result.stdout) == (0, b"claude-a\nclaude-b\n"), result.stderr
    assert server.requests[0].path == "/v1/models?limit=1000"
    assert server.requests[0].headers["x-api-key"] == TEST_KEY


def test_the_server_counts_the_prompt_tokens_or_none(server: OpenAIServer) -> None:
    backend = AnthropicBackend(BackendSettings(base_url=root(server), api_key=TEST_KEY))
    request = ChatRequest([Message("system", "s"), Message("user", "hi")], "claude-test", 0.3, 50)
    server.token_counts[MESSAGES_COUNT_PATH] = 14
    assert backend.count_prompt_tokens(request) == 14
    server.count_errors[MESSAGES_COUNT_PATH] = 404
    assert backend.count_prompt_tokens(request) is None
    first = server.count_requests[0]
    assert first.path == "/v1/messages/count_tokens" and first.headers["x-api-key"] == TEST_KEY
    assert first.body == {
        "model": "claude-test",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "system": "s",
    }


# -- a tool loop with thinking, through the installed chatcli -------------------------------------------------------

MCP_SERVER = Path(__file__).with_name("mcp_server.py")


def configure_tools(home: Path) -> None:
    notes = home / "notes"
    notes.mkdir()
    config = home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"[mcp.notes]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(MCP_SERVER))}]\n"
        f"env = {{ NOTES_DIR = {json.dumps(str(notes))} }}\n"
    )


@pytest.mark.e2e
def test_signed_thinking_goes_back_first_in_the_tool_loop_and_later_turns_but_never_to_another_backend(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    configure_tools(isolated_home)
    asking = Reply(
        body=[
            message_start(),
            *thinking_block(0, "Add them", " with the tool.", signature=SIGNATURE),
            *tool_use_block(1, "toolu_1", "notes__add", '{"a": 2, "b": 3}'),
            *message_end("tool_use"),
        ]
    )
    server.enqueue(asking, anthropic_reply("It is 5."), anthropic_reply("Still 5."))
    saved = tmp_path / "conversation.json"
    base = ("ask", "-b", "anthropic", "--base-url", root(server), "-O", "reasoning_effort", "low")
    tools = ("--tools", "notes", "--yes-tools", "notes__add")
    done = invoke(*base, *tools, "-o", str(saved), "what is 2+3?", env=KEY)
    assert (done.returncode, done.stdout) == (0, b"It is 5.\n"), done.stderr
    first, second = server.bodies
    assert first["tools"][0]["name"] == "notes__add" and "input_schema" in first["tools"][0]
    assert first["tools"][-1]["cache_control"] == CACHE
    thinking = {"type": "thinking", "thinking": "Add them with the tool.", "signature": SIGNATURE}
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "notes__add", "input": {"a": 2, "b": 3}}
    assert second["messages"][1:] == [
        {"role": "assistant", "content": [thinking, tool_use]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "5"}],
                    "cache_control": CACHE,
                }
            ],
        },
    ]
    kept = json.loads(saved.read_text())["messages"][1]  # the thinking is reasoning, and kept to send back
    assert (kept["reasoning"], kept["provider_items"]) == (
        "Add them with the tool.",
        {"anthropic": [thinking]},
    )
    later = run_chatcli(*base, "-l", str(saved), "and again?", env=KEY, timeout=60)
    assert later.returncode == 0, later.stderr
    assert server.bodies[2]["messages"][1]["content"][0] == thinking

    server.enqueue(json_reply(200, {"choices": [{"message": {"content": "5"}, "finish_reason": "stop"}]}))
    other = invoke("ask", "-b", "openai", "--base-url", server.url, "-l", str(saved), "once more", env=KEY)
    assert other.returncode == 0, other.stderr
    assert SIGNATURE not in json.dumps(server.bodies[3])


@pytest.mark.e2e
def test_piped_ask_on_anthropic_loads_the_http_client_but_never_the_sdk(server: OpenAIServer) -> None:
    server.enqueue(anthropic_reply("Light."))
    loaded, done = heavy_modules_loaded("ask", "-b", "anthropic", "--base-url", root(server), stdin=b"hi\n")
    assert (done.returncode, done.stdout) == (0, b"Light.\n"), done.stderr
    assert loaded == ["httpcore2", "httpx2"]  # HEAVY has anthropic: the probe would see the SDK
    assert "x-api-key" not in server.requests[0].headers  # a local server without a key
