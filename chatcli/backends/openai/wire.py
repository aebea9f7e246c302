"""Chat completions as a Wire: POST /chat/completions, its SSE chunks, OpenAI-compatible error bodies, /models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from chatcli.backends import DEFAULT_BASE_URLS, KEY_VARIABLES, BackendName
from chatcli.backends.http.diagnosis import StatusError, Wording, error_message, status_text
from chatcli.backends.openai.events import read_completion, read_events
from chatcli.backends.openai.request import auth_headers, chat_body
from chatcli.core.stream import BackendSettings, ChatRequest, ModelEntry, Piece, StreamInfo

# What a server without usage chunks says about `stream_options` (a 400 or 422).
_STREAM_OPTIONS_HINTS = (
    "stream_options",
    "include_usage",
    "unknown parameter",
    "unrecognized",
    "extra inputs",
)


def _ignore(message: str) -> None:
    pass


class OpenAIWire:
    """OpenAI's chat completions, as OpenAI and every OpenAI-compatible server (vLLM, llama.cpp, Ollama's /v1,
    OpenRouter, Gemini…) speak them."""

    name = "openai"
    default_base_url = DEFAULT_BASE_URLS[BackendName.OPENAI]
    api_prefix = "/v1"
    base_is_root = False
    chat_path = "chat/completions"
    models_path = "models"
    wording = Wording(
        key_variable=KEY_VARIABLES[BackendName.OPENAI],
        endpoint="an OpenAI-compatible endpoint",
        server="an OpenAI-compatible server",
        port="OpenAI-compatible port",
        base_url_hint="does the base URL end in /v1?",
    )

    def __init__(self, warn: Callable[[str], None] = _ignore) -> None:
        self._warn = warn  # notices about a whole answer (a stream's go to read_stream's `warn`)
        self.asks_for_usage = True  # off for the session once the server rejects `stream_options`

    def headers(self, settings: BackendSettings) -> dict[str, str]:
        return auth_headers(settings)

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        return chat_body(request, stream=stream, include_usage=self.asks_for_usage)

    def adapt(self, error: StatusError) -> bool:
        """A server that rejects `stream_options` (an older one, without usage chunks) is asked without it."""
        if not self.asks_for_usage or error.status not in (400, 422):
            return False
        text = status_text(error).lower()
        self.asks_for_usage = not any(hint in text for hint in _STREAM_OPTIONS_HINTS)
        return not self.asks_for_usage

    def read_stream(
        self, lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None]
    ) -> Iterator[Piece]:
        return read_events(lines, info, key, warn)

    def read_whole(self, body: bytes, info: StreamInfo) -> list[Piece] | None:
        answer = read_completion(body.decode("utf-8", "replace"), info, self._warn)
        if answer is None:
            return None
        content, calls = answer
        return [content, *calls] if content else list(calls)

    def error_text(self, body: Any) -> str | None:
        return error_message(body)

    def read_models(self, body: bytes) -> list[ModelEntry]:
        listing = json.loads(body)
        models = listing["data"] if isinstance(listing, dict) else listing
        return [_model_entry(model) for model in models if isinstance(model.get("id"), str)]


def _model_entry(model: dict[str, Any]) -> ModelEntry:
    owner = model.get("owned_by")
    return ModelEntry(model["id"], owner if isinstance(owner, str) else None)
