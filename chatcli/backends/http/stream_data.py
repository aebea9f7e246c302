"""What every wire's reader shares: its faults (Malformed, ServerError), one JSON object decoded, a string
checked, and the guard that turns a fault into the same one-line failure whichever wire found it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chatcli.backends.http.errors import ENDED_EARLY, MALFORMED, MID_STREAM, failure
from chatcli.backends.redact import short_reason
from chatcli.core.stream import Piece, StreamInfo

JSON = json.JSONDecoder()  # json.loads without its per-call checks; bytes are decoded first (faster)


class Malformed(ValueError):
    """A field the server sent has the wrong type or an impossible value."""


class ServerError(Exception):
    """The server said the answer failed (an error event or line): its own reason."""


def ignore(message: str) -> None:
    """A `warn` that drops the notice."""


def decode_object(data: bytes) -> dict[str, Any]:
    """One event's (or line's) JSON object; Malformed for anything else (bad UTF-8, bad JSON, nesting too
    deep)."""
    try:
        event = JSON.decode(data.decode())
    except (ValueError, RecursionError):
        raise Malformed from None
    if type(event) is not dict:
        raise Malformed
    return event


def checked_text(value: Any) -> str:
    """`value` when it is a string that can be written out as UTF-8 (no lone surrogates), else Malformed."""
    if type(value) is not str:
        raise Malformed
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise Malformed from None
    return value


def guarded(pieces: Iterator[Piece], info: StreamInfo, key: str | None) -> Iterator[Piece]:
    """`pieces` as a wire reads them, each fault one line: a ServerError is MID_STREAM and its reason (`key`
    redacted, one short line), malformed data MALFORMED, and a stream that ends before the answer finished
    (no finish reason in `info`) ENDED_EARLY; a PartialAnswer once text came, else a BackendError."""
    got_text = False
    try:
        for piece in pieces:
            got_text = got_text or type(piece) is str
            yield piece
    except ServerError as error:
        raise failure(MID_STREAM + short_reason(str(error), key), got_text) from None
    except (Malformed, RecursionError):
        raise failure(MALFORMED, got_text) from None
    if info.finish_reason is None:
        raise failure(ENDED_EARLY, got_text)
