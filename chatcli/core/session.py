"""One turn as one transaction: the conversation changes only once the answer is in; then the observers run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from chatcli.core.conversation import Conversation, Message, Status
from chatcli.core.errors import ChatError, PartialAnswer
from chatcli.core.renderer import Renderer
from chatcli.core.stream import Backend, ChatRequest, Reasoning, StreamInfo

if TYPE_CHECKING:
    from chatcli.core.tools import ToolRunner

_CUT_SHORT = {
    "length": "the answer was cut off at the token limit (finish_reason: length)",
    "content_filter": "the server's content filter stopped the answer (finish_reason: content_filter)",
}


@dataclass(slots=True)
class TurnResult:
    text: str
    status: Status | None = None  # None when complete
    info: StreamInfo = field(default_factory=StreamInfo)
    note: str | None = None  # why a complete turn stopped early on chatcli's side (the tool-round limit)

    @property
    def cut_short(self) -> str | None:
        """Why the answer ended early (token limit, content filter, tool-round limit), or None."""
        return self.note or _CUT_SHORT.get(self.info.finish_reason or "")


class TurnObserver(Protocol):
    """Told about every committed turn (complete, interrupted or failed): saving to a conversation file and
    recording in the library are two of them. An observer that cannot do its job raises ChatError; the
    others still run, then the error reaches the caller of `Session.turn`."""

    def turn_committed(self, session: Session, result: TurnResult) -> None: ...


@dataclass(slots=True)
class Session:
    backend: Backend
    conversation: Conversation
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    observers: list[TurnObserver] = field(default_factory=list)
    tools: ToolRunner | None = None  # when set, the model may call tools (chatcli.core.tools)

    def turn(
        self, text: str, renderer: Renderer, new_renderer: Callable[[], Renderer] | None = None
    ) -> TurnResult:
        """Send `text`, stream the answer through `renderer`, then commit user message and answer.

        An error before any text leaves the conversation as it was. Ctrl-C keeps the partial answer,
        committed as interrupted; a stream that breaks after text keeps it, committed as failed, and re-raises.
        With `tools`, the text of each round after the first streams through a `new_renderer()`.
        """
        user = Message("user", text)
        if self.tools is not None:
            from chatcli.core.tools import ToolTurn

            return ToolTurn(self, self.tools, new_renderer or (lambda: renderer)).run(user, renderer)
        request = ChatRequest(
            self.conversation.with_user(text), self.model, self.temperature, self.max_tokens, StreamInfo()
        )
        pieces: list[str] = []
        stream = self.backend.stream(request)
        try:
            with renderer:
                for piece in stream:
                    if isinstance(piece, Reasoning):
                        renderer.reason(piece.text)
                    else:
                        pieces.append(piece)
                        renderer.feed(piece)
        except KeyboardInterrupt:
            stream.close()  # closes the HTTP stream, so the server stops generating
            return self._keep_partial(user, pieces, Status.INTERRUPTED, request.info)
        except PartialAnswer:
            self._keep_partial(user, pieces, Status.FAILED, request.info)
            raise
        finally:
            stream.close()
        answer = "".join(pieces)
        self.conversation.commit(user, Message("assistant", answer))
        return self._committed(TurnResult(answer, None, request.info))

    def switch_model(self, model: str) -> None:
        """Use `model` from the next turn on; the conversation remembers it (saved files, the library)."""
        self.model = self.conversation.model = model

    def replace_conversation(self, conversation: Conversation, *, keep_model: bool = False) -> None:
        """Continue `conversation` instead of the current one. It brings its model along unless `keep_model`
        (a model the user asked for explicitly) or it names none."""
        self.conversation.messages[:] = conversation.messages
        self.conversation.extra = dict(conversation.extra)
        if conversation.model and not keep_model:
            self.switch_model(conversation.model)
        else:
            self.conversation.model = self.model

    def commit_exchange(self, messages: Sequence[Message], result: TurnResult) -> TurnResult:
        """Commit a whole exchange (user message, tool calls and results, answer); then the observers run."""
        self.conversation.commit_exchange(messages)
        return self._committed(result)

    def _keep_partial(self, user: Message, pieces: list[str], status: Status, info: StreamInfo) -> TurnResult:
        answer = "".join(pieces)
        if not answer:
            return TurnResult(answer, status, info)
        self.conversation.commit(user, Message("assistant", answer, status))
        return self._committed(TurnResult(answer, status, info))

    def _committed(self, result: TurnResult) -> TurnResult:
        failure: ChatError | None = None
        for observer in self.observers:
            try:
                observer.turn_committed(self, result)
            except ChatError as error:
                failure = failure or error
        if failure is not None:
            raise failure
        return result
