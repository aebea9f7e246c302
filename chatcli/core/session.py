"""One turn as one transaction: the conversation changes only once the answer is in; then the observers run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chatcli.core.conversation import Content, Conversation, Message, Status
from chatcli.core.errors import ChatError, PartialAnswer
from chatcli.core.renderer import Renderer
from chatcli.core.stream import Backend, ChatRequest, Reasoning, StreamInfo
from chatcli.core.think import split_think

if TYPE_CHECKING:
    from chatcli.core.tools import ToolRunner

_CUT_SHORT = {
    "length": "the answer was cut off at the token limit (finish_reason: length)",
    "content_filter": "the server's content filter stopped the answer (finish_reason: content_filter)",
}


DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024  # with recording in the library, the worst case stays < 150 MiB


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
    reasoning: str = ""  # the model's reasoning, never part of `text`
    note: str | None = None  # why a complete turn stopped early on chatcli's side (the tool-round limit)

    @property
    def cut_short(self) -> str | None:
        """Why the answer ended early (token limit, content filter, tool-round limit), or None."""
        return self.note or _CUT_SHORT.get(self.info.finish_reason or "")


@dataclass(frozen=True, slots=True)
class ConversationDefaults:
    """The model and system prompt the settings give a conversation: the one rule for a new conversation and
    for one loaded or resumed (`-l`, `-c`, `--cid`, `/load`).

    A loaded conversation keeps its own model and system prompt unless the user asked for another
    (`*_chosen`: a flag, the environment or a profile); the config file's values only fill in what it lacks.
    """

    model: str
    system: str | None = None
    model_chosen: bool = False
    system_chosen: bool = False

    def apply(self, conversation: Conversation) -> None:
        if self.model_chosen or not conversation.model:
            conversation.model = self.model
        if self.system and (self.system_chosen or conversation.system is None):
            conversation.set_system(self.system)


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
    options: dict[str, Any] = field(default_factory=dict)  # more request-body keys (-O, [options], /set)
    defaults: ConversationDefaults | None = None  # applied to a conversation that replaces this one
    tools: ToolRunner | None = None  # when set, the model may call tools (chatcli.core.tools)
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES  # a longer answer (with its reasoning) is cut here

    def turn(
        self, text: Content, renderer: Renderer, new_renderer: Callable[[], Renderer] | None = None
    ) -> TurnResult:
        """Send `text` (a string, or text and image parts), stream the answer through `renderer`, then commit
        the user message and the answer.

        An error before any text leaves the conversation as it was. Ctrl-C keeps the partial answer,
        committed as interrupted; a stream that breaks after text keeps it, committed as failed, and re-raises;
        so does an answer longer than `max_answer_bytes`, whose stream is closed there.
        With `tools`, the text of each round after the first streams through a `new_renderer()`.
        """
        user = Message("user", text)
        if self.tools is not None:
            from chatcli.core.tools import ToolTurn

            return ToolTurn(self, self.tools, new_renderer or (lambda: renderer)).run(user, renderer)
        request = ChatRequest(
            self.conversation.with_user(text),
            self.model,
            self.temperature,
            self.max_tokens,
            StreamInfo(),
            options=dict(self.options),
        )
        pieces, thoughts = _Answer(), _Answer()
        stream = self.backend.stream(request)
        try:
            with renderer:
                for piece in split_think(stream):
                    if isinstance(piece, Reasoning):
                        thoughts.add(piece.text)
                        renderer.reason(piece.text)
                    else:
                        pieces.add(piece)
                        renderer.feed(piece)
                    if pieces.size + thoughts.size > self.max_answer_bytes:
                        raise PartialAnswer(
                            f"the answer passed max_answer_bytes ({self.max_answer_bytes} bytes); "
                            "chatcli stopped reading it"
                        )
        except KeyboardInterrupt:
            stream.close()  # closes the HTTP stream, so the server stops generating
            return self._keep_partial(user, pieces.text(), thoughts.text(), Status.INTERRUPTED, request.info)
        except PartialAnswer:
            stream.close()
            self._keep_partial(user, pieces.text(), thoughts.text(), Status.FAILED, request.info)
            raise
        finally:
            stream.close()
        answer, reasoning = pieces.text(), thoughts.text()
        self.conversation.commit(user, Message("assistant", answer, reasoning=reasoning or None))
        return self._committed(TurnResult(answer, None, request.info, reasoning))

    def switch_model(self, model: str) -> None:
        """Use `model` from the next turn on; the conversation remembers it (saved files, the library)."""
        self.model = self.conversation.model = model

    def replace_conversation(self, conversation: Conversation) -> None:
        """Continue `conversation` instead of the current one, its model and system prompt decided by
        `defaults` (ConversationDefaults.apply); without defaults it brings its own model, if it names one."""
        self.conversation.messages[:] = conversation.messages
        self.conversation.extra = dict(conversation.extra)
        self.conversation.model = conversation.model
        if self.defaults is not None:
            self.defaults.apply(self.conversation)
        self.switch_model(self.conversation.model or self.model)

    def commit_exchange(self, messages: Sequence[Message], result: TurnResult) -> TurnResult:
        """Commit a whole exchange (user message, tool calls and results, answer); then the observers run."""
        self.conversation.commit_exchange(messages)
        return self._committed(result)

    def _keep_partial(
        self, user: Message, answer: str, reasoning: str, status: Status, info: StreamInfo
    ) -> TurnResult:
        if not answer:
            return TurnResult(answer, status, info, reasoning)
        self.conversation.commit(user, Message("assistant", answer, status, reasoning=reasoning or None))
        return self._committed(TurnResult(answer, status, info, reasoning))

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
