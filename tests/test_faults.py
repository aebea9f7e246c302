"""Network and stream faults (reliability checklist, section D), injected by the local server, seen through
`chatcli ask` (in-process; a few through the installed command, and those that wait out real timeouts, are e2e):
each gets its own one-line message and exit code, and nothing leaks."""

from __future__ import annotations

import io
import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, run_chatcli, write_config
from tests.inprocess import invoke
from tests.leaks import assert_clean, one_line_error
from tests.openai_server import (
    DROP,
    OpenAIServer,
    Reply,
    chunk,
    echo_auth_reply,
    json_reply,
    sse_event,
    sse_reply,
    text_reply,
)

Result = subprocess.CompletedProcess[bytes]
Ask = Callable[..., Result]
HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    + ("<hr><center>nginx</center>" * 40)
    + "</body></html>"
)


def asking(server: OpenAIServer, tmp_path: Path, runner: Callable[..., Result]) -> Ask:
    """`chatcli ask --base-url <server> ARGS` with the test key set; every run is checked for leaks."""

    def run(*args: str, base_url: str | None = None, input: bytes = b"") -> Result:
        result = runner(
            "ask", "--base-url", base_url or server.url, *args, input=input, env={"OPENAI_API_KEY": TEST_KEY}
        )
        assert_clean(result, tmp_path)
        return result

    return run


@pytest.fixture
def ask(server: OpenAIServer, tmp_path: Path) -> Ask:
    return asking(server, tmp_path, invoke)


@pytest.fixture
def installed_ask(server: OpenAIServer, tmp_path: Path) -> Ask:
    """`ask`, through the installed command in a subprocess."""
    return asking(server, tmp_path, run_chatcli)


def sse_body(*events: object) -> list[object]:
    return [
        sse_event(event) if not isinstance(event, bytes | float) and event is not DROP else event
        for event in events
    ]


# -- HTTP status errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_that_echoes_the_key_is_one_redacted_line_and_not_retried(
    ask: Ask, server: OpenAIServer, status: int
) -> None:
    server.enqueue(echo_auth_reply(status))
    result = ask("hi")
    assert result.returncode == 1
    message = one_line_error(result)
    assert message.startswith(
        f"authentication failed at {server.url} ({status}: Incorrect API key provided: "
    )
    assert "Bearer [redacted]" in message and "check OPENAI_API_KEY" in message
    assert len(server.bodies) == 1


@pytest.mark.parametrize(
    "reply",
    [
        json_reply(
            404, {"error": {"message": "The model `no-such-model` does not exist", "code": "model_not_found"}}
        ),
        text_reply(404, "<html><body><h1>404 Not Found</h1><p>nginx</p></body></html>"),
    ],
    ids=["json", "html"],
)
def test_not_found_names_the_model_and_base_url_and_hints_at_v1(
    ask: Ask, server: OpenAIServer, reply: Reply
) -> None:
    server.enqueue(reply)
    result = ask("-m", "no-such-model", "hi")
    assert result.returncode == 1
    message = one_line_error(result)
    assert f"not found at {server.url} (404) for model 'no-such-model'" in message
    assert "does the base URL end in /v1?" in message
    assert "<" not in message
    assert len(server.bodies) == 1


@pytest.mark.e2e  # waits out a 1 s Retry-After
def test_rate_limit_says_it_waits_honours_retry_after_then_answers(ask: Ask, server: OpenAIServer) -> None:
    server.enqueue(
        json_reply(
            429, {"error": {"message": "Rate limit reached", "type": "requests"}}, {"Retry-After": "1"}
        ),
        sse_reply("finally"),
    )
    result = ask("hi")
    assert result.returncode == 0
    assert result.stdout == b"finally\n"
    assert result.stderr == "chatcli: waiting 1s (rate limited)…\n".encode()
    assert len(server.bodies) == 2


def test_rate_limit_gives_up_after_two_retries(ask: Ask, server: OpenAIServer) -> None:
    limited = json_reply(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After-Ms": "10"})
    server.enqueue(limited, limited, limited)
    result = ask("hi")
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines[:2] == ["chatcli: waiting 1s (rate limited)…"] * 2
    assert lines[2].startswith(
        f"chatcli: error: rate limited by {server.url} (429 after 3 attempts: Rate limit"
    )
    assert len(lines) == 3
    assert len(server.bodies) == 3


def test_exhausted_quota_is_not_retried(ask: Ask, server: OpenAIServer) -> None:
    error = {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
    server.enqueue(json_reply(429, {"error": error}, {"Retry-After": "1"}))
    result = ask("hi")
    assert result.returncode == 1
    assert one_line_error(result).startswith(
        f"quota exhausted at {server.url} (429: You exceeded your current quota)"
    )
    assert len(server.bodies) == 1


def test_retry_after_beyond_a_minute_is_an_error_not_a_silent_long_wait(
    ask: Ask, server: OpenAIServer
) -> None:
    server.enqueue(json_reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "3600"}))
    result = ask("hi")
    assert result.returncode == 1
    assert (
        one_line_error(result)
        == f"rate limited by {server.url} (429: slow down); the server asks to wait 3600 s"
    )
    assert len(server.bodies) == 1


def test_server_error_with_an_html_page_is_retried_then_one_short_line_without_markup(
    ask: Ask, server: OpenAIServer
) -> None:
    bad_gateway = Reply(502, {"Content-Type": "text/html", "Retry-After": "0"}, [HTML_502.encode()])
    server.enqueue(bad_gateway, bad_gateway, bad_gateway)
    result = ask("hi")
    assert result.returncode == 1
    *waits, error = result.stderr.decode().splitlines()
    assert waits == ["chatcli: waiting 0s (server error 502)…"] * 2
    assert error.startswith(
        f"chatcli: error: server error at {server.url} (502 after 3 attempts: 502 Bad Gateway"
    )
    assert "<" not in error and len(error) < 350
    assert len(server.bodies) == 3


def test_context_length_exceeded_says_the_conversation_is_too_long(ask: Ask, server: OpenAIServer) -> None:
    message = (
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    )
    server.enqueue(json_reply(400, {"error": {"message": message, "code": "context_length_exceeded"}}))
    result = ask("-m", "small", "hi")
    assert result.returncode == 1
    assert one_line_error(result).startswith(
        "the conversation is too long for model 'small' (This model's maximum"
    )
    assert len(server.bodies) == 1


def test_a_failed_turn_leaves_the_conversation_as_it_was(server: OpenAIServer) -> None:
    from chatcli.backends.openai.client import OpenAIBackend
    from chatcli.core.conversation import Conversation, Message
    from chatcli.core.errors import BackendError
    from chatcli.core.session import Session
    from chatcli.core.stream import BackendSettings
    from chatcli.render.plain import PlainRenderer

    before = [
        Message("system", "terse"),
        Message("user", "long question"),
        Message("assistant", "long answer"),
    ]
    conversation = Conversation(list(before), "small")
    session = Session(OpenAIBackend(BackendSettings(base_url=server.url)), conversation, "small")
    error = {"message": "maximum context length is 10 tokens", "code": "context_length_exceeded"}
    server.enqueue(json_reply(400, {"error": error}))
    with pytest.raises(BackendError, match="too long for model 'small'"):
        session.turn("one more", PlainRenderer(io.BytesIO()))
    assert conversation.messages == before


# -- connection failures ------------------------------------------------------------------------------------


def test_connection_refused_names_the_url(ask: Ask) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    result = ask("hi", base_url=closed)
    assert result.returncode == 1
    assert (
        one_line_error(result) == f"cannot connect to {closed} (connection refused); is the server running?"
    )


def test_unknown_host_names_the_host(ask: Ask) -> None:
    result = ask("hi", base_url="http://nonexistent.invalid/v1")
    assert result.returncode == 1
    assert one_line_error(result) == (
        "cannot connect to http://nonexistent.invalid/v1 (unknown host nonexistent.invalid); check the base URL"
    )


def test_tls_to_a_plain_http_server_says_so(ask: Ask, server: OpenAIServer) -> None:
    https = server.url.replace("http://", "https://")
    result = ask("hi", base_url=https)
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"cannot connect to {https} (TLS handshake failed: the server does not speak TLS; http:// rather than "
        "https://?); check the base URL"
    )


@pytest.mark.e2e  # waits out a real timeout
def test_connect_timeout_comes_from_the_config(ask: Ask, isolated_home: Path, blackhole: str) -> None:
    write_config(isolated_home, "connect_timeout = 0.3\n")
    result = ask("hi", base_url=blackhole)
    assert result.returncode == 1
    assert one_line_error(result).startswith(f"cannot connect to {blackhole} (no answer within 0.3 s)")


# -- stream faults ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_stream_cut_mid_answer_keeps_the_partial_text_warns_and_exits_1(
    installed_ask: Ask, server: OpenAIServer, tmp_path: Path
) -> None:
    saved = tmp_path / "chat.json"
    server.enqueue(Reply(body=sse_body(chunk("The answer is"), chunk(" forty"), DROP)))
    result = installed_ask("-o", str(saved), "question")
    assert result.returncode == 1
    assert result.stdout == b"The answer is forty\n"
    assert one_line_error(result).startswith("the answer ended early")
    assert json.loads(saved.read_text())["messages"][-1] == {
        "role": "assistant",
        "content": "The answer is forty",
        "status": "failed",
    }
    assert len(server.bodies) == 1  # never retried once text reached the user


def test_stream_without_done_or_finish_reason_is_an_early_end(ask: Ask, server: OpenAIServer) -> None:
    server.enqueue(sse_reply("half", finish_reason=None, done=False))
    result = ask("hi")
    assert result.returncode == 1
    assert result.stdout == b"half\n"
    assert one_line_error(result).startswith("the answer ended early")


def test_error_event_mid_stream_is_reported_and_not_retried(ask: Ask, server: OpenAIServer) -> None:
    server.enqueue(Reply(body=sse_body(chunk("Par"), {"error": {"message": "upstream overloaded"}})))
    result = ask("hi")
    assert result.returncode == 1
    assert result.stdout == b"Par\n"
    assert one_line_error(result) == "server reported an error mid-stream: upstream overloaded"
    assert len(server.bodies) == 1


@pytest.mark.e2e  # waits out a real timeout
def test_idle_gap_longer_than_timeout_is_a_stall_with_the_partial_answer_kept(
    ask: Ask, server: OpenAIServer
) -> None:
    server.enqueue(
        Reply(body=sse_body(chunk("so far"), 3.0, chunk(" too late"), chunk(finish_reason="stop")))
    )
    result = ask("--timeout", "0.5", "hi")
    assert result.returncode == 1
    assert result.stdout == b"so far\n"
    assert one_line_error(result) == (
        f"the answer stalled: no data from {server.url} for 0.5 s; raise --timeout for a slow server"
    )


@pytest.mark.e2e  # waits 1.5 s for the first token
def test_slow_first_token_is_not_cut_by_the_short_idle_timeout(ask: Ask, server: OpenAIServer) -> None:
    server.enqueue(Reply(body=sse_body(1.5, chunk("thought"), chunk(" hard"), chunk(finish_reason="stop"))))
    result = ask("--timeout", "0.5", "hi")
    assert result.returncode == 0
    assert result.stdout == b"thought hard\n"


@pytest.mark.e2e  # waits out a real timeout
def test_first_token_timeout_comes_from_the_config(
    ask: Ask, server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, "first_token_timeout = 0.5\n")
    server.enqueue(Reply(body=sse_body(3.0, chunk("late"), chunk(finish_reason="stop"))))
    result = ask("hi")
    assert result.returncode == 1
    assert one_line_error(result).startswith(f"no answer from {server.url} within 0.5 s")


@pytest.mark.e2e  # waits for a stall
def test_keep_alive_comments_do_not_keep_a_stalled_stream_alive(ask: Ask, server: OpenAIServer) -> None:
    """Issue 18: only real data renews the idle timeout; a comment every 0.25 s is no progress."""
    keep_alive = [b": keep-alive\n\n", 0.25] * 10  # 2.5 s without data, never more than 0.25 s without a byte
    server.enqueue(Reply(body=sse_body(chunk("a"), *keep_alive, chunk("b"), chunk(finish_reason="stop"))))
    result = ask("--timeout", "1", "hi")
    assert result.returncode == 1
    assert result.stdout == b"a\n"
    assert one_line_error(result).startswith(f"the answer stalled: no data from {server.url} for 1 s")


@pytest.mark.parametrize(
    "bad",
    [b"data: {not json\n\n", sse_event({"choices": [None]}), sse_event({"choices": [{"delta": "text"}]})],
    ids=["invalid-json", "null-choice", "string-delta"],
)
def test_malformed_stream_data_keeps_the_partial_answer(ask: Ask, server: OpenAIServer, bad: bytes) -> None:
    server.enqueue(Reply(body=[*sse_body(chunk("partial")), bad, *sse_body(chunk(finish_reason="stop"))]))
    result = ask("hi")
    assert result.returncode == 1
    assert result.stdout == b"partial\n"
    assert one_line_error(result) == "server sent malformed stream data"


def test_html_page_with_status_200_is_an_error_naming_what_came_back(ask: Ask, server: OpenAIServer) -> None:
    server.enqueue(text_reply(200, "<html><body>Welcome to nginx!</body></html>"))
    result = ask("hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{server.url} answered with text/html instead of an event stream; is this an OpenAI-compatible endpoint?"
    )


def test_whole_json_completion_instead_of_a_stream_is_still_shown(ask: Ask, server: OpenAIServer) -> None:
    completion = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}
        ]
    }
    server.enqueue(json_reply(200, completion))
    result = ask("hi")
    assert result.returncode == 0
    assert result.stdout == b"whole\n"


def test_empty_choices_null_content_and_reasoning_stay_out_of_piped_output(
    ask: Ask, server: OpenAIServer
) -> None:
    events = [
        {**chunk(), "choices": []},
        chunk(reasoning_content="Let me think."),
        {**chunk(), "choices": [{"index": 0, "delta": {"content": None}, "finish_reason": None}]},
        chunk("Answer."),
        chunk(finish_reason="stop"),
    ]
    server.enqueue(Reply(body=[*sse_body(*events), b"data: [DONE]\n\n"]))
    result = ask("hi")
    assert result.returncode == 0
    assert result.stdout == b"Answer.\n"
    assert result.stderr == b""


@pytest.mark.parametrize(
    ("reason", "warning"),
    [("length", "cut off at the token limit"), ("content_filter", "content filter stopped the answer")],
)
def test_unfinished_answers_warn_on_stderr(ask: Ask, server: OpenAIServer, reason: str, warning: str) -> None:
    server.enqueue(sse_reply("Once upon a", finish_reason=reason))
    result = ask("hi")
    assert result.returncode == 0
    assert result.stdout == b"Once upon a\n"
    assert warning in result.stderr.decode() and result.stderr.count(b"\n") == 1


@pytest.mark.e2e
def test_a_four_megabyte_line_arrives_whole(installed_ask: Ask, server: OpenAIServer) -> None:
    huge = "x" * (4 * 1024 * 1024)
    server.enqueue(sse_reply(huge))
    result = installed_ask("hi")
    assert result.returncode == 0
    assert result.stdout == huge.encode() + b"\n"


def test_reasoning_is_shown_dimmed_and_sanitised_on_a_terminal_stderr_never_in_stdout(
    server: OpenAIServer,
) -> None:
    thinking = chunk(reasoning_content="Let me think \x1b[2J.")
    server.enqueue(Reply(body=sse_body(thinking, chunk("Answer."), chunk(finish_reason="stop"))))
    result = invoke("ask", "-R", "--base-url", server.url, "hi", stderr_isatty=True)  # stdout to a file
    assert result.returncode == 0
    assert b"\x1b[2mLet me think ^[[2J.\x1b[0m" in result.stderr
    assert result.stdout == b"Answer.\n"
