"""The interactive session outlives whatever a turn or command runs into: malformed stream data,
or an error chatcli did not expect. The turn fails with one line; the conversation and the session go on."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import CHATCLI, TEST_KEY
from tests.openai_server import OpenAIServer, Reply, chunk, sse_event, sse_reply
from tests.test_repl_pty import TOOLBAR, exit_code, expect, say

pytestmark = pytest.mark.e2e

# chatcli with the echo backend patched to fail unexpectedly on the prompt "boom": the only way to make a
# real session meet an error no part of chatcli anticipates.
_FAILING_ECHO = """
import sys
from chatcli.backends.echo import EchoBackend
from chatcli.cli import main

answer = EchoBackend.stream

def stream(self, request):
    if request.messages[-1].content == "boom":
        raise RuntimeError("a bug")
    return answer(self, request)

EchoBackend.stream = stream
sys.argv[0] = "chatcli"
main()
"""


def spawn(argv: list[str], env: dict[str, str] | None = None) -> pexpect.spawn:
    child = pexpect.spawn(
        argv[0],
        argv[1:],
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
    )
    child.logfile_read = io.StringIO()
    expect(child, "Ctrl-D exits")
    expect(child, TOOLBAR)
    return child


def test_malformed_stream_data_fails_the_turn_and_the_session_goes_on(
    server: OpenAIServer, tmp_path: Path
) -> None:
    saved = tmp_path / "chat.json"
    bad = b'data: {"choices": [{"delta": {"content": "\\ud800"}}]}\n\n'
    server.enqueue(
        sse_reply("first answer"),
        Reply(body=[sse_event(chunk("half")), bad]),
        sse_reply("third answer"),
    )
    child = spawn([CHATCLI, "--base-url", server.url, "-o", str(saved)], {"OPENAI_API_KEY": TEST_KEY})
    say(child, "one", "first answer")
    say(child, "two", "error: server sent malformed stream data (the partial answer is kept)")
    say(child, "three", "third answer")
    child.send("\x04")
    assert exit_code(child) == 0
    contents = [message["content"] for message in json.loads(saved.read_text())["messages"]]
    assert contents == ["one", "first answer", "two", "half", "three", "third answer"]


def test_an_unexpected_error_in_a_turn_is_one_line_and_the_session_goes_on(tmp_path: Path) -> None:
    saved = tmp_path / "chat.json"
    child = spawn([sys.executable, "-c", _FAILING_ECHO, "-b", "echo", "-o", str(saved)])
    say(child, "hello", "Echo: hello")
    say(child, "boom", "error: unexpected RuntimeError; that failed, the session goes on")
    say(child, "again", "Echo: again")
    child.send("\x04")
    assert exit_code(child) == 0
    assert "Traceback" not in child.logfile_read.getvalue()
    contents = [message["content"] for message in json.loads(saved.read_text())["messages"]]
    assert contents == ["hello", "Echo: hello", "again", "Echo: again"]
