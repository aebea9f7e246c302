"""How a wire reports a stream that failed: one line, kept as a partial answer once text reached the user."""

from __future__ import annotations

from chatcli.core.errors import BackendError, PartialAnswer

# The same words for the same fault, whichever wire finds it.
MALFORMED = "server sent malformed stream data"
ENDED_EARLY = "the answer ended early: the server closed the stream before it finished"
MID_STREAM = "server reported an error mid-stream: "  # followed by the server's reason, made one short line


def failure(message: str, got_text: bool) -> BackendError:
    """A failure of the stream: PartialAnswer once text reached the user (it is kept, never retried)."""
    return PartialAnswer(message) if got_text else BackendError(message)
