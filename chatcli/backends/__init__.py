"""The backends, by name: each module is imported only when its backend is used."""

from __future__ import annotations

import importlib
from enum import StrEnum

from chatcli.core.errors import UsageError
from chatcli.core.stream import Backend, BackendSettings


class BackendName(StrEnum):
    ECHO = "echo"
    OPENAI = "openai"


# The backends that take a PDF as a `file` content part (storage.pdfs); for the others its text is sent.
DOCUMENT_BACKENDS = frozenset({"anthropic", "responses"})

REGISTRY: dict[BackendName, str] = {
    BackendName.ECHO: "chatcli.backends.echo:EchoBackend",
    BackendName.OPENAI: "chatcli.backends.openai.client:OpenAIBackend",
}


def create_backend(name: str, settings: BackendSettings) -> Backend:
    try:
        target = REGISTRY[BackendName(name)]
    except ValueError:
        raise UsageError(f"unknown backend {name!r}; choose one of {', '.join(REGISTRY)}") from None
    module_name, class_name = target.split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = backend_class(settings)
    return backend
