"""What chatcli sends to a chat-completions server: the request body, built in one place from a ChatRequest, and
the headers that carry the key, the organization and the project (what the openai SDK used to add for us)."""

from __future__ import annotations

from typing import Any

from chatcli.backends.http.headers import check_token
from chatcli.core.conversation import api_messages
from chatcli.core.stream import BackendSettings, ChatRequest


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


def auth_headers(settings: BackendSettings) -> dict[str, str]:
    """The key as a Bearer token, and OpenAI's organization and project headers, each checked first."""
    headers = {}
    for name, value, subject in (
        ("Authorization", settings.api_key, f"the API key (from {settings.api_key_origin})"),
        ("OpenAI-Organization", settings.organization, "OPENAI_ORG_ID"),
        ("OpenAI-Project", settings.project, "OPENAI_PROJECT_ID"),
    ):
        if value:
            check_token(value, subject)
            headers[name] = f"Bearer {value}" if name == "Authorization" else value
    return headers
