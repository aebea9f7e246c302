"""The wire formats the scripted server (tests/openai_server.py) can speak, one entry per backend, so the
reliability tests that apply to every backend (tests/test_wire_reliability.py) run for each.

A format says how its streams look: what comes before the first text, one piece of text, the end of a finished
answer, an event that is not progress (a keep-alive or an empty event), an error event, an error body and a
model list. To add a backend, add its WireFormat to WIRE_FORMATS."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests import anthropic_stream as anthropic
from tests import ollama_streams
from tests.openai_server import Reply, chunk, sse_event


@dataclass(frozen=True, slots=True)
class WireFormat:
    backend: str  # the -b value
    key_variable: str | None  # where chatcli takes the key from (None: the backend takes no key)
    key_header: str  # the request header that carries the key, lower-case
    content_type: str  # of a stream
    start: bytes  # what a stream sends before its first text
    text: Callable[[str], bytes]  # one piece of the answer's text
    finish: bytes  # the end of a finished answer
    idle: bytes  # one event that is not progress: a keep-alive, an empty delta
    error_event: Callable[[str], bytes]  # an error event carrying this message
    error_body: Callable[[str], Any]  # an error response's JSON carrying this message
    models: Callable[[Sequence[str]], Any]  # the model list's JSON
    ask_args: tuple[str, ...] = ()  # options every `ask` takes (ollama: no /api/show before the chat, which
    # would be one more request for the tests that count them)

    def answer(self, *pieces: str, pause: float = 0.0, finished: bool = True) -> Reply:
        """A stream of `pieces`, each after `pause` seconds; `finished`: ended as a finished answer."""
        body: list[Any] = [self.start]
        for piece in pieces:
            if pause:
                body.append(pause)
            body.append(self.text(piece))
        if finished:
            body.append(self.finish)
        return Reply(headers={"Content-Type": self.content_type}, body=body)

    def stream(self, *parts: bytes | float | str) -> Reply:
        """A stream of raw parts: bytes as they are, floats as pauses, strings as pieces of text."""
        body = [self.start, *(self.text(part) if isinstance(part, str) else part for part in parts)]
        return Reply(headers={"Content-Type": self.content_type}, body=body)

    def json(self, status: int, data: Any) -> Reply:
        return Reply(status, {"Content-Type": "application/json"}, [json.dumps(data).encode()])


OPENAI = WireFormat(
    backend="openai",
    key_variable="OPENAI_API_KEY",
    key_header="authorization",
    content_type="text/event-stream",
    start=sse_event(chunk(role="assistant", content="")),
    text=lambda text: sse_event(chunk(text)),
    finish=sse_event(chunk(finish_reason="stop")) + b"data: [DONE]\n\n",
    idle=sse_event(chunk("")),
    error_event=lambda message: sse_event({"error": {"message": message}}),
    error_body=lambda message: {"error": {"message": message, "type": "invalid_request_error"}},
    models=lambda ids: {"object": "list", "data": [{"id": id_, "object": "model"} for id_ in ids]},
)

OLLAMA = WireFormat(
    backend="ollama",
    key_variable=None,
    key_header="authorization",
    content_type="application/x-ndjson",
    start=b"",
    text=lambda text: ollama_streams.line(ollama_streams.piece(text)),
    finish=ollama_streams.line(ollama_streams.final()),
    idle=ollama_streams.line(ollama_streams.piece("")),
    error_event=lambda message: ollama_streams.line({"error": message}),
    error_body=lambda message: {"error": message},
    models=lambda ids: {"models": [{"name": id_, "model": id_} for id_ in ids]},
    ask_args=("--reasoning", "hide"),
)


def _responses_event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


_RESPONSE = {"id": "resp_1", "object": "response", "model": "test-model", "output": []}
RESPONSES = WireFormat(
    backend="responses",
    key_variable="OPENAI_API_KEY",
    key_header="authorization",
    content_type="text/event-stream",
    start=_responses_event("response.created", response={**_RESPONSE, "status": "in_progress"}),
    text=lambda text: _responses_event("response.output_text.delta", item_id="msg_1", delta=text),
    finish=_responses_event("response.completed", response={**_RESPONSE, "status": "completed"}),
    idle=_responses_event("response.output_text.delta", item_id="msg_1", delta=""),
    error_event=lambda message: _responses_event("error", code="server_error", message=message),
    error_body=OPENAI.error_body,
    models=OPENAI.models,
)

ANTHROPIC = WireFormat(
    backend="anthropic",
    key_variable="ANTHROPIC_API_KEY",
    key_header="x-api-key",
    content_type="text/event-stream",
    start=anthropic.message_start() + anthropic.block_start(0, {"type": "text", "text": ""}),
    text=lambda text: anthropic.delta(0, type="text_delta", text=text),
    finish=b"".join([anthropic.block_stop(0), *anthropic.message_end()]),
    idle=anthropic.event({"type": "ping"}),
    error_event=lambda message: anthropic.error_event("overloaded_error", message),
    error_body=lambda message: {
        "type": "error",
        "error": {"type": "authentication_error", "message": message},
    },
    models=lambda ids: {
        "data": [
            {"type": "model", "id": id_, "display_name": id_.title(), "created_at": "2025-01-01T00:00:00Z"}
            for id_ in ids
        ],
        "has_more": False,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
    },
)

WIRE_FORMATS = {wire.backend: wire for wire in (OPENAI, ANTHROPIC, RESPONSES, OLLAMA)}
