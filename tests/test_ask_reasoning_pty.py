"""`chatcli ask` on a terminal shows the model's reasoning on lines of its own, then the answer on its own line."""

from __future__ import annotations

import pexpect
import pytest

from tests.openai_server import OpenAIServer, Reply, chunk, sse_event, sse_reply
from tests.test_render_pty import Terminal, spawn

pytestmark = pytest.mark.e2e


def reasoning_then_answer(answer: str) -> Reply:
    reasoning = [
        sse_event(chunk(reasoning_content=piece)) for piece in ("Let me think", " about it", ". Done")
    ]
    return Reply(body=[*reasoning, *sse_reply(answer).body])


@pytest.mark.parametrize("flag", ["--plain", "--markdown"])
def test_the_last_reasoning_line_stays_and_the_answer_starts_on_its_own_line(
    server: OpenAIServer, flag: str
) -> None:
    server.enqueue(reasoning_then_answer("The answer is **42**."))
    child = spawn(server, flag, "-R")
    terminal = Terminal()
    while True:
        try:
            terminal.stream.feed(child.read_nonblocking(65536, timeout=30))
        except pexpect.EOF:
            break
    child.close()
    assert child.exitstatus == 0
    answer = "The answer is **42**." if flag == "--plain" else "The answer is 42."
    assert terminal.lines() == ["Let me think about it. Done", answer]
