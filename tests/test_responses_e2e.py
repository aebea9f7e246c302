"""chatcli with `-b responses` against the scripted local server: the path, headers and body it sends (each body
checked by the openai SDK's types), the answer, usage and reasoning it reads, a tool loop with a real MCP server
whose encrypted reasoning goes back, and a refusal of reasoning summaries. The first turn and the imports are
the installed chatcli's; the rest runs in this process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from tests.conftest import TEST_KEY, run_chatcli
from tests.inprocess import invoke
from tests.leaks import assert_clean, one_line_error
from tests.openai_server import OpenAIServer, Reply, json_reply
from tests.responses_streams import ResponseStream, llama_stream
from tests.test_imports import heavy_modules_loaded
from tests.test_responses_conformance import conforms
from tests.test_tools_e2e import configure

ENV = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_ORG_ID": "org-7", "OPENAI_PROJECT_ID": "proj_9"}


def ask(server: OpenAIServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    return invoke("-b", "responses", "--base-url", server.url, "ask", *args, env=ENV)


@pytest.mark.e2e
def test_a_turn_sends_the_responses_request_and_prints_the_answer(
    server: OpenAIServer, isolated_home: Path
) -> None:
    server.enqueue(ResponseStream(model="gpt-4.1-2025").message("Hello", " there.").completed().reply())
    done = run_chatcli(
        "-b", "responses", "--base-url", server.url, "ask", "-m", "gpt-4.1", "-s", "be terse",
        "--max-tokens", "50", "-t", "0.5", "-O", "top_p", "0.9", "--json", "hi",
        env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "content": "Hello there.",
        "model": "gpt-4.1-2025",
        "backend": "responses",
        "finish_reason": "stop",
        "usage": {
            "prompt_tokens": 31,
            "completion_tokens": 45,
            "total_tokens": 76,
            "cache_read_tokens": 12,
            "cache_write_tokens": 3,
            "reasoning_tokens": 20,
        },
        "estimate": {"prompt_tokens": 11, "method": "text length", "cost": None},
    }
    (request,) = [request for request in server.requests if request.method == "POST"]
    assert request.path == "/v1/responses"
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert (request.headers["openai-organization"], request.headers["openai-project"]) == ("org-7", "proj_9")
    conforms(request.body)
    assert request.body == {
        "store": False,
        "top_p": 0.9,
        "model": "gpt-4.1",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "stream": True,
        "instructions": "be terse",
        "temperature": 0.5,
        "max_output_tokens": 50,
    }
    assert_clean(done, isolated_home)


@pytest.mark.e2e  # a real MCP server
def test_a_tool_loop_sends_the_encrypted_reasoning_and_the_results_back(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    first = (
        ResponseStream()
        .reasoning(["**Adding** the numbers."])
        .function_call("notes__add", '{"a": 2,', ' "b": 3}', call_id="call_sum")
        .completed()
    )
    server.enqueue(first.reply(), ResponseStream().message("It is 5.").completed().reply())
    saved = isolated_home / "saved.json"
    done = ask(
        server, "-m", "o4-mini", "--tools", "notes", "--yes-tools", "notes__add", "-o", str(saved), "2+3?"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"It is 5.\n"
    asking, answering = server.bodies
    for body in (asking, answering):
        conforms(body)
        assert body["reasoning"] == {"summary": "auto"} and body["include"] == ["reasoning.encrypted_content"]
    add = next(tool for tool in asking["tools"] if tool["name"] == "notes__add")
    assert (
        add["type"] == "function" and add["strict"] is False and add["parameters"]["required"] == ["a", "b"]
    )
    assert answering["input"][1:] == [
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "**Adding** the numbers."}],
            "encrypted_content": "gAAAA-opaque",
        },
        {
            "type": "function_call",
            "call_id": "call_sum",
            "name": "notes__add",
            "arguments": '{"a": 2, "b": 3}',
        },
        {"type": "function_call_output", "call_id": "call_sum", "output": "5"},
    ]
    kept = json.loads(saved.read_text())["messages"][1]
    assert kept["provider_items"]["responses"] == [first.output[0]]  # saved for the next turn, as it came


def test_refused_reasoning_summaries_are_asked_again_without_them(server: OpenAIServer) -> None:
    refusal = {
        "error": {
            "message": "Your organization must be verified to generate reasoning summaries.",
            "type": "invalid_request_error",
            "param": "reasoning.summary",
            "code": "unsupported_value",
        }
    }
    server.enqueue(json_reply(400, refusal), ResponseStream().message("Fine.").completed().reply())
    done = ask(server, "-m", "o3", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Fine.\n"
    assert b"refused to summarize the reasoning" in done.stderr
    first, second = server.bodies
    assert first["reasoning"] == {"summary": "auto"} and "reasoning" not in second
    assert second["include"] == ["reasoning.encrypted_content"]


def test_an_error_status_is_the_openai_message(server: OpenAIServer) -> None:
    message = "The model `gpt-9` does not exist or you do not have access to it."
    server.enqueue(json_reply(404, {"error": {"message": message, "type": "invalid_request_error"}}))
    done = ask(server, "-m", "gpt-9", "hi")
    assert (done.returncode, done.stdout) == (1, b"")
    assert message in one_line_error(done)


def test_a_failed_response_is_one_line(server: OpenAIServer) -> None:
    server.enqueue(ResponseStream().failed("The server had an error while processing your request.").reply())
    done = ask(server, "hi")
    assert (done.returncode, done.stdout) == (1, b"")
    assert one_line_error(done) == (
        "server reported an error mid-stream: The server had an error while processing your request."
    )


def test_a_whole_answer_is_read_without_streaming(server: OpenAIServer) -> None:
    stream = ResponseStream().reasoning(["Brief."]).message("All at once.").completed()
    server.enqueue(json_reply(200, stream.events[-1]["response"]))
    done = ask(server, "--no-stream", "-m", "o3", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"All at once.\n"
    (body,) = server.bodies
    assert body["stream"] is False
    from openai.types.responses import response_create_params  # the SDK only when this test runs

    TypeAdapter(response_create_params.ResponseCreateParamsNonStreaming).validate_python(body)


@pytest.mark.e2e
def test_piped_ask_never_imports_the_openai_sdk(server: OpenAIServer) -> None:
    server.enqueue(ResponseStream().message("Light.").completed().reply())
    loaded, done = heavy_modules_loaded("-b", "responses", "ask", "--base-url", server.url, stdin=b"hi\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Light.\n"
    assert loaded == ["httpcore2", "httpx2"]


def test_a_llama_cpp_stream_is_read_once_each_piece(server: OpenAIServer) -> None:
    """llama-server's stream (no indexes, done events repeating the text), as its source writes it."""
    server.enqueue(Reply(body=[llama_stream("Hel", "lo", " there.")]))
    done = ask(server, "--json", "hi")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "content": "Hello there.",
        "model": "tiny",
        "backend": "responses",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
        "estimate": {"prompt_tokens": 5, "method": "text length", "cost": None},
    }
