"""What the responses backend sends: the body of `POST /responses` built from a ChatRequest (the conversation as
`input` items, the system prompt as `instructions`, tools, reasoning)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chatcli.core.conversation import OWN_PART_KEY, Message
from chatcli.core.stream import ChatRequest

BACKEND = "responses"
ENCRYPTED_REASONING = "reasoning.encrypted_content"
# Models that take `reasoning` (OpenAI answers 400 to it for gpt-4o and the like): the o-series, gpt-5 but its
# chat variants, gpt-oss and codex, also behind a router's "vendor/" prefix.
REASONING_MODEL = re.compile(r"(?:^|/)(?:o[1-9]|gpt-5(?!(?:\.\d+)?-chat)|gpt-oss|codex)", re.IGNORECASE)


def responses_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of POST /responses. Nothing is stored on the server (`store: false`): the whole
    conversation goes with every request. -O options are top-level keys and may override `store`;
    `response_format` becomes `text.format`."""
    options = dict(request.options)
    reasoning = reasoning_config(
        request, options.pop("reasoning", None), options.pop("reasoning_effort", None)
    )
    if isinstance(response_format := options.get("response_format"), Mapping):
        del options["response_format"]
        text = options.get("text")
        options["text"] = {
            **(text if isinstance(text, Mapping) else {}),
            "format": text_format(response_format),
        }
    instructions, items = input_items(request.messages)
    body: dict[str, Any] = {
        "store": False,
        **options,
        "model": request.model,
        "input": items,
        "stream": stream,
    }
    if instructions is not None:
        body["instructions"] = instructions
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = [function_tool(definition) for definition in request.tools]
    if reasoning is not None:
        if reasoning:
            body["reasoning"] = reasoning
        # with store: false, a reasoning item can only come back encrypted (tool loops need it)
        included = body.get("include")
        included = list(included) if isinstance(included, list) else []
        body["include"] = (
            [*included, ENCRYPTED_REASONING] if ENCRYPTED_REASONING not in included else included
        )
    return body


def reasoning_config(request: ChatRequest, given: Any, effort: Any) -> Any:
    """The `reasoning` object to send, or None for none: only when the user set one (or an effort) or the model
    looks like a reasoning model; a summary is asked for when the reasoning is shown."""
    if given is None and effort is None and not REASONING_MODEL.search(request.model):
        return None
    if given is not None and not isinstance(given, str | Mapping):
        return given  # not chatcli's to fix: the server says what is wrong with it
    config: dict[str, Any] = {"effort": given} if isinstance(given, str) else dict(given or {})
    if effort is not None:
        config.setdefault("effort", effort)
    if request.reasoning_shown:
        config.setdefault("summary", "auto")
    return config


def text_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """Chat completions' `response_format` (what --schema sends) as the Responses API's `text.format`: the
    JSON schema's fields one level up."""
    schema = response_format.get("json_schema")
    if response_format.get("type") == "json_schema" and isinstance(schema, Mapping):
        return {"type": "json_schema", **schema}
    return dict(response_format)


def input_items(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """The leading system messages as `instructions`, and every other message as `input` items."""
    start = 0
    while start < len(messages) and messages[start].role == "system":
        start += 1
    instructions = "\n\n".join(message.text for message in messages[:start]) if start else None
    items: list[dict[str, Any]] = []
    for message in messages[start:]:
        if message.role == "assistant":
            items += assistant_items(message)
        elif message.role == "tool":
            call_id = message.extra.get("tool_call_id")
            items.append({"type": "function_call_output", "call_id": call_id, "output": message.text})
        else:
            items.append({"type": "message", "role": message.role, "content": input_content(message)})
    return instructions, items


def input_content(message: Message) -> list[dict[str, Any]]:
    """A user (system, developer) message's content as input parts: text, images, files."""
    if not isinstance(message.content, list):
        return [{"type": "input_text", "text": message.text}]
    return [input_part(part) for part in message.content]


def input_part(part: Mapping[str, Any]) -> dict[str, Any]:
    """One chat-completions content part as a Responses input part; a part of another kind goes as it is."""
    kind = part.get("type")
    if kind == "text":
        return {"type": "input_text", "text": part.get("text", "")}
    if kind == "image_url" and isinstance(image := part.get("image_url"), Mapping):
        return {"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail") or "auto"}
    if kind == "file" and isinstance(file := part.get("file"), Mapping):
        return {"type": "input_file", **{key: file[key] for key in ("filename", "file_data") if key in file}}
    return {key: value for key, value in part.items() if key != OWN_PART_KEY}


def assistant_items(message: Message) -> list[dict[str, Any]]:
    """An answer as items: its reasoning items first (as the model made them), its text, its function calls."""
    items = [
        reasoning_item(item) for item in message.provider_items(BACKEND) if item.get("type") == "reasoning"
    ]
    calls = message.extra.get("tool_calls")
    calls = calls if isinstance(calls, list) else []
    if message.text or not calls:
        items.append({"type": "message", "role": "assistant", "content": message.text})
    for call in calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id", ""),
                    "name": function.get("name", ""),
                    "arguments": function.get("arguments", ""),
                }
            )
    return items


def reasoning_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A kept reasoning item as it goes back: without its id, which with `store: false` would make OpenAI look
    for a stored item and fail (OpenAI's own Codex CLI leaves it out too), and without its status."""
    sent: dict[str, Any] = {"type": "reasoning", "summary": item.get("summary") or []}
    if item.get("encrypted_content"):
        sent["encrypted_content"] = item["encrypted_content"]
    if item.get("content"):
        sent["content"] = item["content"]  # plain reasoning text (llama.cpp's server needs it back)
    return sent


def function_tool(definition: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI chat-completions function definition as a Responses function tool. `strict` is false unless
    the definition says otherwise: the Responses API makes function tools strict by default, and an MCP
    server's schema rarely meets strict mode's rules."""
    function = definition.get("function")
    if not isinstance(function, Mapping):
        return dict(definition)  # a tool of another kind goes as it is
    tool: dict[str, Any] = {
        "type": "function",
        "name": function.get("name"),
        "parameters": function.get("parameters"),
        "strict": bool(function.get("strict", False)),
    }
    if function.get("description") is not None:
        tool["description"] = function["description"]
    return tool
