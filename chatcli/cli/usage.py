"""`-u/--usage`: token counts, duration and (with a `[prices]` entry) cost of one answer and of the
conversation so far, each as one line; the cost of library usage rows (`history stats`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chatcli.cli.settings import Config
from chatcli.core.context import (
    ContextWindowSource,
    context_line,
    sent_bytes,
    truncation_warning,
    used_tokens,
)
from chatcli.core.errors import HistoryError
from chatcli.core.session import Session
from chatcli.core.stream import Backend, StreamInfo, Usage
from chatcli.storage.library_rows import UsageRow
from chatcli.storage.recorder import Recorder

if TYPE_CHECKING:  # loaded by -u and --json, which estimate the prompt, not by every `ask`
    from chatcli.core.prompt_estimate import PromptEstimate


def describe_usage(info: StreamInfo, model: str, seconds: float, config: Config) -> str:
    """For example `usage: 12 prompt + 40 completion tokens, 1.3 s, $0.000026`."""
    duration = f"{seconds:.1f} s"
    if info.usage is None:
        return f"usage: the server reported no token counts; {duration}"
    line = f"usage: {token_counts(info.usage)}, {duration}"
    cost = cost_of(config, model, info.usage) or cost_of(config, info.model, info.usage)
    if cost is not None:
        line += f", ${cost:.6f}"
    return line


def token_counts(usage: Usage) -> str:
    """`12 prompt (8 cache read, 2 cache write) + 40 completion (30 reasoning) tokens`: the cache counts when
    not zero, the reasoning tokens when the server reported them."""
    cached = ", ".join(
        f"{count} {label}"
        for count, label in (
            (usage.cache_read_tokens, "cache read"),
            (usage.cache_write_tokens, "cache write"),
        )
        if count
    )
    prompt = f"{usage.prompt_tokens} prompt" + (f" ({cached})" if cached else "")
    reasoning = f" ({usage.reasoning_tokens} reasoning)" if usage.reasoning_tokens is not None else ""
    return f"{prompt} + {usage.completion_tokens} completion{reasoning} tokens"


def describe_estimate(estimate: PromptEstimate, usage: Usage | None) -> str:
    """`prompt: 1 204 tokens (estimated 1 180 by the server)`: the count before sending beside the server's
    count after; `how`: the server counted, or chatcli estimated from the text's length."""
    from chatcli.core.prompt_estimate import SERVER, dollars, spaced

    how = "by the server" if estimate.method == SERVER else "from the text's length"
    cost = f", {dollars(estimate.cost)}" if estimate.cost is not None else ""
    if usage is None:
        return f"prompt: estimated {spaced(estimate.tokens)} tokens {how}{cost}; the server reported no count"
    return f"prompt: {spaced(usage.prompt_tokens)} tokens (estimated {spaced(estimate.tokens)} {how}{cost})"


def describe_context(session: Session, usage: Usage, config: Config, server: Backend | None) -> list[str]:
    """After an answer: a line when the server probably truncated the prompt; with `server` (-u), the context
    line, the window asked of the server when the config does not give it."""
    window = config.configured_window(session.model)
    if window is None and isinstance(server, ContextWindowSource):
        window = server.context_window(session.model)
    sent = sent_bytes(session.conversation.messages)
    lines = []
    if (truncated := truncation_warning(sent, usage, window)) is not None:
        lines.append(f"warning: {truncated}")
    if server is not None:
        lines.append(context_line(used_tokens(usage), window))
    return lines


def rows_cost(rows: Iterable[UsageRow], config: Config) -> float | None:
    """The dollars `rows` cost, counting the models that have a [prices] entry (None: none has)."""
    costs = [cost_of(config, row.model, row.usage()) for row in rows]
    priced = [dollars for dollars in costs if dollars is not None]
    return sum(priced) if priced else None


def describe_totals(recorder: Recorder, config: Config) -> str | None:
    """The conversation's totals from the library, once it holds more than this turn (None otherwise)."""
    if recorder.recorded_id is None:
        return None
    try:
        rows = recorder.library().usage(recorder.recorded_id)
    except HistoryError:
        return None
    turns = sum(row.turns for row in rows)
    if turns < 2:
        return None
    total = sum((row.usage() for row in rows), Usage(0, 0))
    line = f"conversation: {turns} turns, {token_counts(total)}"
    if (dollars := rows_cost(rows, config)) is not None:
        line += f", ${dollars:.6f}"
    return line


def usage_stats(rows: list[UsageRow], config: Config) -> dict[str, Any]:
    """`history stats`: turns, tokens and cost per model (most tokens first), per day (oldest first), per day and
    model (the spend of each day by model), in all; and the models without a [prices] entry, whose cost is
    unknown. Cache and reasoning tokens appear in an entry when there are some."""

    def entry(labels: dict[str, str | None], group: list[UsageRow]) -> dict[str, Any]:
        counted = {
            "turns": sum(row.turns for row in group),
            "prompt_tokens": sum(row.prompt_tokens for row in group),
            "completion_tokens": sum(row.completion_tokens for row in group),
        }
        for extra in ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
            if total := sum(getattr(row, extra) for row in group):
                counted[extra] = total
        return {**labels, **counted, "cost": rows_cost(group, config)}

    by_model: dict[str | None, list[UsageRow]] = {}
    by_day: dict[str | None, list[UsageRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
        by_day.setdefault(row.day, []).append(row)
    models = [entry({"model": model}, group) for model, group in by_model.items()]
    models.sort(key=lambda item: -(item["prompt_tokens"] + item["completion_tokens"]))
    days = [
        entry({"day": day}, group) for day, group in sorted(by_day.items(), key=lambda item: item[0] or "")
    ]
    # rows come ordered by day, then model
    day_models = [entry({"day": row.day, "model": row.model}, [row]) for row in rows]
    unpriced = sorted({row.model for row in rows if row.model and config.price(row.model) is None})
    return {
        "models": models,
        "days": days,
        "days_by_model": day_models,
        "total": entry({}, rows),
        "unpriced_models": unpriced,
    }


def cost_of(config: Config, model: str | None, usage: Usage) -> float | None:
    """What `usage` cost in US dollars at the config file's price for `model`; None without a price."""
    price = config.price(model)
    return price.dollars(usage) if price is not None else None
