"""The OpenAI-compatible backend: chat completions (wire.py) over the shared HTTP client, and the context
window each kind of OpenAI-compatible server reports in its own place.

The openai SDK is not used at run time: importing it costs more than a second, and the tests use it as the
oracle instead (tests/test_conformance.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from chatcli.backends.http.client import ChatClient
from chatcli.backends.openai.request import chat_body
from chatcli.backends.openai.token_count import LlamaCppTokenCount
from chatcli.backends.openai.wire import OpenAIWire
from chatcli.core.context import OLLAMA_DEFAULT_WINDOW, ContextWindow
from chatcli.core.errors import BackendError
from chatcli.core.stream import BackendSettings, ChatRequest

WINDOW_SECONDS = 5.0  # the longest read of each answer about the context window: a gauge is not worth a wait
OFFICIAL_HOST = "api.openai.com"  # has no token counter to ask


class OpenAIBackend(ChatClient):
    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings, OpenAIWire(settings.notify))
        self._token_count = LlamaCppTokenCount()

    def count_prompt_tokens(self, request: ChatRequest) -> int | None:
        """The server's count of `request`'s prompt (llama.cpp's counters, token_count.py); None from a server
        that cannot say. The official API has no counter, so it is not asked."""
        if urlsplit(self.base_url).hostname == OFFICIAL_HOST:
            return None
        body = chat_body(request, stream=False, include_usage=False)
        return self._token_count.count(request, body, self._post_small)

    def _post_small(self, path: str, body: Mapping[str, Any], beside_api: bool) -> Any:
        return self.post_json(path, dict(body), beside_api=beside_api, timeout=WINDOW_SECONDS, optional=True)

    def context_window(self, model: str) -> ContextWindow | None:
        """The context window `model` runs with, where the server says: vLLM's and OpenRouter's model list
        (`max_model_len`, `context_length`), llama.cpp's /props (`n_ctx`), and for Ollama, whose /v1 ignores
        `num_ctx`, the context it loaded the model with (/api/ps), else its default. None when no server says,
        or when asking fails: the gauge is never worth an error. Asked on connections of its own: the chat may
        be streaming an answer meanwhile (the REPL asks in a background thread), and a backend's read budgets
        belong to one request at a time."""
        return OpenAIBackend(self._settings).ask_context_window(model)

    def ask_context_window(self, model: str) -> ContextWindow | None:
        for ask in (self._window_in_model_list, self._llama_cpp_window, self._ollama_window):
            try:
                window = ask(model)
            except BackendError:
                window = None
            except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
                window = None  # JSON of another shape: this server does not say
            if window is not None:
                return window
        return None

    def _window_in_model_list(self, model: str) -> ContextWindow | None:
        listing = self.get_json("models", timeout=WINDOW_SECONDS)
        entries = listing["data"] if isinstance(listing, dict) else listing
        entry = next((entry for entry in entries if isinstance(entry, dict) and entry.get("id") == model), {})
        for key, server in (("max_model_len", "vLLM"), ("context_length", "OpenRouter")):
            if _token_count(entry.get(key)):
                return ContextWindow(entry[key], server)
        return None

    def _llama_cpp_window(self, _: str) -> ContextWindow | None:
        props = self.get_json("props", beside_api=True, timeout=WINDOW_SECONDS)
        tokens = props["default_generation_settings"]["n_ctx"]
        return ContextWindow(tokens, "llama.cpp") if _token_count(tokens) else None

    def _ollama_window(self, model: str) -> ContextWindow | None:
        """The context the model is loaded with, else Ollama's default, guessed."""
        version = self.get_json("api/version", beside_api=True, timeout=WINDOW_SECONDS)
        if "version" not in version:
            return None
        return self._ollama_loaded_window(model) or ContextWindow(
            OLLAMA_DEFAULT_WINDOW, "Ollama", guessed=True
        )

    def _ollama_loaded_window(self, model: str) -> ContextWindow | None:
        """/api/ps's `context_length` of the model, once it is loaded (None before, or from an older Ollama)."""
        names = {model, f"{model}:latest"}
        try:
            loaded = self.get_json("api/ps", beside_api=True, timeout=WINDOW_SECONDS)["models"]
            tokens = next(
                (
                    entry.get("context_length")
                    for entry in loaded
                    if isinstance(entry, dict) and names & {entry.get("name"), entry.get("model")}
                ),
                None,
            )
        except BackendError:
            return None
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
            return None
        return ContextWindow(tokens, "Ollama") if _token_count(tokens) else None


def _token_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
