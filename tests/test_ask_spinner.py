"""`chatcli ask` says that it waits: a spinner on a terminal's stderr until the first token, erased
before the answer; never on a pipe or a dumb terminal."""

from __future__ import annotations

import os

import pexpect
import pytest

from tests.conftest import CHATCLI, run_chatcli
from tests.openai_server import OpenAIServer, sse_reply

pytestmark = pytest.mark.e2e
ERASE_LINE, SHOW_CURSOR = b"\r\x1b[2K", b"\x1b[?25h"


def on_terminal(server: OpenAIServer, term: str) -> bytes:
    """Everything the terminal received from `chatcli ask` (stdout and stderr both on it)."""
    server.enqueue(sse_reply("The answer", delay=1.0))  # one wait, before the answer
    child = pexpect.spawn(
        CHATCLI,
        ["ask", "--base-url", server.url, "hi"],
        env={**os.environ, "TERM": term},
        dimensions=(24, 80),
    )
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    assert isinstance(child.before, bytes)
    return child.before


def test_a_spinner_waits_on_the_terminal_and_is_erased_before_the_answer(server: OpenAIServer) -> None:
    shown = on_terminal(server, "xterm-256color")
    assert b"waiting\xe2\x80\xa6 0.5s" in shown  # "waiting… 0.5s", redrawn every tenth of a second
    erased = shown.index(ERASE_LINE + SHOW_CURSOR)
    assert shown.rindex(b"waiting") < erased < shown.index(b"The")
    assert b"The answer" in shown


def test_no_spinner_on_a_dumb_terminal(server: OpenAIServer) -> None:
    shown = on_terminal(server, "dumb")
    assert b"waiting" not in shown and b"\x1b" not in shown
    assert shown.strip() == b"The answer"


def test_no_spinner_on_a_pipe(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("The answer", delay=0.5))
    result = run_chatcli("ask", "--base-url", server.url, "hi")
    assert result.stdout == b"The answer\n"
    assert result.stderr == b""
