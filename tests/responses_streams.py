"""Responses API event streams for tests, built the way OpenAI documents them (every event with its
`sequence_number`, `output_index`, `content_index` and `item_id`; the final response repeating the output), and
llama.cpp's server's variant (which leaves those out) written out from its source."""

from __future__ import annotations

import json
from typing import Any

from tests.openai_server import Reply

USAGE = {
    "input_tokens": 31,
    "input_tokens_details": {"cached_tokens": 12, "cache_write_tokens": 3},
    "output_tokens": 45,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 76,
}


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class ResponseStream:
    """One streamed response, item by item, as OpenAI sends it."""

    def __init__(self, model: str = "gpt-test", response_id: str = "resp_test") -> None:
        self.model = model
        self.id = response_id
        self.events: list[dict[str, Any]] = []
        self.output: list[dict[str, Any]] = []
        self.add("response.created", response=self.response("in_progress", []))
        self.add("response.in_progress", response=self.response("in_progress", []))

    def response(self, status: str, output: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "response",
            "created_at": 1700000000,
            "model": self.model,
            "status": status,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "usage": None,
            **more,
        }

    def add(self, kind: str, **fields: Any) -> ResponseStream:
        self.events.append({"type": kind, "sequence_number": len(self.events), **fields})
        return self

    def _item(self, added: dict[str, Any]) -> int:
        self.add("response.output_item.added", output_index=len(self.output), item=added)
        return len(self.output)

    def _done(self, index: int, item: dict[str, Any]) -> ResponseStream:
        self.output.append(item)
        return self.add("response.output_item.done", output_index=index, item=item)

    def reasoning(self, *parts: list[str], encrypted: str | None = "gAAAA-opaque") -> ResponseStream:
        """A reasoning item whose summary has one part per list, each streamed in those pieces."""
        item_id = f"rs_{len(self.output)}"
        index = self._item({"id": item_id, "type": "reasoning", "summary": []})
        summary = []
        for summary_index, pieces in enumerate(parts):
            where = {"item_id": item_id, "output_index": index, "summary_index": summary_index}
            self.add(
                "response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""}
            )
            for piece in pieces:
                self.add("response.reasoning_summary_text.delta", **where, delta=piece)
            part = {"type": "summary_text", "text": "".join(pieces)}
            self.add("response.reasoning_summary_text.done", **where, text=part["text"])
            self.add("response.reasoning_summary_part.done", **where, part=part)
            summary.append(part)
        item = {"id": item_id, "type": "reasoning", "summary": summary}
        if encrypted is not None:
            item["encrypted_content"] = encrypted
        return self._done(index, item)

    def message(self, *pieces: str) -> ResponseStream:
        item_id = f"msg_{len(self.output)}"
        added = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        index = self._item(added)
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        self.add(
            "response.content_part.added",
            **where,
            part={"type": "output_text", "text": "", "annotations": []},
        )
        for piece in pieces:
            self.add("response.output_text.delta", **where, delta=piece, logprobs=[])
        part = {"type": "output_text", "text": "".join(pieces), "annotations": [], "logprobs": []}
        self.add("response.output_text.done", **where, text=part["text"], logprobs=[])
        self.add("response.content_part.done", **where, part=part)
        return self._done(index, {**added, "status": "completed", "content": [part]})

    def function_call(self, name: str, *pieces: str, call_id: str) -> ResponseStream:
        item_id = f"fc_{len(self.output)}"
        added = {
            "id": item_id,
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": "",
            "status": "in_progress",
        }
        index = self._item(added)
        for piece in pieces:
            self.add(
                "response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=piece
            )
        arguments = "".join(pieces)
        self.add(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            name=name,
            arguments=arguments,
        )
        return self._done(index, {**added, "arguments": arguments, "status": "completed"})

    def completed(self, usage: dict[str, Any] | None = USAGE) -> ResponseStream:
        return self.add("response.completed", response=self.response("completed", self.output, usage=usage))

    def incomplete(self, reason: str, usage: dict[str, Any] | None = USAGE) -> ResponseStream:
        response = self.response(
            "incomplete", self.output, usage=usage, incomplete_details={"reason": reason}
        )
        return self.add("response.incomplete", response=response)

    def failed(self, message: str, code: str = "server_error") -> ResponseStream:
        error = {"code": code, "message": message}
        return self.add("response.failed", response=self.response("failed", self.output, error=error))

    def error(self, message: str, code: str = "rate_limit_exceeded") -> ResponseStream:
        return self.add("error", code=code, message=message, param=None)

    def bytes(self) -> bytes:
        return b"".join(sse(event) for event in self.events)

    def reply(self) -> Reply:
        return Reply(body=[sse(event) for event in self.events])


def llama_stream(*pieces: str, reasoning: str = "", call: tuple[str, str] | None = None) -> bytes:
    """A stream as llama.cpp's llama-server sends it (tools/server/server-task.cpp): no sequence numbers or
    indexes, `response.completed` even at the token limit, reasoning as reasoning_text, the final done events
    repeating what was streamed."""
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {"id": "resp_l", "object": "response", "status": "in_progress"},
        },
        {
            "type": "response.in_progress",
            "response": {"id": "resp_l", "object": "response", "status": "in_progress"},
        },
    ]
    output: list[dict[str, Any]] = []
    if reasoning:
        item: dict[str, Any] = {"id": "rs_l", "summary": [], "type": "reasoning", "content": []}
        item["encrypted_content"] = ""
        events.append({"type": "response.output_item.added", "item": {**item, "status": "in_progress"}})
        events += [
            {"type": "response.reasoning_text.delta", "delta": c, "item_id": "rs_l"} for c in reasoning
        ]
    if pieces:
        item = {"content": [], "id": "msg_l", "role": "assistant", "status": "in_progress", "type": "message"}
        events.append({"type": "response.output_item.added", "item": item})
        events.append(
            {"type": "response.content_part.added", "item_id": "msg_l", "part": {"type": "output_text"}}
        )
        events += [
            {"type": "response.output_text.delta", "item_id": "msg_l", "delta": piece} for piece in pieces
        ]
    if call:
        name, arguments = call
        item = {"id": "fc_x", "arguments": "", "call_id": "call_x", "name": name, "type": "function_call"}
        events.append({"type": "response.output_item.added", "item": {**item, "status": "in_progress"}})
        events.append(
            {"type": "response.function_call_arguments.delta", "delta": arguments, "item_id": "fc_x"}
        )
    if reasoning:
        content = [{"text": reasoning, "type": "reasoning_text"}]
        item = {"id": "rs_l", "summary": [], "type": "reasoning", "content": content, "encrypted_content": ""}
        events.append({"type": "response.output_item.done", "item": item})
        output.append(item)
    if pieces:
        text = "".join(pieces)
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        events.append({"type": "response.output_text.done", "item_id": "msg_l", "text": text})
        events.append({"type": "response.content_part.done", "item_id": "msg_l", "part": part})
        item = {
            "type": "message",
            "status": "completed",
            "id": "msg_l",
            "content": [part],
            "role": "assistant",
        }
        events.append({"type": "response.output_item.done", "item": item})
        output.append(item)
    if call:
        item = {"id": "fc_x", "type": "function_call", "status": "completed", "arguments": call[1]}
        item |= {"call_id": "call_x", "name": call[0]}
        events.append({"type": "response.output_item.done", "item": item})
        output.append(item)
    usage = {
        "input_tokens": 9,
        "output_tokens": 5,
        "total_tokens": 14,
        "input_tokens_details": {"cached_tokens": 0},
    }
    response = {"id": "resp_l", "object": "response", "created_at": 0, "status": "completed", "model": "tiny"}
    events.append({"type": "response.completed", "response": {**response, "output": output, "usage": usage}})
    return b"".join(sse(event) for event in events)
