"""/retry after a failed turn sends the question that failed, not the one answered before it."""

from __future__ import annotations

import pytest

from chatcli.core.errors import BackendError
from tests.openai_server import OpenAIServer, json_reply, sse_reply
from tests.test_repl_commands import ScriptedBackend, make_runner, run, texts
from tests.test_repl_pty import TOOLBAR, exit_code, expect, say, spawn


def test_retry_after_a_failed_turn_sends_the_failed_question() -> None:
    backend = ScriptedBackend("a1", BackendError("cannot connect to x (connection refused)"), "a2")
    runner, screen = make_runner(backend)
    runner.send("q1")
    runner.send("q2")
    run(runner, "/retry")
    assert screen.notices[-1] == "retrying: q2"
    assert [m.text for m in backend.requests[2].messages] == ["q1", "a1", "q2"]
    assert texts(runner) == [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]


def test_once_a_question_is_answered_retry_regenerates_the_last_answer_again() -> None:
    backend = ScriptedBackend(BackendError("refused"), "a1", "a1 again")
    runner, _ = make_runner(backend)
    runner.send("q1")
    run(runner, "/retry")
    run(runner, "/retry")
    assert [m.text for m in backend.requests[2].messages] == ["q1"]
    assert texts(runner) == [("user", "q1"), ("assistant", "a1 again")]


def test_undo_and_clear_forget_a_failed_question() -> None:
    for command in ("/undo", "/clear"):
        backend = ScriptedBackend("a1", BackendError("refused"))
        runner, screen = make_runner(backend)
        runner.send("q1")
        runner.send("q2")
        run(runner, command)
        run(runner, "/retry")
        assert screen.notices[-1] == "nothing to retry yet"
        assert len(backend.requests) == 2


@pytest.mark.e2e
def test_on_a_pty_retry_after_a_refused_turn_sends_the_refused_question(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("a1"), json_reply(401, {"error": {"message": "bad key"}}), sse_reply("a2"))
    child = spawn("--base-url", server.url)
    expect(child, TOOLBAR)
    say(child, "q1", "a1")
    say(child, "q2", "error: authentication failed")
    say(child, "/retry", "retrying: q2", "a2")
    child.sendcontrol("d")
    assert exit_code(child) == 0
    assert [m["content"] for m in server.bodies[2]["messages"]] == ["q1", "a1", "q2"]
