"""The backends, by name: each module is imported only when its backend is used."""

from __future__ import annotations

import importlib
from enum import StrEnum
from urllib.parse import urlsplit

from chatcli.core.errors import UsageError
from chatcli.core.stream import Backend, BackendSettings


class BackendName(StrEnum):
    ECHO = "echo"
    OPENAI = "openai"  # chat completions: OpenAI and every OpenAI-compatible server
    ANTHROPIC = "anthropic"  # the Messages API
    RESPONSES = "responses"  # OpenAI's Responses API
    OLLAMA = "ollama"  # Ollama's own /api/chat


REGISTRY: dict[BackendName, str] = {
    BackendName.ECHO: "chatcli.backends.echo:EchoBackend",
    BackendName.OPENAI: "chatcli.backends.openai.client:OpenAIBackend",
    BackendName.ANTHROPIC: "chatcli.backends.anthropic.client:AnthropicBackend",
    BackendName.RESPONSES: "chatcli.backends.responses.client:ResponsesBackend",
    BackendName.OLLAMA: "chatcli.backends.ollama.client:OllamaBackend",
}

# Where each backend sends requests when no base URL is set: the root its provider's SDK takes.
DEFAULT_BASE_URLS: dict[BackendName, str] = {
    BackendName.OPENAI: "https://api.openai.com/v1",
    BackendName.ANTHROPIC: "https://api.anthropic.com",
    BackendName.RESPONSES: "https://api.openai.com/v1",
    BackendName.OLLAMA: "http://localhost:11434",
}
# The environment variable each backend takes its key from (none for Ollama, which has no keys).
KEY_VARIABLES: dict[BackendName, str] = {
    BackendName.OPENAI: "OPENAI_API_KEY",
    BackendName.ANTHROPIC: "ANTHROPIC_API_KEY",
    BackendName.RESPONSES: "OPENAI_API_KEY",
}
# The backends that send a PDF as a document; for the others its text is extracted.
DOCUMENT_BACKENDS = frozenset({BackendName.ANTHROPIC, BackendName.RESPONSES})
ANTHROPIC_HOST = "api.anthropic.com"


def is_anthropic_url(url: str | None) -> bool:
    """Whether `url` is Anthropic's own API (which `auto` talks to with the anthropic backend)."""
    try:
        return bool(url) and (urlsplit(url).hostname or "").lower() == ANTHROPIC_HOST
    except ValueError:
        return False


def create_backend(name: str, settings: BackendSettings) -> Backend:
    try:
        target = REGISTRY[BackendName(name)]
    except ValueError:
        raise UsageError(f"unknown backend {name!r}; choose one of {', '.join(REGISTRY)}") from None
    module_name, class_name = target.split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = backend_class(settings)
    return backend
