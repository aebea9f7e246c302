"""`-u/--usage`: token counts, duration and (with a `[prices]` entry) cost of one answer, as one line."""

from __future__ import annotations

from chatcli.cli.settings import Config
from chatcli.core.stream import StreamInfo


def describe_usage(info: StreamInfo, model: str, seconds: float, config: Config) -> str:
    """For example `usage: 12 prompt + 40 completion tokens, 1.3 s, $0.000026`."""
    duration = f"{seconds:.1f} s"
    if info.usage is None:
        return f"usage: the server reported no token counts; {duration}"
    prompt, completion = info.usage.prompt_tokens, info.usage.completion_tokens
    line = f"usage: {prompt} prompt + {completion} completion tokens, {duration}"
    price = config.price(model) or config.price(info.model)
    if price is not None:
        cost = (prompt * price.input + completion * price.output) / 1_000_000
        line += f", ${cost:.6f}"
    return line
