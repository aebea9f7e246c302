"""The responses backend: OpenAI's Responses API as a Wire over the shared HTTP client. Its base URL, key and
headers are the openai backend's; its body and events are its own (request.py, events.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from chatcli.backends import DEFAULT_BASE_URLS, KEY_VARIABLES, BackendName
from chatcli.backends.http.client import ChatClient
from chatcli.backends.http.diagnosis import StatusError, Wording, error_message, status_text
from chatcli.backends.http.sse import sse_events
from chatcli.backends.openai.client import OpenAIBackend
from chatcli.backends.openai.request import auth_headers
from chatcli.backends.openai.wire import OpenAIWire
from chatcli.backends.responses.events import read_events, read_response
from chatcli.backends.responses.request import responses_body
from chatcli.core.context import ContextWindow
from chatcli.core.errors import BackendError
from chatcli.core.stream import BackendSettings, ChatRequest, ModelEntry, Piece, StreamInfo

COUNT_PATH = "responses/input_tokens"  # OpenAI's count of a Responses request's input
COUNT_SECONDS = 5.0  # an estimate is not worth a longer wait
UNCOUNTED_KEYS = {"stream", "store", "max_output_tokens", "temperature", "include", "top_p"}


class ResponsesWire:
    """POST /responses with `stream: true`, its server-sent events, OpenAI's error bodies and model list."""

    name = "responses"
    default_base_url = DEFAULT_BASE_URLS[BackendName.RESPONSES]
    api_prefix = "/v1"
    base_is_root = False
    chat_path = "responses"
    models_path = "models"
    wording = Wording(
        key_variable=KEY_VARIABLES[BackendName.RESPONSES],
        endpoint="an OpenAI Responses API endpoint",
        server="an OpenAI Responses API server",
        port="OpenAI-compatible port",
        base_url_hint="does the base URL end in /v1?",
    )

    def __init__(self, warn: Callable[[str], None], key: str | None) -> None:
        self._warn = warn  # notices about a whole answer (a stream's go to read_stream's `warn`)
        self._key = key  # kept out of the message of a whole response that failed
        self.asks_for_summaries = True  # off for the session once the server refuses them

    def headers(self, settings: BackendSettings) -> dict[str, str]:
        return auth_headers(settings)

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        if request.reasoning_shown and not self.asks_for_summaries:
            request = replace(request, reasoning_shown=False)
        return responses_body(request, stream=stream)

    def adapt(self, error: StatusError) -> bool:
        """Reasoning summaries refused (OpenAI gives them only to verified organizations, and answers 400 to
        the others): asked again at once without them, for the rest of the session."""
        if not self.asks_for_summaries or error.status != 400 or "summar" not in status_text(error).lower():
            return False
        self.asks_for_summaries = False
        self._warn("the server refused to summarize the reasoning; asking without summaries")
        return True

    def read_stream(
        self, lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None]
    ) -> Iterator[Piece]:
        # the event's name is not read: each event's JSON says its `type`
        return read_events((data for _, data in sse_events(lines)), info, key, warn)

    def read_whole(self, body: bytes, info: StreamInfo) -> list[Piece] | None:
        return read_response(body, info, self._key, self._warn)

    def error_text(self, body: Any) -> str | None:
        return error_message(body)

    def read_models(self, body: bytes) -> list[ModelEntry]:
        return OpenAIWire().read_models(body)  # the same `GET /models`


class ResponsesBackend(ChatClient):
    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings, ResponsesWire(settings.notify, settings.api_key))

    def count_prompt_tokens(self, request: ChatRequest) -> int | None:
        """The server's count of the prompt (`POST /responses/input_tokens`, the request's body without what
        only a reply needs); None when the server has no such counter or asking fails."""
        body = {
            key: value
            for key, value in responses_body(request, stream=False).items()
            if key not in UNCOUNTED_KEYS
        }
        try:
            answer = self.post_json(COUNT_PATH, body, timeout=COUNT_SECONDS, optional=True)
        except BackendError:
            return None
        tokens = answer.get("input_tokens") if isinstance(answer, dict) else None
        return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0 else None

    def context_window(self, model: str) -> ContextWindow | None:
        """The context window as the openai backend finds it (the model list, llama.cpp's /props…): the same
        server, asked the same way, on connections of its own."""
        return OpenAIBackend(self._settings).ask_context_window(model)
