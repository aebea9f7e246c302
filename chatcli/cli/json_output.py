"""`ask --json`: the answer as one line of JSON."""

from __future__ import annotations

import json
from typing import Any

from chatcli.core.prompt_estimate import PromptEstimate
from chatcli.core.stream import StreamInfo, Usage


def answer_json(
    content: str, info: StreamInfo, model: str, estimate: PromptEstimate | None = None, backend: str = ""
) -> str:
    """One line of JSON: content, model (as the server named it, else as requested), the backend that answered
    (what `auto` picked), finish_reason, usage, and the prompt's estimate made before sending (tokens, how,
    cost)."""
    data = {
        "content": content,
        "model": info.model or model,
        "backend": backend,
        "finish_reason": info.finish_reason,
        "usage": usage_json(info.usage) if info.usage is not None else None,
    }
    if estimate is not None:
        data["estimate"] = {
            "prompt_tokens": estimate.tokens,
            "method": estimate.method,
            "cost": estimate.cost,
        }
    return json.dumps(data)


def usage_json(usage: Usage) -> dict[str, Any]:
    """The counts as OpenAI names them; cache-read and cache-write tokens when not zero, reasoning tokens when
    the server reported them."""
    counts: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.cache_read_tokens:
        counts["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        counts["cache_write_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens is not None:
        counts["reasoning_tokens"] = usage.reasoning_tokens
    return counts
