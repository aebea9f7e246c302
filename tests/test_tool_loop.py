"""The core tool loop (chatcli.core.turn): rounds of calls, their results in the conversation, the limits,
Ctrl-C and failures, with a scripted backend and a scripted ToolRunner."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from chatcli.core.conversation import Conversation, Message, Status
from chatcli.core.errors import BackendError, ChatError
from chatcli.core.session import Session
from chatcli.core.stream import AnswerStream, ChatRequest, StreamInfo, ToolCall, ToolCallPiece, Usage
from chatcli.core.turn import CANCELLED, NOT_RUN_AFTER_CANCEL, TurnResult
from chatcli.render.message_text import compact_text

Round = tuple[str, list[ToolCall]] | Exception


@dataclass
class ScriptedBackend:
    """Each request takes the next round: text and the tool calls to report, or an exception to raise."""

    rounds: list[Round]
    name: str = "scripted"
    requests: list[ChatRequest] = field(default_factory=list)

    def stream(self, request: ChatRequest) -> AnswerStream:
        self.requests.append(request)
        round_ = self.rounds.pop(0)
        if isinstance(round_, Exception):
            raise round_
        text, calls = round_
        if text:
            yield text
        for index, call in enumerate(calls):
            yield ToolCallPiece(index, call.id, call.name, call.arguments)
        return StreamInfo("tool_calls" if calls else "stop", Usage(10, 1))


@dataclass
class ScriptedRunner:
    """Answers each call with `outcome(call)`: a string, or an exception to raise."""

    outcome: Callable[[ToolCall], str]
    max_rounds: int = 8
    ran: list[str] = field(default_factory=list)

    def definitions(self) -> Sequence[Mapping[str, Any]]:
        return [{"type": "function", "function": {"name": "notes__add", "parameters": {}}}]

    def run(self, call: ToolCall) -> str:
        self.ran.append(call.name)
        return self.outcome(call)


class Renderer:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.entered = 0

    def __enter__(self) -> Self:
        self.entered += 1
        return self

    def feed(self, text: str) -> None:
        self.shown.append(text)

    def reason(self, text: str) -> None:
        pass

    def __exit__(self, *exc_info: object) -> None:
        pass


def call(call_id: str, name: str = "notes__add", arguments: str = '{"a": 1, "b": 2}') -> ToolCall:
    return ToolCall(call_id, name, arguments)


def session_with(
    rounds: list[Round], runner: ScriptedRunner
) -> tuple[Session, ScriptedBackend, list[TurnResult]]:
    backend = ScriptedBackend(rounds)
    session = Session(backend, Conversation(), "m", tools=runner)
    committed: list[TurnResult] = []

    class Observer:
        def turn_committed(self, session: Session, result: TurnResult) -> None:
            committed.append(result)

    session.observers.append(Observer())
    return session, backend, committed


def roles(session: Session) -> list[str]:
    return [message.role for message in session.conversation.messages]


def test_calls_run_and_their_results_go_back_until_the_model_answers() -> None:
    runner = ScriptedRunner(lambda c: f"result {c.id}")
    session, backend, committed = session_with(
        [("Checking.", [call("c1"), call("c2")]), ("", [call("c3")]), ("It is 3.", [])], runner
    )
    renderer = Renderer()
    result = session.turn("what is 1+2", renderer)
    assert result.text == "It is 3." and result.status is None and result.cut_short is None
    assert roles(session) == ["user", "assistant", "tool", "tool", "assistant", "tool", "assistant"]
    asking = session.conversation.messages[1]
    assert asking.to_api() == {
        "tool_calls": [call("c1").to_api(), call("c2").to_api()],
        "role": "assistant",
        "content": "Checking.",
    }
    assert session.conversation.messages[4].content is None  # a round with calls and no text
    assert session.conversation.messages[3].to_api() == {
        "tool_call_id": "c2",
        "role": "tool",
        "content": "result c2",
    }
    assert [len(request.messages) for request in backend.requests] == [1, 4, 6]
    assert all(request.tools for request in backend.requests)
    assert renderer.shown == ["Checking.", "It is 3."] and renderer.entered == 3
    assert len(committed) == 1 and result.info.usage == Usage(30, 3)  # one transaction, usage of every round


def test_each_round_after_the_first_gets_a_new_renderer() -> None:
    session, _, _ = session_with([("a", [call("c1")]), ("b", [])], ScriptedRunner(lambda c: "ok"))
    first, made = Renderer(), [Renderer()]
    session.turn("q", first, lambda: made[0])
    assert first.shown == ["a"] and made[0].shown == ["b"]


def test_the_round_limit_stops_the_turn_with_every_call_answered() -> None:
    runner = ScriptedRunner(lambda c: "ok", max_rounds=2)
    session, _, _ = session_with(
        [("", [call("c1")]), ("", [call("c2")]), ("", [call("c3"), call("c4")])], runner
    )
    result = session.turn("loop", Renderer())
    assert runner.ran == ["notes__add", "notes__add"]
    assert (
        result.cut_short is not None
        and "stopped after 2 rounds of tool calls (max_tool_rounds)" in result.cut_short
    )
    last = session.conversation.messages[-2:]
    assert [m.role for m in last] == ["tool", "tool"]
    assert all(m.text.startswith("not run: stopped after 2 rounds") for m in last)


def test_ctrl_c_during_a_call_keeps_the_call_with_a_cancelled_result_and_the_rest_not_run() -> None:
    def outcome(c: ToolCall) -> str:
        if c.id == "c2":
            raise KeyboardInterrupt
        return "ok"

    session, _, committed = session_with(
        [("", [call("c1"), call("c2"), call("c3")])], ScriptedRunner(outcome)
    )
    result = session.turn("q", Renderer())
    assert result.status is Status.INTERRUPTED and committed[-1].status is Status.INTERRUPTED
    results = [m.text for m in session.conversation.messages if m.role == "tool"]
    assert results == ["ok", CANCELLED, NOT_RUN_AFTER_CANCEL]
    calls = session.conversation.messages[1].extra["tool_calls"]
    assert [c["id"] for c in calls] == [m.extra["tool_call_id"] for m in session.conversation.messages[2:]]


def test_a_refused_first_call_leaves_the_conversation_as_it_was() -> None:
    def refuse(c: ToolCall) -> str:
        raise ChatError("needs approval")

    session, _, committed = session_with([("", [call("c1")])], ScriptedRunner(refuse))
    with pytest.raises(ChatError, match="needs approval"):
        session.turn("q", Renderer())
    assert session.conversation.messages == [] and committed == []


def test_a_failure_after_tools_ran_keeps_what_they_did_marked_failed() -> None:
    session, _, committed = session_with(
        [("", [call("c1")]), BackendError("server gone")], ScriptedRunner(lambda c: "done")
    )
    with pytest.raises(BackendError):
        session.turn("q", Renderer())
    assert roles(session) == ["user", "assistant", "tool"]
    assert committed[-1].status is Status.FAILED


def test_no_tools_key_is_sent_when_the_runner_offers_none() -> None:
    class Empty(ScriptedRunner):
        def definitions(self) -> Sequence[Mapping[str, Any]]:
            return []

    session, backend, _ = session_with([("plain", [])], Empty(lambda c: ""))
    assert session.turn("q", Renderer()).text == "plain"
    assert not backend.requests[0].tools


def test_history_shows_calls_and_results_compactly() -> None:
    asking = Message("assistant", None, extra={"tool_calls": [call("c1").to_api()]})
    assert compact_text(asking) == 'calls notes__add {"a": 1, "b": 2}'
    long = Message("tool", "x" * 5000, extra={"tool_call_id": "c1"})
    assert compact_text(long) == "result: " + "x" * 99 + "… (5000 bytes)"
    assert compact_text(Message("user", "hi")) == "hi"
