"""The contract every provider's wire format implements: what differs between chat-completions, Anthropic
Messages, OpenAI Responses and Ollama, and nothing else (the HTTP exchange, budgets, caps and retries are the
ChatClient's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from chatcli.core.stream import BackendSettings, ChatRequest, ModelEntry, Piece, StreamInfo


class Wire(Protocol):
    """A provider's wire format. Optional hooks, found with getattr:

    - `adapt(error: StatusError) -> bool`: the wire changed its next body to avoid this error; the client retries
      at once (openai drops `stream_options` for a server that rejects it);
    - `finish_messages: Mapping[str, str]`: the wire's own one-line messages for its finish reasons;
    - `endpoint_kind: str`: what the server should be, in messages ("an OpenAI-compatible endpoint"; default
      "a NAME endpoint").
    """

    name: str  # the backend's name: "openai", "anthropic", "responses", "ollama"
    default_base_url: str  # used when the settings name no base URL
    api_prefix: str  # the API root when the base URL has no path: "/v1", or "" (see api_root)
    chat_path: str  # relative to the API root: "chat/completions", "messages", "responses", "api/chat"
    models_path: str  # relative to the API root: "models", "api/tags"

    def headers(self, settings: BackendSettings) -> dict[str, str]:
        """The auth and version headers (each key checked with headers.check_token)."""
        ...

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a chat request."""
        ...

    def read_stream(
        self, lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None]
    ) -> Iterator[Piece]:
        """The answer's pieces from the body's lines (each with its line end; SSE or NDJSON). Fills `info`
        (finish_reason as soon as the answer is finished: the client then gives the server only a short grace
        to end the stream; usage; model). Raises errors.failure(message, got_text) for an error event,
        malformed data (errors.MALFORMED) or a stream that ends before the answer finished."""
        ...

    def read_whole(self, body: bytes, info: StreamInfo) -> list[Piece] | None:
        """A non-streamed answer's pieces, `info` filled; None when `body` is not an answer of this format."""
        ...

    def error_text(self, body: Any) -> str | None:
        """The provider's error JSON as its message (None: not this shape). Redacting it and cutting it to
        one line are the client's job."""
        ...

    def read_models(self, body: bytes) -> list[ModelEntry]:
        """The model list; ValueError, KeyError or TypeError when it cannot be read."""
        ...


def api_root(base_path: str, api_prefix: str) -> str:
    """The path requests go under: the base URL's path without a trailing "/"; when it is empty, the wire's
    `api_prefix`; a trailing /v1 is dropped for a wire whose API has no /v1 (Ollama given
    http://localhost:11434/v1). Any other path is used as given (OpenRouter's /api/v1, Gemini's
    /v1beta/openai, Anthropic given https://api.anthropic.com/v1)."""
    path = base_path.rstrip("/")
    if not path:
        return api_prefix
    if api_prefix == "" and path.endswith("/v1"):
        return path.removesuffix("/v1")
    return path
