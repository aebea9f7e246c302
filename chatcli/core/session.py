"""One turn as one transaction: the conversation changes only once the answer is in; then the observers run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chatcli.core.conversation import Conversation, Message, Status
from chatcli.core.errors import ChatError, PartialAnswer
from chatcli.core.renderer import Renderer
from chatcli.core.stream import Backend, ChatRequest, Reasoning, StreamInfo

_CUT_SHORT = {
    "length": "the answer was cut off at the token limit (finish_reason: length)",
    "content_filter": "the server's content filter stopped the answer (finish_reason: content_filter)",
}


DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024


class _Answer:
    """The answer's pieces, joined in blocks as they come (a list of millions of tiny strings would take
    many times the text's size), and their size in UTF-8 bytes."""

    __slots__ = ("_blocks", "_pieces", "size")
    BLOCK = 4096  # pieces per block

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        self.size += len(piece) if piece.isascii() else len(piece.encode("utf-8", "surrogatepass"))
        self._pieces.append(piece)
        if len(self._pieces) >= self.BLOCK:
            self._blocks.append("".join(self._pieces))
            self._pieces.clear()

    def text(self) -> str:
        """The answer so far, joined once (it stays joined for the next call)."""
        self._blocks.append("".join(self._pieces))
        self._pieces.clear()
        text = "".join(self._blocks)
        self._blocks = [text]
        return text


@dataclass(slots=True)
class TurnResult:
    text: str
    status: Status | None = None  # None when complete
    info: StreamInfo = field(default_factory=StreamInfo)

    @property
    def cut_short(self) -> str | None:
        """Why the server ended a complete answer early (token limit, content filter), or None."""
        return _CUT_SHORT.get(self.info.finish_reason or "")


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
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES  # a longer answer (with its reasoning) is cut here

    def turn(self, text: str, renderer: Renderer) -> TurnResult:
        """Send `text`, stream the answer through `renderer`, then commit user message and answer.

        An error before any text leaves the conversation as it was. Ctrl-C keeps the partial answer,
        committed as interrupted; a stream that breaks after text keeps it, committed as failed, and re-raises;
        so does an answer longer than `max_answer_bytes`, whose stream is closed there.
        """
        user = Message("user", text)
        request = ChatRequest(
            self.conversation.with_user(text), self.model, self.temperature, self.max_tokens, StreamInfo()
        )
        pieces = _Answer()
        reasoning_size = 0
        stream = self.backend.stream(request)
        try:
            with renderer:
                for piece in stream:
                    if isinstance(piece, Reasoning):
                        reasoning_size += len(piece.text)
                        renderer.reason(piece.text)
                    else:
                        pieces.add(piece)
                        renderer.feed(piece)
                    if pieces.size + reasoning_size > self.max_answer_bytes:
                        raise PartialAnswer(
                            f"the answer passed max_answer_bytes ({self.max_answer_bytes} bytes); "
                            "chatcli stopped reading it"
                        )
        except KeyboardInterrupt:
            stream.close()  # closes the HTTP stream, so the server stops generating
            return self._keep_partial(user, pieces.text(), Status.INTERRUPTED, request.info)
        except PartialAnswer:
            stream.close()
            self._keep_partial(user, pieces.text(), Status.FAILED, request.info)
            raise
        finally:
            stream.close()
        answer = pieces.text()
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

    def _keep_partial(self, user: Message, answer: str, status: Status, info: StreamInfo) -> TurnResult:
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
