"""How a wire reports a stream that failed: one line, kept as a partial answer once text reached the user."""

from __future__ import annotations

from chatcli.core.errors import BackendError, PartialAnswer

MALFORMED = "server sent malformed stream data"


def failure(message: str, got_text: bool) -> BackendError:
    """A failure of the stream: PartialAnswer once text reached the user (it is kept, never retried)."""
    return PartialAnswer(message) if got_text else BackendError(message)
