"""What chatcli sends to Ollama's /api/chat: the conversation as Ollama's messages (images as base64 strings on
the message, tool calls with their arguments as objects, tool results named by their tool), sampling options
under `options`, and `format`, `keep_alive` and `think` at the top level."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chatcli.core.conversation import Content, Message
from chatcli.core.errors import UsageError
from chatcli.core.stream import ChatRequest

# Request keys Ollama reads at the top level; every other -O key is a model option (Modelfile parameter).
TOP_LEVEL_KEYS = frozenset({"format", "keep_alive", "think", "logprobs", "top_logprobs"})
# The OpenAI names users already pass with -O, as Ollama calls them.
RENAMED_OPTIONS = {"max_tokens": "num_predict", "max_completion_tokens": "num_predict"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def chat_body(
    request: ChatRequest, *, stream: bool, num_ctx: int | None, keep_alive: str | None, think: bool
) -> dict[str, Any]:
    """The JSON body of POST /api/chat. `num_ctx`: the context to load the model with (the context-window
    setting); `keep_alive`: the setting's; `think`: ask for the model's thinking (the user sees reasoning and
    the model can think). What the user passed with -O wins over each of them."""
    options, top = split_options(request.options)
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if num_ctx is not None:
        options.setdefault("num_ctx", num_ctx)
    body: dict[str, Any] = {"model": request.model, "messages": ollama_messages(request.messages)}
    body["stream"] = stream
    if request.tools:
        body["tools"] = list(request.tools)
    if options:
        body["options"] = options
    if keep_alive is not None:
        top.setdefault("keep_alive", keep_alive)
    if "keep_alive" in top:
        top["keep_alive"] = duration(top["keep_alive"])
    if think:
        top.setdefault("think", True)
    body.update(top)
    return body


def split_options(given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The -O options as Ollama's model `options` and its top-level keys. `-O options={…}` adds to the model
    options; `response_format` (--schema) becomes `format`; `stop` is always a list."""
    options: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key, value in given.items():
        if key == "options" and isinstance(value, dict):
            options.update(value)
        elif key == "response_format":
            if (shape := response_format(value)) is not None:
                top["format"] = shape
        elif key in TOP_LEVEL_KEYS:
            top[key] = value
        else:
            options[RENAMED_OPTIONS.get(key, key)] = value
    if isinstance(options.get("stop"), str):
        options["stop"] = [options["stop"]]
    return options, top


def response_format(value: Any) -> Any:
    """OpenAI's `response_format` as Ollama's `format`: a JSON schema, "json", or None for plain text."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "json_schema" and isinstance(value.get("json_schema"), dict):
        return value["json_schema"].get("schema", {})
    if kind == "json_object":
        return "json"
    if kind == "text":
        return None
    raise UsageError(
        "option 'response_format' must be of type json_schema or json_object for the ollama backend "
        "(or pass Ollama's own: -O format=json, or a JSON schema)"
    )


def duration(value: Any) -> Any:
    """keep_alive as Ollama reads it: a bare number ("-1": for ever, "300") is seconds and must be sent as a
    number (Ollama parses a string as a Go duration, which needs a unit: "5m")."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def ollama_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The conversation as /api/chat takes it. Tool results are named by their tool (Ollama has no call ids):
    each result's name is looked up among the calls of the assistant message before it."""
    sent: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        if message.role == "assistant":
            sent.append(_assistant(message))
            call_names = _call_names(message)
        elif message.role == "tool":
            sent.append(_tool_result(message, call_names))
        else:
            role = "system" if message.role == "developer" else message.role
            text, images = _text_and_images(message.content)
            sent.append({"role": role, "content": text, **({"images": images} if images else {})})
    return sent


def _assistant(message: Message) -> dict[str, Any]:
    sent: dict[str, Any] = {"role": "assistant", "content": message.text}
    calls = [call for call in _api_calls(message) if isinstance(call.get("function"), dict)]
    if calls:
        sent["tool_calls"] = [
            {"function": {"name": call["function"].get("name", ""), "arguments": arguments(call)}}
            for call in calls
        ]
        if message.reasoning:
            # Ollama's docs: a thinking model's trace goes back with its tool calls, so the next round
            # continues the same reasoning (gpt-oss needs it); plain answers' reasoning is not sent back.
            sent["thinking"] = message.reasoning
    return sent


def _api_calls(message: Message) -> list[dict[str, Any]]:
    calls = message.extra.get("tool_calls")
    return [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []


def arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    """A call's JSON arguments as the object Ollama takes. Arguments that are not a JSON object (a model's
    broken JSON, which the tool was never run with) go back as {}: Ollama refuses any other shape, and the
    call's result already says what went wrong."""
    text = call["function"].get("arguments")
    try:
        parsed = json.loads(text) if isinstance(text, str) else text
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _call_names(message: Message) -> dict[str, str]:
    names = {}
    for call in _api_calls(message):
        function = call.get("function")
        if (
            isinstance(call.get("id"), str)
            and isinstance(function, dict)
            and isinstance(function.get("name"), str)
        ):
            names[call["id"]] = function["name"]
    return names


def _tool_result(message: Message, call_names: Mapping[str, str]) -> dict[str, Any]:
    sent: dict[str, Any] = {"role": "tool", "content": message.text}
    name = call_names.get(str(message.extra.get("tool_call_id", "")))
    if name:
        sent["tool_name"] = name
    return sent


def _text_and_images(content: Content) -> tuple[str, list[str]]:
    """A message's text and its images' base64 data (Ollama takes images beside the text, not as parts)."""
    if content is None or isinstance(content, str):
        return content or "", []
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            images.append(image_data(part))
        else:
            raise UsageError(_unsendable(part))
    return "\n".join(texts), images


def image_data(part: Mapping[str, Any]) -> str:
    """The base64 data of an `image_url` part holding a data URL; Ollama takes no links to images."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    if isinstance(url, str) and url.startswith("data:"):
        header, comma, data = url.partition(",")
        if comma and header.endswith(";base64"):
            return data
    shown = url[:60] if isinstance(url, str) and not url.startswith("data:") else "an image"
    raise UsageError(f"the ollama backend sends images as base64 data, not {shown}; attach the image file")


def _unsendable(part: Mapping[str, Any]) -> str:
    if part.get("type") == "file":
        return (
            "the ollama backend takes no documents (PDFs); attach the document's text instead, or use a backend "
            "that takes documents (anthropic, responses)"
        )
    return f"the ollama backend cannot send a content part of type {str(part.get('type'))[:40]!r}"
