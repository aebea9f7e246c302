"""/retry after a failed turn sends the question that failed, not the one answered before it."""

from __future__ import annotations

from chatcli.core.errors import BackendError
from tests.test_repl_commands import ScriptedBackend, make_runner, run, texts


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
