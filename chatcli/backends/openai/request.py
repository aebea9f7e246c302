"""What chatcli sends: the chat-completions request body, built in one place from a ChatRequest, and the
headers of every request (what the openai SDK used to add for us, done explicitly)."""

from __future__ import annotations

import json
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


def encode_body(body: dict[str, Any]) -> bytes:
    """JSON with non-ASCII escaped: a lone surrogate from a loaded file cannot fail the encoding."""
    return json.dumps(body, separators=(",", ":")).encode("ascii")


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
