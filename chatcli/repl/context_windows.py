"""The context window of each model the chat uses, asked of the server once per model in a background thread, so
neither the prompt nor the toolbar ever waits for it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from chatcli.core.context import ContextWindow, ContextWindowSource


class ContextWindows:
    """`configured` is the config's window for a model (it wins); `source` asks the server (None: nothing to ask)."""

    def __init__(
        self, configured: Callable[[str], ContextWindow | None], source: ContextWindowSource | None
    ) -> None:
        self._configured = configured
        self._source = source
        self._asked: dict[str, threading.Event] = {}
        self._found: dict[str, ContextWindow | None] = {}
        self._lock = threading.Lock()

    def get(self, model: str, wait: float = 0.0) -> ContextWindow | None:
        """The window of `model`, or None while it is unknown; the first call for a model starts asking, and
        waits at most `wait` seconds for the answer."""
        if (configured := self._configured(model)) is not None or self._source is None:
            return configured
        with self._lock:
            done = self._asked.get(model)
            if done is None:
                done = self._asked[model] = threading.Event()
                threading.Thread(
                    target=self._ask, args=(model, done), name="chatcli-context", daemon=True
                ).start()
        if wait > 0:
            done.wait(wait)
        return self._found.get(model)

    def renew(self, model: str) -> None:
        """Ask again when the window is only guessed so far (Ollama's default, before the model was loaded)."""
        window = self._found.get(model)
        if window is None or not window.guessed:
            return
        with self._lock:
            asked = self._asked.get(model)
            if asked is not None and asked.is_set():
                del self._asked[model]
        self.get(model)

    def _ask(self, model: str, done: threading.Event) -> None:
        assert self._source is not None
        try:
            self._found[model] = self._source.context_window(model)
        finally:
            done.set()
