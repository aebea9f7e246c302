"""A JSON request body as it is sent: encoded a piece at a time, its length known up front."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LONG_STRING = 1 << 16  # strings at least this long (a base64 image) are encoded piece by piece


@dataclass(frozen=True, slots=True)
class EncodedBody:
    """A JSON body as an iterable of byte pieces with its length known up front (for Content-Length).

    The same bytes as `json.dumps(body, ensure_ascii=False, separators=(",", ":"))` encoded as UTF-8, but long
    strings are encoded LONG_STRING characters at a time as they are sent, so a 20 MiB image's base64 is never
    copied whole into a body string and again into body bytes. Iterating again sends it again (a retry)."""

    length: int
    _pieces: tuple[bytes | str, ...]  # bytes: JSON between the long strings; str: a long string, unquoted

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if isinstance(piece, bytes):
                yield piece
            else:
                yield from _encoded_string(piece)


def encode_body(body: dict[str, Any]) -> EncodedBody:
    """`body` as an EncodedBody (see there)."""
    marker = secrets.token_hex(8)
    long_strings: list[str] = []

    def hide(value: Any) -> Any:
        if isinstance(value, str) and len(value) >= LONG_STRING:
            long_strings.append(value)
            return f"{marker}{len(long_strings) - 1}{marker}"
        if isinstance(value, dict):
            return {key: hide(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [hide(item) for item in value]
        return value

    skeleton = json.dumps(hide(body), ensure_ascii=False, separators=(",", ":"))
    pieces: list[bytes | str] = []
    for index, between in enumerate(re.split(f'"{marker}\\d+{marker}"', skeleton)):
        if index:
            pieces.append(long_strings[index - 1])
        pieces.append(between.encode("utf-8"))
    length = sum(
        len(piece) if isinstance(piece, bytes) else sum(map(len, _encoded_string(piece))) for piece in pieces
    )
    return EncodedBody(length, tuple(pieces))


def _encoded_string(text: str) -> Iterator[bytes]:
    """`text` as a quoted JSON string in UTF-8, in pieces (JSON escapes each character on its own)."""
    yield b'"'
    for start in range(0, len(text), LONG_STRING):
        yield json.dumps(text[start : start + LONG_STRING], ensure_ascii=False)[1:-1].encode("utf-8")
    yield b'"'
