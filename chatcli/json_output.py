"""`ask --json`: the answer is collected without being shown, then printed as one JSON object."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Self

from chatcli.backends import StreamInfo


class SilentRenderer:
    """Shows nothing: with --json the answer reaches stdout only inside the JSON object."""

    def __enter__(self) -> Self:
        return self

    def feed(self, text: str) -> None:
        pass

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        pass


def answer_json(content: str, info: StreamInfo, model: str) -> str:
    """One line of JSON: content, model (as the server named it, else as requested), finish_reason, usage."""
    usage = None
    if info.usage is not None:
        prompt, completion = info.usage.prompt_tokens, info.usage.completion_tokens
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    data = {"content": content, "model": info.model or model, "finish_reason": info.finish_reason, "usage": usage}
    return json.dumps(data)
