"""`-u/--usage`: token counts, duration and (with a `[prices]` entry) cost of one answer, as one line."""

from __future__ import annotations

from chatcli.cli.settings import Config
from chatcli.core.stream import StreamInfo, Usage


def describe_usage(info: StreamInfo, model: str, seconds: float, config: Config) -> str:
    """For example `usage: 12 prompt + 40 completion tokens, 1.3 s, $0.000026`."""
    duration = f"{seconds:.1f} s"
    if info.usage is None:
        return f"usage: the server reported no token counts; {duration}"
    prompt, completion = info.usage.prompt_tokens, info.usage.completion_tokens
    line = f"usage: {prompt} prompt + {completion} completion tokens, {duration}"
    cost = cost_of(config, model, info.usage) or cost_of(config, info.model, info.usage)
    if cost is not None:
        line += f", ${cost:.6f}"
    return line


def cost_of(config: Config, model: str | None, usage: Usage) -> float | None:
    """What `usage` cost in US dollars at the config file's price for `model`; None without a price."""
    price = config.price(model)
    if price is None:
        return None
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1_000_000
