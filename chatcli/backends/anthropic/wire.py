"""Anthropic's Messages API as a Wire: POST /v1/messages, its SSE events, its error bodies, /v1/models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chatcli.backends import DEFAULT_BASE_URLS, KEY_VARIABLES, BackendName
from chatcli.backends.anthropic.events import error_text, read_events, read_message, read_models
from chatcli.backends.anthropic.request import messages_body, request_headers
from chatcli.backends.http.diagnosis import Wording
from chatcli.backends.http.headers import check_token
from chatcli.core.stream import BackendSettings, ChatRequest, ModelEntry, Piece, StreamInfo


class AnthropicWire:
    """The Messages API, as Anthropic and servers that speak it (llama.cpp's llama-server) serve it."""

    name = "anthropic"
    default_base_url = DEFAULT_BASE_URLS[BackendName.ANTHROPIC]
    api_prefix = "/v1"
    base_is_root = True
    chat_path = "messages"
    models_path = "models?limit=1000"  # the API lists 20 models a page unless asked for more
    wording = Wording(
        key_variable=KEY_VARIABLES[BackendName.ANTHROPIC],
        endpoint="an Anthropic Messages endpoint",
        server="an Anthropic Messages server",
        port="Anthropic Messages port",
    )

    def __init__(self, prompt_cache: bool = True) -> None:
        self._cache = prompt_cache

    def headers(self, settings: BackendSettings) -> dict[str, str]:
        if settings.api_key:
            check_token(settings.api_key, f"the API key (from {settings.api_key_origin})")
        return request_headers(settings.api_key)

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        return messages_body(request, stream=stream, cache=self._cache)

    def read_stream(
        self, lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None]
    ) -> Iterator[Piece]:
        return read_events(lines, info, key, warn)

    def read_whole(self, body: bytes, info: StreamInfo) -> list[Piece] | None:
        return read_message(body, info)

    def error_text(self, body: Any) -> str | None:
        return error_text(body)

    def read_models(self, body: bytes) -> list[ModelEntry]:
        return read_models(body)
