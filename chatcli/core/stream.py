"""What a turn sends and what comes back: the request, the stream's pieces and report, the Backend protocol."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chatcli.core.conversation import Message


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning (`reasoning_content`), kept apart from the answer."""

    text: str


@dataclass(slots=True)
class Usage:
    """Tokens one answer cost. `prompt_tokens` counts the whole prompt, cached parts included: of it,
    `cache_read_tokens` were read from the provider's prompt cache and `cache_write_tokens` written to it
    (each priced apart); `reasoning_tokens`, where the server says, are part of `completion_tokens`."""

    prompt_tokens: int
    completion_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        reasoning = (
            None
            if self.reasoning_tokens is None and other.reasoning_tokens is None
            else (self.reasoning_tokens or 0) + (other.reasoning_tokens or 0)
        )
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            reasoning,
        )


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model a server lists (`GET /models`)."""

    id: str
    owned_by: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for (`arguments` is JSON text); `extra` holds the fields of the call
    chatcli does not know (such as Gemini's `extra_content`), sent back with it."""

    id: str = ""
    name: str = ""
    arguments: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            **self.extra,
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class ToolCallPiece:
    """A piece of the `index`-th tool call of an answer, as a stream sends it: its id and name usually in the
    first piece, its JSON arguments in any number of pieces; the turn assembles the calls."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""
    extra: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ProviderItem:
    """A provider's own record of part of an answer that must go back to it verbatim in later requests, and
    to no other backend: Anthropic's signed thinking blocks, a Responses reasoning item. The turn keeps them
    with the assistant message (`provider_items`); `data` is JSON."""

    backend: str
    data: Mapping[str, Any]


@dataclass(slots=True)
class StreamInfo:
    """What a stream reports besides its pieces: the backend returns it when the stream ends."""

    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: Sequence[Message]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # more request-body keys (-O, [options])
    tools: Sequence[Mapping[str, Any]] = ()  # OpenAI function-tool definitions offered to the model
    reasoning_shown: bool = False  # the user sees the reasoning (`reasoning` is show or summary): ask for it


Piece = str | Reasoning | ToolCallPiece | ProviderItem
AnswerStream = Generator[Piece, None, StreamInfo]


class Backend(Protocol):
    """Turns a message list into a stream of pieces: text deltas, `Reasoning` and `ToolCallPiece`s; the
    generator returns the stream's `StreamInfo` when the answer is complete.

    Closing the generator closes the HTTP stream. Failures raise `BackendError`.
    """

    name: str

    def stream(self, request: ChatRequest) -> AnswerStream: ...


@runtime_checkable
class ModelLister(Protocol):
    """A backend that can list its server's models (`chatcli models`)."""

    def list_models(self) -> list[ModelEntry]: ...


def _ignore(message: str) -> None:
    pass


def window_setting(settings: BackendSettings, model: str) -> int | None:
    """The context window the user set for `model`: its [context_windows] entry, else `context_window`."""
    return settings.context_windows.get(model, settings.context_window)


@dataclass(frozen=True, slots=True)
class BackendSettings:
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0  # the longest gap between two chunks once the answer has started
    connect_timeout: float = 10.0
    first_token_timeout: float = 300.0  # from sending the request to the first piece of the answer
    stream: bool = True  # False (--no-stream): ask for the whole answer in one response
    notify: Callable[[str], None] = _ignore  # one-line notices while waiting ("waiting 2s (rate limited)…")
    api_key_origin: str = "the API key"  # where the key came from, for messages ("OPENAI_API_KEY")
    organization: str | None = None  # OpenAI-Organization header (OPENAI_ORG_ID)
    project: str | None = None  # OpenAI-Project header (OPENAI_PROJECT_ID)
    proxy: str | None = None  # the proxy for every request; "" for none, None: proxy_environment decides
    # https_proxy, http_proxy, all_proxy and no_proxy as the environment sets them (lower-case names)
    proxy_environment: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None  # trusted certificates (file or directory); None: the system's store
    follow_redirects: str = "same-host"  # "same-host", "always" or "never"
    max_turn_seconds: float | None = None  # the longest a whole turn may take, retries included
    # the `context_window` setting and [context_windows] by model: Ollama is asked to load that many tokens
    context_window: int | None = None
    context_windows: Mapping[str, int] = field(default_factory=dict)
    prompt_cache: bool = True  # Anthropic: mark cache breakpoints (system prompt, tools, latest turns)
    keep_alive: str | None = None  # Ollama: how long the model stays loaded after a request ("5m", "-1")


def empty_answer_message(info: StreamInfo) -> str:
    """What to say when a stream ended normally without any text."""
    return f"the server sent an empty answer (finish_reason: {info.finish_reason or 'none'})"
