"""The turn engine (core/turn.py): every answer streams through one round function, so a turn keeps the same
promises with tools off and on — `<think>` split off, reasoning kept apart, the byte cap, Ctrl-C and broken
streams — and the backend's report comes back with the stream, never through the request."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chatcli.core.conversation import Conversation, Message, Status
from chatcli.core.errors import BackendError, PartialAnswer
from chatcli.core.session import Session, TurnOverrides
from chatcli.core.stream import (
    AnswerStream,
    ChatRequest,
    Piece,
    Reasoning,
    StreamInfo,
    ToolCall,
    ToolCallPiece,
    Usage,
)
from chatcli.core.turn import TurnResult
from chatcli.render.plain import PlainRenderer
from chatcli.storage.conversation_file import Autosave, ConversationFile

Script = list[Piece | BaseException]

SCRIPTS: dict[str, Script] = {
    "text": ["The sea ", "is large."],
    "inline think": ["<thi", "nk>Let me ", "reason…</th", "ink>\n\nThe sea", " is large."],
    "separate reasoning": [Reasoning("Let me "), Reasoning("reason…"), "The sea is large."],
    "over-long": ["x" * 60, "y" * 60],
    "ctrl-c": ["The sea ", KeyboardInterrupt()],
    "broken": ["The sea ", PartialAnswer("the connection was lost mid-answer")],
    "broken before text": [BackendError("cannot connect")],
}
MAX_BYTES = 100  # the over-long script passes it


@dataclass
class ScriptedBackend:
    """Streams the script's pieces (raising its exceptions where they stand), then reports a finished answer."""

    script: Script
    name: str = "scripted"
    requests: list[ChatRequest] = field(default_factory=list)

    def stream(self, request: ChatRequest) -> AnswerStream:
        self.requests.append(request)
        for piece in self.script:
            if isinstance(piece, BaseException):
                raise piece
            yield piece
        return StreamInfo("stop", Usage(7, 3), "served-model")


@dataclass
class IdleRunner:
    """Offers one tool that the model never calls."""

    max_rounds: int = 4

    def definitions(self) -> Sequence[Mapping[str, Any]]:
        return [{"type": "function", "function": {"name": "notes__add", "parameters": {}}}]

    def run(self, call: ToolCall) -> str:
        raise AssertionError("no call was asked for")


@dataclass
class Outcome:
    text: str | None
    reasoning: str | None
    status: Status | None
    error: str | None
    saved: Any
    shown: bytes


def turn_of(script: Script, tmp_path: Path, *, tools: bool) -> Outcome:
    saved = tmp_path / ("with-tools.json" if tools else "without.json")
    session = Session(ScriptedBackend(script), Conversation(model="m"), "m", max_answer_bytes=MAX_BYTES)
    session.tools = IdleRunner() if tools else None
    session.observers.append(Autosave(ConversationFile(saved)))
    shown = io.BytesIO()
    result: TurnResult | None = None
    error = None
    try:
        result = session.turn("Is the sea large?", PlainRenderer(shown))
    except BackendError as failure:
        error = str(failure)
    return Outcome(
        result.text if result else None,
        result.reasoning if result else None,
        result.status if result else None,
        error,
        json.loads(saved.read_text()) if saved.exists() else None,
        shown.getvalue(),
    )


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_a_turn_keeps_the_same_promises_with_tools_off_and_on(name: str, tmp_path: Path) -> None:
    without = turn_of(SCRIPTS[name], tmp_path, tools=False)
    with_tools = turn_of(SCRIPTS[name], tmp_path, tools=True)
    assert with_tools == without


def test_a_leading_think_block_is_reasoning_in_the_answer_the_file_and_the_screen(tmp_path: Path) -> None:
    for tools in (False, True):
        outcome = turn_of(SCRIPTS["inline think"], tmp_path, tools=tools)
        assert (outcome.text, outcome.reasoning) == ("The sea is large.", "Let me reason…")
        assert outcome.shown == b"The sea is large.\n"
        answer = outcome.saved["messages"][-1]
        assert answer["content"] == "The sea is large." and "think" not in json.dumps(answer["content"])


def test_an_answer_past_the_byte_cap_is_cut_and_kept_marked_failed(tmp_path: Path) -> None:
    outcome = turn_of(SCRIPTS["over-long"], tmp_path, tools=True)
    assert outcome.error is not None and "max_answer_bytes (100 bytes)" in outcome.error
    assert outcome.saved["messages"][-1]["status"] == "failed"


def test_ctrl_c_keeps_the_partial_answer_marked_interrupted(tmp_path: Path) -> None:
    outcome = turn_of(SCRIPTS["ctrl-c"], tmp_path, tools=True)
    assert (outcome.text, outcome.status) == ("The sea ", Status.INTERRUPTED)
    assert outcome.saved["messages"][-1] == {
        "role": "assistant",
        "content": "The sea ",
        "status": "interrupted",
    }


def test_a_failure_before_any_text_leaves_nothing_behind(tmp_path: Path) -> None:
    outcome = turn_of(SCRIPTS["broken before text"], tmp_path, tools=True)
    assert outcome.error == "cannot connect" and outcome.saved is None


def test_the_stream_report_comes_back_with_the_stream() -> None:
    session = Session(ScriptedBackend(["hi"]), Conversation(), "m")
    result = session.turn("q", PlainRenderer(io.BytesIO()))
    assert result.info == StreamInfo("stop", Usage(7, 3), "served-model") and result.committed


def test_tool_call_data_counts_toward_the_byte_cap() -> None:
    pieces: Script = [ToolCallPiece(0, "c1", "notes__add", "{")]
    pieces += [ToolCallPiece(0, arguments=" " * 30) for _ in range(5)]
    session = Session(
        ScriptedBackend(pieces), Conversation(), "m", tools=IdleRunner(), max_answer_bytes=MAX_BYTES
    )
    with pytest.raises(BackendError, match="max_answer_bytes"):
        session.turn("q", PlainRenderer(io.BytesIO()))
    assert session.conversation.messages == []


def test_tool_calls_in_an_answer_to_a_request_that_offered_none_end_the_turn_in_one_line() -> None:
    backend = ScriptedBackend(["Sure.", ToolCallPiece(0, "c1", "rm", "{}")])
    session = Session(backend, Conversation(), "m")
    with pytest.raises(PartialAnswer, match="the server sent a tool call, but chatcli offered no tools"):
        session.turn("q", PlainRenderer(io.BytesIO()))
    assert [m.content for m in session.conversation.messages] == ["q", "Sure."]
    assert session.conversation.messages[-1].status == Status.FAILED
    silent = Session(ScriptedBackend([ToolCallPiece(0, "c1", "rm", "{}")]), Conversation(), "m")
    with pytest.raises(BackendError, match="offered no tools"):
        silent.turn("q", PlainRenderer(io.BytesIO()))
    assert silent.conversation.messages == []


def test_overrides_change_one_turn_and_nothing_of_the_session() -> None:
    backend = ScriptedBackend(["ok"])
    session = Session(backend, Conversation([Message("system", "be brief")]), "m", options={"seed": 1})
    session.turn(
        "q", PlainRenderer(io.BytesIO()), overrides=TurnOverrides("big", "be a poet", {"top_p": 0.5})
    )
    [request] = backend.requests
    assert (request.model, dict(request.options)) == ("big", {"seed": 1, "top_p": 0.5})
    assert [(m.role, m.content) for m in request.messages] == [("system", "be a poet"), ("user", "q")]
    assert (session.model, session.options, session.conversation.system) == ("m", {"seed": 1}, "be brief")
