"""`ask --json`: the answer as one line of JSON."""

from __future__ import annotations

import json

from chatcli.core.stream import StreamInfo


def answer_json(content: str, info: StreamInfo, model: str) -> str:
    """One line of JSON: content, model (as the server named it, else as requested), finish_reason, usage."""
    usage = None
    if info.usage is not None:
        prompt, completion = info.usage.prompt_tokens, info.usage.completion_tokens
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    data = {
        "content": content,
        "model": info.model or model,
        "finish_reason": info.finish_reason,
        "usage": usage,
    }
    return json.dumps(data)
