"""Keys and secrets (reliability checklist, section B): never on the command line, never in any output or
file we write, never in a traceback; server text is redacted, stripped of HTML and kept short."""

from __future__ import annotations

import io
import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chatcli.backends.redact import MAX_REASON_CHARS, redact_server_text, short_reason
from chatcli.cli.app import app
from chatcli.cli.environment import process_environment
from chatcli.cli.exit_status import with_exit_status
from tests.conftest import TEST_KEY, write_config
from tests.inprocess import invoke
from tests.leaks import assert_clean, assert_clean_output, one_line_error
from tests.openai_server import OpenAIServer, RecordedRequest, Reply, sse_reply

CUSTOM_KEY = "local-secret-7f3e9a1b2c"  # not shaped like an OpenAI key: only exact redaction can hide it


def test_there_is_no_option_that_takes_a_key_on_the_command_line() -> None:
    assert b"--api-key" not in invoke("ask", "--help").stdout
    result = invoke("ask", "--api-key", TEST_KEY, "hi")
    assert result.returncode == 2
    assert_clean_output(result.stdout, result.stderr)


def test_a_key_from_the_config_command_is_redacted_exactly_when_a_server_echoes_it(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    config = write_config(isolated_home, f'api_key_cmd = "echo {CUSTOM_KEY}"\n')

    def echo_bare_key(request: RecordedRequest) -> bytes:
        key = request.headers["authorization"].split()[-1]
        return json.dumps({"error": {"message": f"key {key} is not valid here"}}).encode()

    server.enqueue(Reply(401, {"Content-Type": "application/json"}, [echo_bare_key]))
    result = invoke("ask", "--base-url", server.url, "hi")
    assert server.requests[0].headers["authorization"] == f"Bearer {CUSTOM_KEY}"
    assert result.returncode == 1
    assert "key [redacted] is not valid here" in one_line_error(result)
    for path in [*tmp_path.rglob("*")]:
        if path.is_file() and path != config:
            assert CUSTOM_KEY.encode() not in path.read_bytes()
    assert CUSTOM_KEY.encode() not in result.stdout + result.stderr


def test_credentials_in_the_base_url_are_not_shown(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke("ask", "--base-url", f"http://user:{TEST_KEY}@127.0.0.1:{port}/v1?token={TEST_KEY}", "hi")
    assert result.returncode == 1
    assert one_line_error(result).startswith(
        f"cannot connect to http://127.0.0.1:{port}/v1 (connection refused)"
    )
    assert_clean(result, tmp_path)


def test_a_successful_turn_writes_the_key_to_no_file(server: OpenAIServer, tmp_path: Path) -> None:
    server.enqueue(sse_reply("fine"))
    result = invoke(
        "ask",
        "--base-url",
        server.url,
        "-o",
        str(tmp_path / "chat.json"),
        "hi",
        env={"OPENAI_API_KEY": TEST_KEY},
    )
    assert result.returncode == 0
    assert (tmp_path / "chat.json").exists()
    assert_clean(result, tmp_path)  # the conversation file, the library database, everything under HOME


# -- redaction ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Incorrect API key provided: {CUSTOM_KEY}.", "Incorrect API key provided: [redacted]."),
        ("header was 'Authorization: Bearer abc.def-ghi'", "header was 'Authorization: Bearer [redacted]'"),
        ("BEARER   tok123 rest", "Bearer [redacted] rest"),
        (f"key {TEST_KEY} here", "key [redacted] here"),
        ("sk-proj-AbCdEf0123456789xyz in a log", "[redacted] in a log"),
        ("nothing secret", "nothing secret"),
    ],
)
def test_redact_removes_the_key_bearer_tokens_and_key_shaped_strings(text: str, expected: str) -> None:
    assert redact_server_text(text, CUSTOM_KEY) == expected


def test_short_reason_strips_html_collapses_space_and_truncates() -> None:
    page = "<html><head><title>503</title></head><body>\n<h1>Service   Unavailable</h1>" + "<p>x</p>" * 300
    reason = short_reason(page, None)
    assert reason.startswith("503 Service Unavailable x x")
    assert "<" not in reason and "\n" not in reason
    assert len(reason) == MAX_REASON_CHARS and reason.endswith("…")


# -- the top-level handler ----------------------------------------------------------------------------------


def test_pretty_exceptions_with_locals_are_off() -> None:
    assert app.pretty_exceptions_enable is False


def test_an_unexpected_exception_is_one_line_without_its_message_or_traceback() -> None:
    broken_app = typer.Typer(pretty_exceptions_enable=False)

    @broken_app.command()
    @with_exit_status
    def broken(context: typer.Context) -> int:
        secret = TEST_KEY  # a local a pretty traceback would print
        raise RuntimeError(f"failed with {secret}")

    stdout, stderr = io.StringIO(), io.StringIO()
    env = replace(process_environment(), stdout=stdout, stderr=stderr)
    result = CliRunner().invoke(broken_app, [], obj=env)
    assert result.exit_code == 1
    assert stdout.getvalue() == ""
    assert (
        stderr.getvalue()
        == "chatcli: error: unexpected RuntimeError; run with CHATCLI_DEBUG=1 for a traceback\n"
    )
