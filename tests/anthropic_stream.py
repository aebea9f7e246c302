"""Anthropic Messages streams for the scripted test server, built as Anthropic's streaming documentation shows
them: `event:` and `data:` lines, message_start, content blocks, message_delta with the usage, message_stop."""

from __future__ import annotations

import json
from typing import Any

from tests.openai_server import Reply

MODEL = "claude-test"


def event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def message_start(usage: dict[str, Any] | None = None, model: str = MODEL) -> bytes:
    message: dict[str, Any] = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 25, "output_tokens": 1},
    }
    return event({"type": "message_start", "message": message})


def block_start(index: int, block: dict[str, Any]) -> bytes:
    return event({"type": "content_block_start", "index": index, "content_block": block})


def delta(index: int, **fields: Any) -> bytes:
    return event({"type": "content_block_delta", "index": index, "delta": fields})


def block_stop(index: int) -> bytes:
    return event({"type": "content_block_stop", "index": index})


def message_end(stop_reason: str = "end_turn", usage: dict[str, Any] | None = None) -> list[bytes]:
    return [
        event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": usage or {"output_tokens": 15},
            }
        ),
        event({"type": "message_stop"}),
    ]


def text_block(index: int, *pieces: str, delay: float = 0.0) -> list[Any]:
    body: list[Any] = [block_start(index, {"type": "text", "text": ""})]
    for piece in pieces:
        if delay:
            body.append(delay)
        body.append(delta(index, type="text_delta", text=piece))
    return [*body, block_stop(index)]


def thinking_block(index: int, *pieces: str, signature: str = "EqQBCgIYAhIM1gbcDa9GJwZA2b3h") -> list[bytes]:
    body = [block_start(index, {"type": "thinking", "thinking": "", "signature": ""})]
    body += [delta(index, type="thinking_delta", thinking=piece) for piece in pieces]
    if signature:
        body.append(delta(index, type="signature_delta", signature=signature))
    return [*body, block_stop(index)]


def tool_use_block(index: int, call_id: str, name: str, arguments: str, piece_chars: int = 4) -> list[bytes]:
    body = [block_start(index, {"type": "tool_use", "id": call_id, "name": name, "input": {}})]
    body.append(delta(index, type="input_json_delta", partial_json=""))
    for start in range(0, len(arguments), piece_chars):
        body.append(
            delta(index, type="input_json_delta", partial_json=arguments[start : start + piece_chars])
        )
    return [*body, block_stop(index)]


def anthropic_reply(
    *pieces: str,
    stop_reason: str = "end_turn",
    usage: dict[str, Any] | None = None,
    delay: float = 0.0,
    thinking: tuple[str, ...] = (),
) -> Reply:
    """A streamed answer of text `pieces` (`delay` seconds apart), after a thinking block when `thinking`."""
    body: list[Any] = [message_start(), event({"type": "ping"})]
    if thinking:
        body += thinking_block(0, *thinking)
    body += text_block(1 if thinking else 0, *pieces, delay=delay)
    return Reply(body=[*body, *message_end(stop_reason, usage)])


def tool_reply(*calls: tuple[str, str, str], text: str = "") -> Reply:
    """A streamed answer asking for tool `calls` (id, name, JSON arguments), after `text` if any."""
    body: list[Any] = [message_start()]
    if text:
        body += text_block(0, text)
    for index, (call_id, name, arguments) in enumerate(calls, start=1 if text else 0):
        body += tool_use_block(index, call_id, name, arguments)
    return Reply(body=[*body, *message_end("tool_use")])


def error_event(kind: str = "overloaded_error", message: str = "Overloaded") -> bytes:
    return event({"type": "error", "error": {"type": kind, "message": message}})
