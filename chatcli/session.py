"""One turn as one transaction: the conversation changes only once the answer is in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chatcli.backends import Backend, ChatRequest, StreamInfo
from chatcli.conversation import FAILED, INTERRUPTED, Conversation, Message
from chatcli.errors import PartialAnswer
from chatcli.render import Renderer

_CUT_SHORT = {
    "length": "the answer was cut off at the token limit (finish_reason: length)",
    "content_filter": "the server's content filter stopped the answer (finish_reason: content_filter)",
}


@dataclass(slots=True)
class TurnResult:
    text: str
    status: str | None = None  # None when complete, else INTERRUPTED or FAILED
    info: StreamInfo = field(default_factory=StreamInfo)

    @property
    def cut_short(self) -> str | None:
        """Why the server ended a complete answer early (token limit, content filter), or None."""
        return _CUT_SHORT.get(self.info.finish_reason or "")


@dataclass(slots=True)
class Session:
    backend: Backend
    conversation: Conversation
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    on_reasoning: Callable[[str], None] | None = None
    # Called after every committed turn, complete, interrupted or failed (the library records through it).
    on_turn: Callable[[Session, TurnResult], None] | None = None

    def turn(self, text: str, renderer: Renderer) -> TurnResult:
        """Send `text`, stream the answer through `renderer`, then commit user message and answer.

        An error before any text leaves the conversation as it was. Ctrl-C keeps the partial answer,
        committed as interrupted; a stream that breaks after text keeps it, committed as failed, and re-raises.
        """
        user = Message("user", text)
        request = ChatRequest(
            self.conversation.with_user(text), self.model, self.temperature, self.max_tokens, StreamInfo()
        )
        pieces: list[str] = []
        stream = self.backend.stream(request)
        try:
            with renderer:
                for piece in stream:
                    if type(piece) is str:
                        pieces.append(piece)
                        renderer.feed(piece)
                    elif self.on_reasoning is not None:
                        self.on_reasoning(piece.text)  # type: ignore[union-attr]
        except KeyboardInterrupt:
            stream.close()  # closes the HTTP stream, so the server stops generating
            return self._keep_partial(user, pieces, INTERRUPTED, request.info)
        except PartialAnswer:
            self._keep_partial(user, pieces, FAILED, request.info)
            raise
        finally:
            stream.close()
        answer = "".join(pieces)
        self.conversation.commit(user, Message("assistant", answer))
        return self._committed(TurnResult(answer, None, request.info))

    def _keep_partial(self, user: Message, pieces: list[str], status: str, info: StreamInfo) -> TurnResult:
        answer = "".join(pieces)
        if not answer:
            return TurnResult(answer, status, info)
        self.conversation.commit(user, Message("assistant", answer, status))
        return self._committed(TurnResult(answer, status, info))

    def _committed(self, result: TurnResult) -> TurnResult:
        if self.on_turn is not None:
            self.on_turn(self, result)
        return result
