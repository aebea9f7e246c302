"""What the anthropic backend sends: a ChatRequest as the body of POST /v1/messages (Anthropic's Messages API),
and the headers that carry the key and the API version.

chatcli keeps conversations in chat-completions shape; here they become Messages: system and developer
messages go to the top-level `system`; tool calls become `tool_use` blocks and their results `tool_result` blocks
in a user message; images and PDFs become `image` and `document` blocks; the signed thinking blocks an answer
came with (its provider items) go back first in that answer's content. Consecutive messages of one role are
merged, because the API wants user and assistant turns to alternate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chatcli.core.conversation import OWN_PART_KEY, Message
from chatcli.core.errors import UsageError
from chatcli.core.stream import ChatRequest

BACKEND = "anthropic"
API_VERSION = "2023-06-01"
# The API requires max_tokens; this is sent unless --max-tokens (or -O max_tokens) says otherwise, and an
# answer keeps this much room after a thinking budget.
DEFAULT_MAX_TOKENS = 8192
# -O reasoning_effort (the chat-completions option) as a thinking budget: low is the API's minimum.
EFFORT_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
CACHE_POINT = {"type": "ephemeral"}
CACHED_USER_TURNS = 2  # with the system prompt and the tools: the API's limit of four breakpoints
_EMPTY_SCHEMA = {"type": "object", "properties": {}}


def messages_body(request: ChatRequest, *, stream: bool, cache: bool) -> dict[str, Any]:
    """The JSON body of POST /v1/messages; `cache` marks prompt-cache breakpoints. Options (-O) are top-level
    keys, as for every backend; chatcli's own keys win over them."""
    options = dict(request.options)
    thinking_option(options)
    system, messages = conversation(request.messages)
    body: dict[str, Any] = {**options, "model": request.model, "messages": messages}
    if system:
        body["system"] = system
    body["max_tokens"] = max_tokens(request, options)
    body["stream"] = stream
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.tools:
        body["tools"] = [tool_definition(tool) for tool in request.tools]
    if cache:
        mark_cache_points(body)
    return body


def count_tokens_body(request: ChatRequest) -> dict[str, Any]:
    """The body of POST /v1/messages/count_tokens: the prompt as messages_body builds it, without what only
    generating takes (max_tokens, stream, sampling) and without breakpoints."""
    whole = messages_body(request, stream=False, cache=False)
    return {key: whole[key] for key in ("model", "messages", "system", "tools", "thinking") if key in whole}


def thinking_option(options: dict[str, Any]) -> None:
    """`reasoning_effort` (which the API does not take) turned into a thinking budget, unless `thinking` is
    given; "none" turns it off."""
    effort = options.pop("reasoning_effort", None)
    if effort is None or effort == "none" or "thinking" in options:
        return
    if effort not in EFFORT_BUDGETS:
        raise UsageError(
            f"reasoning_effort {effort!r} is not one the anthropic backend knows: use low, medium, high or "
            'none, or -O thinking=\'{"type":"enabled","budget_tokens":N}\''
        )
    options["thinking"] = {"type": "enabled", "budget_tokens": EFFORT_BUDGETS[effort]}


def max_tokens(request: ChatRequest, options: Mapping[str, Any]) -> Any:
    """--max-tokens, else -O max_tokens, else DEFAULT_MAX_TOKENS beyond any thinking budget (which counts
    against max_tokens and must stay below it)."""
    if request.max_tokens is not None:
        return request.max_tokens
    if "max_tokens" in options:
        return options["max_tokens"]
    thinking = options.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    return DEFAULT_MAX_TOKENS + (budget if type(budget) is int and budget > 0 else 0)


def conversation(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt (every system and developer message's text, joined) and the user and assistant
    turns, consecutive messages of one role merged into one turn's blocks."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            if message.text:
                system.append(message.text)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = message_blocks(message)
        if not blocks:
            continue  # the API refuses empty content
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(system), turns


def message_blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "assistant":
        return assistant_blocks(message)
    if message.role == "tool":
        return [tool_result(message)]
    return content_blocks(message.content)


def assistant_blocks(message: Message) -> list[dict[str, Any]]:
    """The answer's own thinking blocks first (the API checks their signatures in a tool loop), then its text,
    then its tool calls."""
    blocks: list[dict[str, Any]] = list(message.provider_items(BACKEND))
    blocks += content_blocks(message.content)
    calls = message.extra.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        if isinstance(call, dict):
            blocks.append(tool_use(call))
    return blocks


def tool_use(call: Mapping[str, Any]) -> dict[str, Any]:
    """A chat-completions tool call as a `tool_use` block; arguments that are no JSON object (the model's
    own mistake, already answered by the call's result) go as an empty input."""
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except (TypeError, ValueError, RecursionError):
        arguments = {}
    return {
        "type": "tool_use",
        "id": call.get("id") or "",
        "name": function.get("name") or "",
        "input": arguments if isinstance(arguments, dict) else {},
    }


def tool_result(message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.extra.get("tool_call_id") or ""}
    content = content_blocks(message.content)
    if content:
        block["content"] = content
    return block


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content (text, or chat-completions parts) as Messages content blocks; empty text is left
    out (the API refuses empty text blocks)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content or ():
        if isinstance(part, dict) and (block := content_block(part)) is not None:
            blocks.append(block)
    return blocks


def content_block(part: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        return {"type": "text", "text": text} if text else None
    if kind == "image_url":
        return image_block(part.get("image_url"))
    if kind == "file":
        return document_block(part.get("file"))
    # A block already in the Messages API's shape (a conversation file written for it): sent as it is.
    return {key: value for key, value in part.items() if key != OWN_PART_KEY}


def image_block(image_url: Any) -> dict[str, Any]:
    """An `image_url` part (a data URL, as chatcli attaches images, or a web address) as an `image` block."""
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str):
        raise UsageError("an image in the conversation has no URL; remove it or start a new conversation")
    if url.startswith("data:"):
        media_type, data = data_url(url)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def document_block(file: Any) -> dict[str, Any]:
    """A `file` part (a PDF attached with -f or /file) as a `document` block titled with the file's name."""
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str) or not data.startswith("data:"):
        raise UsageError("a file in the conversation has no data the anthropic backend can send")
    media_type, encoded = data_url(data)
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": encoded},
    }
    if isinstance(name := file.get("filename"), str) and name:
        block["title"] = name
    return block


def data_url(url: str) -> tuple[str, str]:
    """A base64 data URL's media type and data."""
    head, _, data = url.partition(",")
    return head.removeprefix("data:").split(";")[0], data


def tool_definition(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI function-tool definition (what MCP tools are offered as) as an Anthropic tool."""
    function = tool.get("function")
    function = function if isinstance(function, dict) else tool
    definition: dict[str, Any] = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or _EMPTY_SCHEMA,
    }
    if description := function.get("description"):
        definition["description"] = description
    return definition


def mark_cache_points(body: dict[str, Any]) -> None:
    """Prompt-cache breakpoints: the end of the system prompt, of the tools, and of the latest user turns, so
    a tool loop's next round and the next turn read what this request wrote."""
    if isinstance(system := body.get("system"), str):
        body["system"] = [{"type": "text", "text": system, "cache_control": CACHE_POINT}]
    if tools := body.get("tools"):
        tools[-1] = {**tools[-1], "cache_control": CACHE_POINT}
    user_turns = [turn for turn in body["messages"] if turn["role"] == "user"]
    for turn in user_turns[-CACHED_USER_TURNS:]:
        turn["content"][-1] = {**turn["content"][-1], "cache_control": CACHE_POINT}


def request_headers(api_key: str | None) -> dict[str, str]:
    """The key (`x-api-key`, never Authorization) and the API version every request names."""
    headers = {"anthropic-version": API_VERSION}
    if api_key:
        headers["x-api-key"] = api_key
    return headers
