"""One turn: rounds of streaming until the model answers without asking for tools; a turn without tools is a
turn of one round. Every round streams through `stream_round`, so every answer keeps the same promises:
`<think>` split off, reasoning kept apart, the byte cap (tool-call data included), Ctrl-C keeping the partial
answer.

The turn never changes the conversation: it returns the messages to commit (`Exchange`), and the session
commits them. Whatever ends a tool turn early, every call in those messages has its result (run, declined,
cancelled or not run), so the history stays valid.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatcli.core.conversation import PROVIDER_ITEMS_KEY, Message, Status
from chatcli.core.errors import BackendError, ChatError, PartialAnswer
from chatcli.core.renderer import Renderer
from chatcli.core.stream import (
    AnswerStream,
    Backend,
    ChatRequest,
    Piece,
    ProviderItem,
    Reasoning,
    StreamInfo,
    ToolCall,
    ToolCallPiece,
    Usage,
)
from chatcli.core.think import ThinkSplitter
from chatcli.core.tools import ToolRunner

DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024  # with recording in the library, the worst case stays < 150 MiB
MAX_TOOL_CALLS = 128  # in one answer
CANCELLED = "cancelled: the user interrupted this call (Ctrl-C)"
NOT_RUN_AFTER_CANCEL = "not run: the user interrupted an earlier call of this turn"
_CUT_SHORT = {
    "length": "the answer was cut off at the token limit (finish_reason: length)",
    "content_filter": "the server's content filter stopped the answer (finish_reason: content_filter)",
    # Anthropic's stop reasons that have no chat-completions name
    "refusal": "the model declined to answer (stop_reason: refusal)",
    "pause_turn": "the server paused the turn before the answer finished (stop_reason: pause_turn); ask to continue",
    "model_context_window_exceeded": (
        "the answer was cut off at the model's context window (stop_reason: model_context_window_exceeded)"
    ),
}


@dataclass(slots=True)
class TurnResult:
    text: str
    status: Status | None = None  # None when complete
    info: StreamInfo = field(default_factory=StreamInfo)
    reasoning: str = ""  # the model's reasoning, never part of `text`
    note: str | None = None  # why a complete turn stopped early on chatcli's side (the tool-round limit)
    committed: bool = False  # whether the turn added messages to the conversation

    @property
    def cut_short(self) -> str | None:
        """Why the answer ended early (token limit, content filter, tool-round limit), or None."""
        return self.note or _CUT_SHORT.get(self.info.finish_reason or "")


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What every round of a turn sends besides the messages: the model, sampling and request options."""

    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    reasoning_shown: bool = False

    def for_messages(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> ChatRequest:
        return ChatRequest(
            messages,
            self.model,
            self.temperature,
            self.max_tokens,
            dict(self.options),
            tuple(tools),
            self.reasoning_shown,
        )


@dataclass(slots=True)
class Exchange:
    """What a turn leaves: the messages to commit (empty: nothing to keep), the result, and the error to
    raise once they are committed."""

    messages: list[Message]
    result: TurnResult
    error: ChatError | None = None


class _Answer:
    """Streamed text, joined in blocks as it comes (a list of millions of tiny strings would take many times
    the text's size), and its size in UTF-8 bytes."""

    __slots__ = ("_blocks", "_pieces", "size")
    BLOCK = 4096  # pieces per block

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        self.size += _size(piece)
        self._pieces.append(piece)
        if len(self._pieces) >= self.BLOCK:
            self._blocks.append("".join(self._pieces))
            self._pieces.clear()

    def text(self) -> str:
        """The text so far, joined once (it stays joined for the next call)."""
        self._blocks.append("".join(self._pieces))
        self._pieces.clear()
        text = "".join(self._blocks)
        self._blocks = [text]
        return text


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class ToolCallAssembler:
    """Tool calls assembled from their pieces, each one's arguments joined once at the end (linear in their
    size however finely they are split)."""

    __slots__ = ("_arguments", "_fields", "size")

    def __init__(self) -> None:
        self._arguments: dict[int, _Answer] = {}
        self._fields: dict[int, dict[str, Any]] = {}
        self.size = 0

    def add(self, piece: ToolCallPiece) -> None:
        arguments = self._arguments.get(piece.index)
        if arguments is None:
            if len(self._arguments) >= MAX_TOOL_CALLS:
                raise ValueError(f"the answer asked for more than {MAX_TOOL_CALLS} tool calls")
            arguments = self._arguments[piece.index] = _Answer()
            self._fields[piece.index] = {"id": "", "name": "", "extra": {}}
        fields = self._fields[piece.index]
        if piece.id:
            fields["id"] = piece.id
        if piece.name:
            fields["name"] = piece.name
        if piece.extra:
            fields["extra"] = {**fields["extra"], **piece.extra}
        if piece.arguments:
            self.size -= arguments.size
            arguments.add(piece.arguments)
            self.size += arguments.size

    def calls(self) -> list[ToolCall]:
        return [
            ToolCall(fields["id"], fields["name"], self._arguments[index].text(), fields["extra"])
            for index, fields in self._fields.items()
        ]


@dataclass(slots=True)
class Round:
    """One round's answer: its text, reasoning and tool calls, how it ended, and what the stream reported."""

    text: str
    reasoning: str
    calls: list[ToolCall]
    info: StreamInfo
    status: Status | None = None  # INTERRUPTED (Ctrl-C) or FAILED (`failure` says why)
    failure: PartialAnswer | None = None
    items: list[ProviderItem] = field(default_factory=list)

    def message(self) -> Message | None:
        """The assistant message to keep for this round, or None when there is nothing to keep."""
        if self.status is not None and not self.text:
            return None
        reasoning = self.reasoning or None
        extra: dict[str, Any] = {}
        if self.items:
            by_backend: dict[str, list[Mapping[str, Any]]] = {}
            for item in self.items:
                by_backend.setdefault(item.backend, []).append(item.data)
            extra[PROVIDER_ITEMS_KEY] = by_backend
        if self.calls and self.status is None:
            extra["tool_calls"] = [call.to_api() for call in self.calls]
            return Message("assistant", self.text or None, extra=extra, reasoning=reasoning)
        return Message("assistant", self.text, self.status, extra=extra, reasoning=reasoning)


def stream_round(backend: Backend, request: ChatRequest, renderer: Renderer, max_bytes: int) -> Round:
    """Stream one answer through `renderer`: text through `feed`, reasoning (sent apart, or in a leading
    `<think>` block) through `reason`, tool-call pieces assembled. Ctrl-C ends the round as interrupted; a
    stream that breaks after text, or passes `max_bytes` (text, reasoning and tool-call data together), ends
    it as failed; both keep what came. A failure before any text raises BackendError."""
    reader = _RoundReader(renderer, max_bytes, offers_tools=bool(request.tools))
    stream = backend.stream(request)
    try:
        with renderer:
            reader.info = reader.read(stream)
    except KeyboardInterrupt:
        reader.status = Status.INTERRUPTED
    except PartialAnswer as error:
        reader.status, reader.failure = Status.FAILED, error
    finally:
        stream.close()  # closes the HTTP stream, so the server stops generating
    return reader.round()


class _RoundReader:
    """One round's pieces as they stream: shown, kept and counted against the byte cap."""

    def __init__(self, renderer: Renderer, max_bytes: int, *, offers_tools: bool) -> None:
        self.text, self.thoughts, self.calls = _Answer(), _Answer(), ToolCallAssembler()
        self.items: list[ProviderItem] = []
        self.items_size = 0
        self.info = StreamInfo()
        self.status: Status | None = None
        self.failure: PartialAnswer | None = None
        self._renderer = renderer
        self._max_bytes = max_bytes
        self._offers_tools = offers_tools
        self._splitter = ThinkSplitter()

    def read(self, stream: AnswerStream) -> StreamInfo:
        """Every piece of `stream`; what it returns at its end."""
        splitter, text, feed = self._splitter, self.text, self._renderer.feed
        room = self._max_bytes  # for the text: what reasoning and tool calls leave of the byte cap
        while True:
            try:
                piece = next(stream)
            except StopIteration as end:
                self._show(splitter.flush())
                return end.value or StreamInfo()
            if isinstance(piece, str) and splitter.in_answer:  # the common case, kept cheap
                text.add(piece)
                feed(piece)
            else:
                self._take(piece)
                room = self._max_bytes - self.thoughts.size - self.calls.size - self.items_size
            if text.size > room:
                raise PartialAnswer(
                    f"the answer passed max_answer_bytes ({self._max_bytes} bytes); chatcli stopped reading it"
                )

    def _take(self, piece: Piece) -> None:
        if isinstance(piece, str):
            self._show(self._splitter.feed(piece))
        elif isinstance(piece, ToolCallPiece):
            self._add_call(piece)
        elif isinstance(piece, ProviderItem):
            self.items.append(piece)
            self.items_size += len(json.dumps(piece.data))
        else:
            self._show([piece])

    def _show(self, parts: list[str | Reasoning]) -> None:
        for part in parts:
            if isinstance(part, str):
                self.text.add(part)
                self._renderer.feed(part)
            else:
                self.thoughts.add(part.text)
                self._renderer.reason(part.text)

    def _add_call(self, piece: ToolCallPiece) -> None:
        if not self._offers_tools:
            raise self._failure("the server sent a tool call, but chatcli offered no tools")
        try:
            self.calls.add(piece)
        except ValueError as error:
            raise self._failure(str(error)) from None

    def _failure(self, message: str) -> BackendError:
        """A failure of the round: PartialAnswer once text reached the user (it is kept)."""
        return PartialAnswer(message) if self.text.size else BackendError(message)

    def round(self) -> Round:
        return Round(
            self.text.text(),
            self.thoughts.text(),
            self.calls.calls(),
            self.info,
            self.status,
            self.failure,
            self.items,
        )


@dataclass(slots=True)
class Turn:
    """One turn's rounds: each streams through `stream_round`; while the model asks for tools (and `tools`
    offers some), the calls run and their results go into the next round's request."""

    backend: Backend
    request: TurnRequest
    tools: ToolRunner | None = None
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    def run(
        self,
        history: Sequence[Message],
        user: Message,
        renderer: Renderer,
        new_renderer: Callable[[], Renderer],
    ) -> Exchange:
        """The turn after `history` that `user` starts, its text shown through `renderer` (each round after
        the first through a `new_renderer()`)."""
        added, usage, rounds = [user], None, 0
        while True:
            offered = self.tools.definitions() if self.tools is not None else ()
            request = self.request.for_messages([*history, *added], offered)
            try:
                answer = stream_round(self.backend, request, renderer, self.max_answer_bytes)
            except ChatError as error:  # nothing streamed; after tools ran, keep what they did
                kept = added if rounds else []
                return Exchange(kept, TurnResult("", Status.FAILED, StreamInfo(usage=usage)), error)
            usage = _add_usage(usage, answer.info.usage)
            info = StreamInfo(answer.info.finish_reason, usage, answer.info.model)
            if (message := answer.message()) is not None:
                added.append(message)
            result = TurnResult(answer.text, answer.status, info, answer.reasoning)
            if answer.status is not None or not answer.calls or self.tools is None:
                return Exchange(added if len(added) > 1 else [], result, answer.failure)
            rounds += 1
            if rounds > self.tools.max_rounds:
                return self._over_the_limit(added, answer.calls, result)
            try:
                interrupted = _run_calls(self.tools, answer.calls, added)
            except _CallFailed as failed:  # after tools ran, keep what they did
                result.status = Status.FAILED
                return Exchange(added if rounds > 1 or failed.after_others else [], result, failed.error)
            if interrupted:
                result.status = Status.INTERRUPTED
                return Exchange(added, result)
            renderer = new_renderer()

    def _over_the_limit(
        self, added: list[Message], calls: Sequence[ToolCall], result: TurnResult
    ) -> Exchange:
        most = self.tools.max_rounds if self.tools is not None else 0
        limit = f"stopped after {most} round{'s' if most != 1 else ''} of tool calls (max_tool_rounds)"
        added += [tool_result(call, f"not run: {limit}") for call in calls]
        result.note = f"{limit}; ask to continue"
        return Exchange(added, result)


class _CallFailed(Exception):
    def __init__(self, error: ChatError, *, after_others: bool) -> None:
        self.error = error
        self.after_others = after_others


def _run_calls(runner: ToolRunner, calls: Sequence[ToolCall], added: list[Message]) -> bool:
    """Run each call, adding its result; True when the user interrupted (the rest are marked not run)."""
    for index, call in enumerate(calls):
        try:
            result = runner.run(call)
        except KeyboardInterrupt:
            added.append(tool_result(call, CANCELLED))
            added += [tool_result(later, NOT_RUN_AFTER_CANCEL) for later in calls[index + 1 :]]
            return True
        except ChatError as error:
            added += [tool_result(later, f"not run: {error}") for later in calls[index:]]
            raise _CallFailed(error, after_others=index > 0) from None
        added.append(tool_result(call, result))
    return False


def tool_result(call: ToolCall, text: str) -> Message:
    return Message("tool", text, extra={"tool_call_id": call.id})


def _add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if total is None or more is None:
        return more or total
    return total + more
