"""A backend built in a background thread, so the REPL's first prompt does not wait for its imports."""

from __future__ import annotations

import threading
from collections.abc import Callable

from chatcli.core.context import ContextWindow, ContextWindowSource
from chatcli.core.errors import BackendError, ChatError
from chatcli.core.prompt_estimate import TokenCounter
from chatcli.core.stream import AnswerStream, Backend, ChatRequest


class BackgroundBackend:
    """Starts building the real backend on `start()`; the first `stream()` waits for it."""

    def __init__(self, name: str, create: Callable[[], Backend]) -> None:
        self.name = name
        self._create = create
        self._backend: Backend | None = None
        self._error: Exception | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._build, name="chatcli-backend", daemon=True)

    def start(self) -> None:
        if self._thread.ident is None:  # not started yet
            self._thread.start()

    def _build(self) -> None:
        try:
            self._backend = self._create()
        except Exception as error:
            self._error = error
        finally:
            self._ready.set()

    def stream(self, request: ChatRequest) -> AnswerStream:
        # A generator, so the wait happens inside the turn, where Ctrl-C is handled.
        self.start()
        self._ready.wait()
        if isinstance(self._error, ChatError):
            raise self._error
        if self._error is not None or self._backend is None:
            reason = f"{type(self._error).__name__}: {self._error}" if self._error else "not created"
            raise BackendError(f"cannot start the {self.name} backend ({reason}); reinstall chatcli")
        return (yield from self._backend.stream(request))

    def context_window(self, model: str) -> ContextWindow | None:
        """The built backend's answer, once it is built (None when it cannot say)."""
        self.start()
        self._ready.wait()
        backend = self._backend
        return backend.context_window(model) if isinstance(backend, ContextWindowSource) else None

    def count_prompt_tokens(self, request: ChatRequest) -> int | None:
        """The built backend's count of the prompt, once it is built (None when it cannot say)."""
        self.start()
        self._ready.wait()
        backend = self._backend
        return backend.count_prompt_tokens(request) if isinstance(backend, TokenCounter) else None
