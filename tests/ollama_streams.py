"""Ollama's /api/chat streams for the tests, as its API documentation shows them (ollama/ollama, docs/api.md and
docs/capabilities/*.mdx, docs/api/errors.mdx): NDJSON, one object a line, the last one `done: true` with the
counts. No Ollama runs here, so these recordings, written out from the documented examples, are what the
scripted server plays; `ndjson_reply` makes more of the same shape."""

from __future__ import annotations

import json
from typing import Any

from tests.openai_server import Reply

NDJSON = {"Content-Type": "application/x-ndjson"}
CREATED = "2023-08-04T08:52:19.385406455-07:00"


def line(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode() + b"\n"


def piece(content: str = "", model: str = "llama3.2", **message: Any) -> dict[str, Any]:
    """One streamed object before the last, as docs/api.md's "Chat request (Streaming)" shows it."""
    return {
        "model": model,
        "created_at": CREATED,
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


def final(
    prompt: int | None = 26,
    completion: int | None = 282,
    done_reason: str | None = "stop",
    model: str = "llama3.2",
) -> dict[str, Any]:
    """The last object: docs/api.md's "Final response" (its durations and counts); `done_reason` as newer
    servers send it (docs/api/streaming.mdx: `"done":true, "done_reason": "stop"`)."""
    data: dict[str, Any] = {
        "model": model,
        "created_at": "2023-08-04T19:22:45.499127Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
    }
    if done_reason is not None:
        data["done_reason"] = done_reason
    data["total_duration"] = 4883583458
    data["load_duration"] = 1334875
    if prompt is not None:
        data["prompt_eval_count"] = prompt
        data["prompt_eval_duration"] = 342546000
    if completion is not None:
        data["eval_count"] = completion
        data["eval_duration"] = 4535599000
    return data


def ndjson_reply(
    *pieces: str,
    done_reason: str | None = "stop",
    usage: tuple[int, int] | None = (26, 282),
    delay: float = 0.0,
) -> Reply:
    """A streamed answer made of text `pieces`, `delay` seconds apart, then the final object."""
    body: list[Any] = []
    for text in pieces:
        if delay:
            body.append(delay)
        body.append(line(piece(text)))
    prompt, completion = usage if usage is not None else (None, None)
    body.append(line(final(prompt, completion, done_reason)))
    return Reply(headers=dict(NDJSON), body=body)


def recorded(*objects: dict[str, Any]) -> Reply:
    return Reply(headers=dict(NDJSON), body=[line(data) for data in objects])


# docs/api.md, "Chat request (Streaming)": `{"model":"llama3.2",…,"message":{"role":"assistant","content":"The",
# "images":null},"done":false}` … then the final object with the counts (prompt_eval_count 26, eval_count 282).
PLAIN = recorded(
    piece("The", images=None),
    piece(" sky", images=None),
    piece(" is blue", images=None),
    piece(" because of Rayleigh scattering.", images=None),
    final(),
)
# docs/api.md as it was before `done_reason` (the same "Final response" without it): still a finished answer.
NO_DONE_REASON = recorded(piece("Hello! How are you today?"), final(done_reason=None))
# docs/api.md, "Chat request (Streaming with tools)": the call comes whole in one object (arguments as an
# object), then the final one (done_reason "stop", prompt_eval_count 169, eval_count 15).
TOOLS = recorded(
    {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:22:19.184789Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}],
        },
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:22:19.19314Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "stop",
        "done": True,
        "total_duration": 182242375,
        "load_duration": 41295167,
        "prompt_eval_count": 169,
        "prompt_eval_duration": 24573166,
        "eval_count": 15,
        "eval_duration": 115959084,
    },
)
# docs/capabilities/tool-calling.mdx, "Parallel tool calling": several calls in one answer; here in two objects,
# as a streaming server may send them, to check that their numbering goes on across objects.
PARALLEL_TOOLS = recorded(
    piece(
        "",
        model="qwen3",
        tool_calls=[
            {"function": {"name": "get_temperature", "arguments": {"city": "New York"}}},
            {"function": {"name": "get_conditions", "arguments": {"city": "New York"}}},
        ],
    ),
    piece(
        "",
        model="qwen3",
        tool_calls=[{"function": {"name": "get_temperature", "arguments": {"city": "London"}}}],
    ),
    final(122, 33, model="qwen3"),
)
# docs/capabilities/thinking.mdx and streaming.mdx: with `think`, "Chat returns message.thinking and
# message.content", and "thinking streams interleave reasoning tokens before answer tokens" (its example asks
# qwen3 "What is 17 × 23?").
THINKING = recorded(
    piece("", model="qwen3", thinking="17 × 23: "),
    piece("", model="qwen3", thinking="17 × 20 = 340, 17 × 3 = 51, "),
    piece("", model="qwen3", thinking="340 + 51 = 391."),
    piece("17 × 23 = ", model="qwen3"),
    piece("**391**", model="qwen3"),
    final(18, 61, model="qwen3"),
)
# docs/api.md, "Generate request (With options)" sets num_predict; a server that stops there says "length".
LENGTH = recorded(piece("The sky is"), piece(" blue because"), final(26, 4, done_reason="length"))
# docs/api/errors.mdx, "Errors that occur while streaming": after some pieces, `{"error":"an error was
# encountered while running the model"}` (the status stays 200).
ERROR = recorded(
    piece(" Yes", model="gemma4"),
    piece(".", model="gemma4"),
    {"error": "an error was encountered while running the model"},
)
# Characters beyond ASCII, split across objects (as tokens split them).
UNICODE = recorded(piece("h\u00e9"), piece("\U0001f600"), piece("\u4e2d\u6587"), final(5, 3))

STREAMS = {
    "plain": PLAIN,
    "no done_reason": NO_DONE_REASON,
    "tools": TOOLS,
    "parallel tools": PARALLEL_TOOLS,
    "thinking": THINKING,
    "length": LENGTH,
    "unicode": UNICODE,
}

# docs/api.md, "Chat request (No streaming)": one object.
WHOLE = {
    "model": "llama3.2",
    "created_at": "2023-12-12T14:13:43.416799Z",
    "message": {"role": "assistant", "content": "Hello! How are you today?"},
    "done": True,
    "total_duration": 5191566416,
    "load_duration": 2154458,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 383809000,
    "eval_count": 298,
    "eval_duration": 4799921000,
}
# docs/api.md, "List Local Models" (GET /api/tags), its two entries.
TAGS = {
    "models": [
        {
            "name": "deepseek-r1:latest",
            "model": "deepseek-r1:latest",
            "modified_at": "2025-05-10T08:06:48.639712648-07:00",
            "size": 4683075271,
            "digest": "0a8c266910232fd3291e71e5ba1e058cc5af9d411192cf88b6d30e92b6e73163",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen2",
                "families": ["qwen2"],
                "parameter_size": "7.6B",
                "quantization_level": "Q4_K_M",
            },
        },
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
        },
    ]
}


def show(capabilities: list[str], context_length: int = 8192, parameters: str = "") -> dict[str, Any]:
    """POST /api/show's answer, cut to what chatcli reads (docs/api.md, "Show Model Information": `model_info`
    with "<architecture>.context_length", `capabilities`, `parameters` as the Modelfile's text)."""
    return {
        "parameters": parameters,
        "details": {"family": "llama", "parameter_size": "8.0B", "quantization_level": "Q4_0"},
        "model_info": {"general.architecture": "llama", "llama.context_length": context_length},
        "capabilities": capabilities,
    }
