"""What a turn sends and what comes back: the request, the stream's pieces and report, the Backend protocol."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatcli.core.conversation import Message


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning (`reasoning_content`), kept apart from the answer."""

    text: str


@dataclass(slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model a server lists (`GET /models`)."""

    id: str
    owned_by: str | None = None


@dataclass(slots=True)
class ToolCall:
    """A function call the model asked for; a stream assembles it from pieces (`arguments` is JSON text)."""

    id: str = ""
    name: str = ""
    arguments: str = ""

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(slots=True)
class StreamInfo:
    """What a stream reports besides its text, filled in as it runs."""

    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)  # the calls the model asked for, in order


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: Sequence[Message]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    info: StreamInfo = field(default_factory=StreamInfo)
    options: Mapping[str, Any] = field(default_factory=dict)  # more request-body keys (-O, [options])
    tools: Sequence[Mapping[str, Any]] = ()  # OpenAI function-tool definitions offered to the model


AnswerStream = Generator[str | Reasoning, None, None]


class Backend(Protocol):
    """Turns a message list into a stream of text deltas (and occasional `Reasoning` pieces).

    The iterator is a generator: closing it closes the HTTP stream. Failures raise `BackendError`.
    """

    name: str

    def stream(self, request: ChatRequest) -> AnswerStream: ...


def _ignore(message: str) -> None:
    pass


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


def empty_answer_message(info: StreamInfo) -> str:
    """What to say when a stream ended normally without any text."""
    return f"the server sent an empty answer (finish_reason: {info.finish_reason or 'none'})"
