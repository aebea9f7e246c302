"""The ollama backend: Ollama's own /api/chat over the shared HTTP layer, and what only Ollama's API says — whether
a model can think (/api/show's capabilities, asked once per model) and the context it runs with (/api/ps,
/api/show), so that the gauge and the server agree."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeGuard

import httpx2

from chatcli.backends import DEFAULT_BASE_URLS, BackendName
from chatcli.backends.http.client import ChatClient
from chatcli.backends.http.diagnosis import Wording
from chatcli.backends.http.headers import check_token
from chatcli.backends.ollama.events import error_text, read_chat_stream, read_chat_whole, read_models
from chatcli.backends.ollama.request import chat_body
from chatcli.core.context import OLLAMA_DEFAULT_WINDOW, ContextWindow
from chatcli.core.errors import BackendError
from chatcli.core.stream import (
    AnswerStream,
    BackendSettings,
    ChatRequest,
    ModelEntry,
    Piece,
    StreamInfo,
    window_setting,
)

UNREACHABLE = (httpx2.ConnectError, httpx2.ConnectTimeout)
SHOW_SECONDS = 5.0  # the longest wait for /api/show before a turn: without an answer, `think` is not sent
_NUM_CTX = re.compile(r"^num_ctx\s+(\d+)\s*$", re.MULTILINE)  # a Modelfile's PARAMETER, as /api/show lists it


class OllamaWire:
    """Ollama's /api/chat: NDJSON streaming, options under `options`, no key (an api_key the user set is sent
    as a Bearer token, for an Ollama behind a proxy)."""

    name = "ollama"
    default_base_url = DEFAULT_BASE_URLS[BackendName.OLLAMA]
    api_prefix = ""
    base_is_root = True
    chat_path = "api/chat"
    models_path = "api/tags"
    wording = Wording(
        "the api_key setting",
        "an Ollama server (/api/chat)",
        "an Ollama server",
        "Ollama port (11434 unless OLLAMA_HOST says otherwise)",
        "check the base URL (Ollama's root, such as http://localhost:11434)",
    )

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self.thinking_models: set[str] = set()  # the models /api/show says can think

    def headers(self, settings: BackendSettings) -> dict[str, str]:
        if not settings.api_key:
            return {}
        check_token(settings.api_key, f"the API key (from {settings.api_key_origin})")
        return {"Authorization": f"Bearer {settings.api_key}"}

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        return chat_body(
            request,
            stream=stream,
            num_ctx=window_setting(self._settings, request.model),
            keep_alive=self._settings.keep_alive,
            think=request.reasoning_shown and request.model in self.thinking_models,
        )

    def read_stream(
        self, lines: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None]
    ) -> Iterator[Piece]:
        return read_chat_stream(lines, info, key, warn)

    def read_whole(self, body: bytes, info: StreamInfo) -> list[Piece] | None:
        return read_chat_whole(body, info)

    def error_text(self, body: Any) -> str | None:
        return error_text(body)

    def read_models(self, body: bytes) -> list[ModelEntry]:
        return read_models(body)


class OllamaBackend(ChatClient):
    def __init__(self, settings: BackendSettings) -> None:
        self._ollama_wire = OllamaWire(settings)
        super().__init__(settings, self._ollama_wire)
        self._asked_thinking: set[str] = set()

    def stream(self, request: ChatRequest) -> AnswerStream:
        """The answer; before a model's first turn with reasoning shown, /api/show says whether it can think
        (Ollama refuses `think` with a 400 for a model that cannot)."""
        if request.reasoning_shown and "think" not in request.options:
            self._ask_thinking(request.model)
        return (yield from super().stream(request))

    def _ask_thinking(self, model: str) -> None:
        if model in self._asked_thinking:
            return
        try:
            show = self.post_json("api/show", {"model": model}, timeout=SHOW_SECONDS)
        except BackendError as error:
            # A server chatcli cannot connect to would only make the chat wait out the connect timeout a second
            # time: its one line is the chat's. Any other failure (a proxy without /api/show) just means no think.
            if isinstance(error.__context__, UNREACHABLE):
                raise
            show = None
        self._asked_thinking.add(model)  # once per model, whatever it answered
        if "thinking" in capabilities(show if isinstance(show, dict) else None):
            self._ollama_wire.thinking_models.add(model)

    def context_window(self, model: str) -> ContextWindow | None:
        """The context `model` runs with: the context-window setting when there is one (chatcli sends it as
        num_ctx), else the context Ollama loaded it with (/api/ps), else its Modelfile's num_ctx (/api/show),
        else Ollama's default (guessed, at most the model's own context length). None when the server does not
        answer. Asked on connections of their own: the REPL asks in a background thread while an answer may
        be streaming, and a backend's read budgets belong to one request at a time."""
        if (tokens := window_setting(self._settings, model)) is not None:
            return ContextWindow(tokens, "config")
        return OllamaBackend(self._settings).ask_context_window(model)

    def ask_context_window(self, model: str) -> ContextWindow | None:
        loaded = self._loaded_window(model)
        if loaded is not None:
            return loaded
        show = self._show(model)
        if show is None:
            return None
        parameters = show.get("parameters")
        if isinstance(parameters, str) and (match := _NUM_CTX.search(parameters)):
            return ContextWindow(int(match[1]), "Ollama")
        trained = trained_context(show)
        default = min(OLLAMA_DEFAULT_WINDOW, trained) if trained else OLLAMA_DEFAULT_WINDOW
        return ContextWindow(default, "Ollama", guessed=True)

    def _loaded_window(self, model: str) -> ContextWindow | None:
        """/api/ps's `context_length` of the model once it is loaded (None before, or from an older Ollama)."""
        names = {model, f"{model}:latest"}
        try:
            loaded = self.get_json("api/ps")["models"]
            tokens = next(
                (
                    entry.get("context_length")
                    for entry in loaded
                    if isinstance(entry, dict) and names & {entry.get("name"), entry.get("model")}
                ),
                None,
            )
        except (BackendError, AttributeError, KeyError, TypeError):
            return None
        return ContextWindow(tokens, "Ollama") if _token_count(tokens) else None

    def _show(self, model: str) -> dict[str, Any] | None:
        """/api/show's answer for `model`; None when asking fails (a gauge or a guess is never worth an error)."""
        try:
            show = self.post_json("api/show", {"model": model})
        except BackendError:
            return None
        return show if isinstance(show, dict) else None


def capabilities(show: dict[str, Any] | None) -> list[str]:
    """/api/show's `capabilities` ("completion", "tools", "thinking", "vision"…); [] when it lists none."""
    found = show.get("capabilities") if show else None
    return [item for item in found if isinstance(item, str)] if isinstance(found, list) else []


def trained_context(show: dict[str, Any]) -> int | None:
    """The model's own context length: `model_info["<architecture>.context_length"]`."""
    info = show.get("model_info")
    if not isinstance(info, dict):
        return None
    architecture = info.get("general.architecture")
    tokens = info.get(f"{architecture}.context_length")
    return tokens if _token_count(tokens) else None


def _token_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
