"""The chat-completions request body, built in one place from a ChatRequest."""

from __future__ import annotations

from typing import Any

from chatcli.core.conversation import api_messages
from chatcli.core.stream import ChatRequest


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
