"""Tool use in a turn: the ToolRunner protocol (implemented over MCP in chatcli.tools) and the tool loop.

A tool turn is still one transaction: the user message, each assistant message asking for calls, one `tool`
message per call and the final answer are committed together. Whatever ends the turn early, every call the
conversation holds has its result (run, declined, cancelled or not run), so the history stays valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from chatcli.core.conversation import Message, Status
from chatcli.core.errors import ChatError, PartialAnswer
from chatcli.core.renderer import Renderer
from chatcli.core.session import Session, TurnResult
from chatcli.core.stream import ChatRequest, Reasoning, StreamInfo, ToolCall, Usage

CANCELLED = "cancelled: the user interrupted this call (Ctrl-C)"
NOT_RUN_AFTER_CANCEL = "not run: the user interrupted an earlier call of this turn"


class ToolRunner(Protocol):
    """Offers tools to the model and runs the calls it asks for, each approved first."""

    max_rounds: int  # the most rounds of calls in one turn

    def definitions(self) -> Sequence[Mapping[str, Any]]:
        """The OpenAI function tools to offer now (starting their servers the first time); empty: none."""

    def run(self, call: ToolCall) -> str:
        """Approve and run `call`; the text the model gets back (a refusal or a failure is a result too).

        Ctrl-C cancels the call and re-raises KeyboardInterrupt; a ChatError fails the turn."""


def assistant_calls(text: str, calls: Sequence[ToolCall]) -> Message:
    """The assistant message that asked for `calls` (with the text it streamed before them, if any)."""
    return Message("assistant", text or None, extra={"tool_calls": [call.to_api() for call in calls]})


def tool_result(call: ToolCall, text: str) -> Message:
    return Message("tool", text, extra={"tool_call_id": call.id})


@dataclass(slots=True)
class ToolTurn:
    """One turn in which the model may call tools, round after round, until it answers with text."""

    session: Session
    runner: ToolRunner
    new_renderer: Callable[[], Renderer]

    def run(self, user: Message, renderer: Renderer) -> TurnResult:
        added = [user]
        usage: Usage | None = None
        rounds = 0
        while True:
            request = self._request(added)
            pieces: list[str] = []
            try:
                status = _stream(self.session, request, renderer, pieces)
            except PartialAnswer:
                added.append(Message("assistant", "".join(pieces), Status.FAILED))
                self._commit(added, request.info, usage, Status.FAILED)
                raise
            except ChatError:
                if rounds:  # tools already ran: keep what they did
                    self._commit(added, request.info, usage, Status.FAILED)
                raise
            usage = _add_usage(usage, request.info.usage)
            text, calls = "".join(pieces), request.info.tool_calls
            if status is Status.INTERRUPTED or not calls:
                if text or status is None:
                    added.append(Message("assistant", text, status))
                if len(added) == 1:
                    return TurnResult(text, status, request.info)  # stopped before anything: nothing to keep
                return self._commit(added, request.info, usage, status, text)
            added.append(assistant_calls(text, calls))
            rounds += 1
            if rounds > self.runner.max_rounds:
                most = self.runner.max_rounds
                limit = (
                    f"stopped after {most} round{'s' if most != 1 else ''} of tool calls (max_tool_rounds)"
                )
                added += [tool_result(call, f"not run: {limit}") for call in calls]
                return self._commit(added, request.info, usage, None, text, note=f"{limit}; ask to continue")
            if self._run_calls(calls, added, ran_before=rounds > 1):
                return self._commit(added, request.info, usage, Status.INTERRUPTED, text)
            renderer = self.new_renderer()

    def _request(self, added: Sequence[Message]) -> ChatRequest:
        session = self.session
        return ChatRequest(
            [*session.conversation.messages, *added],
            session.model,
            session.temperature,
            session.max_tokens,
            StreamInfo(),
            options=dict(session.options),
            tools=self.runner.definitions(),
        )

    def _run_calls(self, calls: Sequence[ToolCall], added: list[Message], *, ran_before: bool) -> bool:
        """Run each call, adding its result; True when the user interrupted (the rest are marked not run)."""
        for index, call in enumerate(calls):
            try:
                result = self.runner.run(call)
            except KeyboardInterrupt:
                added.append(tool_result(call, CANCELLED))
                added += [tool_result(later, NOT_RUN_AFTER_CANCEL) for later in calls[index + 1 :]]
                return True
            except ChatError as error:
                added += [tool_result(later, f"not run: {error}") for later in calls[index:]]
                if ran_before or index:  # tools ran: keep what they did
                    self._commit(added, StreamInfo(), None, Status.FAILED)
                raise
            added.append(tool_result(call, result))
        return False

    def _commit(
        self,
        added: list[Message],
        info: StreamInfo,
        usage: Usage | None,
        status: Status | None,
        text: str = "",
        note: str | None = None,
    ) -> TurnResult:
        result = TurnResult(text, status, replace(info, usage=usage or info.usage), note=note)
        return self.session.commit_exchange(added, result)


def _stream(session: Session, request: ChatRequest, renderer: Renderer, pieces: list[str]) -> Status | None:
    """Stream one round's text through `renderer` into `pieces`; INTERRUPTED when Ctrl-C stopped it."""
    stream = session.backend.stream(request)
    try:
        with renderer:
            for piece in stream:
                if isinstance(piece, Reasoning):
                    renderer.reason(piece.text)
                else:
                    pieces.append(piece)
                    renderer.feed(piece)
    except KeyboardInterrupt:
        return Status.INTERRUPTED
    finally:
        stream.close()  # closes the HTTP stream, so the server stops generating
    return None


def _add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if total is None or more is None:
        return more or total
    return Usage(total.prompt_tokens + more.prompt_tokens, total.completion_tokens + more.completion_tokens)


def compact_text(message: Message, width: int = 100) -> str:
    """A message as a history shows it: tool calls one line each under the text, tool results shortened."""
    if message.role == "tool":
        return f"result: {_shorten(message.text, width)}"
    calls = message.extra.get("tool_calls") if message.role == "assistant" else None
    if not isinstance(calls, list):
        return message.text
    lines = [message.text] if message.text else []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            arguments = _shorten(str(function.get("arguments") or ""), width)
            lines.append(f"calls {function.get('name')} {arguments}")
    return "\n\n".join(lines)


def _shorten(text: str, width: int) -> str:
    line = " ".join(text.split())
    size = len(text.encode())
    return line if len(line) <= width else f"{line[: width - 1]}… ({size} bytes)"
