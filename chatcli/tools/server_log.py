"""mcp.log: the servers' stderr and the SDK's warnings, bounded on disk whatever a server writes.

A log that has grown past ROTATE_BYTES is moved to mcp.log.1 (replacing the older one) when chatcli opens it.
In one run each server's stderr is kept up to SERVER_BYTES and everything else up to OTHER_BYTES; the rest is
read (so a server never blocks on a full pipe) and dropped, with a marker line where dropping starts and one
at close saying how much was dropped.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROTATE_BYTES = 4 * 1024 * 1024
SERVER_BYTES = 1024 * 1024  # of one server's stderr, per run
OTHER_BYTES = 1024 * 1024  # of chatcli's own lines and the SDK's warnings, per run


class _Budget:
    """Bytes left for one source, and what was dropped once they ran out."""

    __slots__ = ("dropped", "left", "size", "what")

    def __init__(self, what: str, size: int) -> None:
        self.what = what
        self.size = self.left = size
        self.dropped = 0


class ServerLog:
    """The log file (0600), written from the MCP thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            if path.stat().st_size > ROTATE_BYTES:
                os.replace(path, path.with_name(path.name + ".1"))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "ab", buffering=0)  # what a server wrote is there even if chatcli dies
        self._other = _Budget("chatcli's and the MCP SDK's lines", OTHER_BYTES)
        self._servers: dict[str, _Budget] = {}

    def write(self, text: str) -> int:
        """chatcli's own lines and the SDK's warnings (a text stream, for logging's handler)."""
        self._add(self._other, text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        """Nothing to do: the file is unbuffered."""

    def stderr(self, server: str, data: bytes) -> None:
        """A piece of `server`'s stderr, as it wrote it."""
        budget = self._servers.setdefault(server, _Budget(f"{server}'s stderr", SERVER_BYTES))
        self._add(budget, data)

    def close(self) -> None:
        for budget in (*self._servers.values(), self._other):
            if budget.dropped:
                self._put(f"\n[chatcli: {budget.dropped} bytes of {budget.what} were dropped]\n".encode())
        self._file.close()

    def _add(self, budget: _Budget, data: bytes) -> None:
        if budget.left <= 0:
            budget.dropped += len(data)
            return
        kept = data[: budget.left]
        budget.left -= len(kept)
        budget.dropped += len(data) - len(kept)
        self._put(kept)
        if budget.left <= 0:
            self._put(f"\n[chatcli: {budget.what} beyond {budget.size} bytes this run is dropped]\n".encode())

    def _put(self, data: bytes) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._file.write(data)
