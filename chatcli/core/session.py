"""A chat session: the conversation, the settings its turns use, and the observers told of each committed turn.
A turn is one transaction: the conversation changes only once the answer is in; then the observers run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatcli.core.conversation import Content, Conversation, Message
from chatcli.core.errors import ChatError
from chatcli.core.renderer import Renderer
from chatcli.core.stream import Backend, ChatRequest
from chatcli.core.tools import ToolRunner
from chatcli.core.turn import DEFAULT_MAX_ANSWER_BYTES, Round, Turn, TurnRequest, TurnResult, stream_round


@dataclass(frozen=True, slots=True)
class TurnOverrides:
    """What one turn sends differently from the session's settings (a template's model, system prompt and
    request options); the session itself does not change."""

    model: str | None = None
    system: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


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
    tools: ToolRunner | None = None  # when set, the model may call tools (chatcli.core.turn)
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES  # a longer answer (with its reasoning) is cut here
    reasoning_shown: bool = False  # the user sees the model's reasoning: backends that must ask for it do

    def turn(
        self,
        text: Content,
        renderer: Renderer,
        new_renderer: Callable[[], Renderer] | None = None,
        overrides: TurnOverrides | None = None,
    ) -> TurnResult:
        """Send `text` (a string, or text and image parts), stream the answer through `renderer` (each tool
        round after the first through a `new_renderer()`), then commit what the turn added and run the
        observers.

        An error before any text leaves the conversation as it was. Ctrl-C keeps the partial answer,
        committed as interrupted; a stream that breaks after text keeps it, committed as failed, and re-raises;
        so does an answer longer than `max_answer_bytes`, whose stream is closed there.
        """
        request, history = self._turn_request(overrides or TurnOverrides())
        turn = Turn(self.backend, request, self.tools, self.max_answer_bytes)
        exchange = turn.run(history, Message("user", text), renderer, new_renderer or (lambda: renderer))
        if exchange.messages:
            self.conversation.commit_exchange(exchange.messages)
            exchange.result.committed = True
            self._notify(exchange.result)
        if exchange.error is not None:
            raise exchange.error
        return exchange.result

    def first_request(self, text: Content, overrides: TurnOverrides | None = None) -> ChatRequest:
        """What `turn(text, …, overrides)` would send first (the cost guard estimates it)."""
        request, history = self._turn_request(overrides or TurnOverrides())
        offered = self.tools.definitions() if self.tools is not None else ()
        return request.for_messages([*history, Message("user", text)], offered)

    def _turn_request(self, overrides: TurnOverrides) -> tuple[TurnRequest, list[Message]]:
        """A turn's settings and the history it follows, with `overrides` applied."""
        request = TurnRequest(
            overrides.model or self.model,
            self.temperature,
            self.max_tokens,
            {**self.options, **overrides.options},
            self.reasoning_shown,
        )
        history = self.conversation.messages
        if overrides.system is not None:
            history = [Message("system", overrides.system), *(m for m in history if m.role != "system")]
        return request, history

    def summarize(self, prompt: str, renderer: Renderer) -> Round:
        """Ask for an answer to `prompt` after the conversation's messages (a summary, for compaction), shown
        through `renderer` as a turn's answer is, without tools; the conversation does not change and no
        observer runs. A failure before any text raises BackendError."""
        request = TurnRequest(
            self.model, self.temperature, self.max_tokens, self.options, self.reasoning_shown
        )
        messages = [*self.conversation.messages, Message("user", prompt)]
        return stream_round(self.backend, request.for_messages(messages, ()), renderer, self.max_answer_bytes)

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

    def _notify(self, result: TurnResult) -> None:
        """Tell each observer about the committed turn; the first observer's failure is raised after all ran."""
        failure: ChatError | None = None
        for observer in self.observers:
            try:
                observer.turn_committed(self, result)
            except ChatError as problem:
                failure = failure or problem
        if failure is not None:
            raise failure
