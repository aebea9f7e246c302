"""What chatcli sends: the chat-completions request body, built in one place from a ChatRequest, and the
headers of every request (what the openai SDK used to add for us, done explicitly)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chatcli import __version__
from chatcli.core.conversation import api_messages
from chatcli.core.errors import UsageError
from chatcli.core.stream import BackendSettings, ChatRequest

USER_AGENT = f"chatcli/{__version__}"


def chat_body(request: ChatRequest, *, stream: bool, include_usage: bool) -> dict[str, Any]:
    """The JSON body of POST /chat/completions; `include_usage` asks a stream for token counts."""
    body: dict[str, Any] = {
        **request.options,
        "model": request.model,
        "messages": api_messages(request.messages),
    }
    body["stream"] = stream
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = list(request.tools)
    if stream and include_usage:
        body["stream_options"] = {"include_usage": True}
    return body


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


def request_headers(settings: BackendSettings) -> dict[str, str]:
    """The headers of every request. No compression is asked for: a compressed stream could not be read
    as it arrives, and a small compressed body can expand enormously (client.py caps bodies that come
    compressed anyway)."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    for name, value, subject in (
        ("Authorization", settings.api_key, f"the API key (from {settings.api_key_origin})"),
        ("OpenAI-Organization", settings.organization, "OPENAI_ORG_ID"),
        ("OpenAI-Project", settings.project, "OPENAI_PROJECT_ID"),
    ):
        if value:
            check_token(value, subject)
            headers[name] = f"Bearer {value}" if name == "Authorization" else value
    return headers


def check_token(value: str, subject: str) -> None:
    """Keys and ids are printable ASCII without spaces. A key file saved with Windows line endings or a
    pasted smart quote would otherwise fail deep in the HTTP library with a message about something else.
    The error names the first bad character and its position, never the value."""
    for position, character in enumerate(value, 1):
        if "!" <= character <= "~":
            continue
        import unicodedata  # only on this error path

        name = unicodedata.name(character, "")
        raise UsageError(
            f"{subject} contains {character!r} (U+{ord(character):04X}{' ' + name if name else ''}) at "
            f"character {position} of {len(value)}; keys are plain ASCII without spaces: remove it "
            "(a file saved with Windows line endings, a smart quote or a non-breaking space?)"
        )
