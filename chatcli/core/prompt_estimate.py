"""How many tokens a prompt holds before it is sent (the server's own count where it has one, else from the
text's length), what it would cost, and the cost guard's question past `confirm_above_tokens` or
`confirm_above_cost`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from chatcli.core.stream import Backend, ChatRequest, Usage

# UTF-8 bytes per token of English with the large providers' tokenizers; code and other scripts take more tokens
BYTES_PER_TOKEN = 4
# An image, whatever its size: about what a one-megapixel image costs at OpenAI and Anthropic.
IMAGE_TOKENS = 1000
MESSAGE_TOKENS = 4  # each message's role and separators in the chat template
SERVER = "server"  # the estimate's method: the server counted the prompt's tokens
TEXT_LENGTH = "text length"  # ... or chatcli estimated them from the text's length

CostOf = Callable[[str, Usage], float | None]  # model and usage to US dollars; None without a price


@runtime_checkable
class TokenCounter(Protocol):
    """A backend whose server can count a prompt's tokens: None when it cannot, or asking failed (never an
    error: an estimate is not worth one)."""

    def count_prompt_tokens(self, request: ChatRequest) -> int | None: ...


@dataclass(frozen=True, slots=True)
class PromptEstimate:
    """About how many tokens a prompt holds, how that was found (SERVER or TEXT_LENGTH), and what they cost
    at the model's input price (None without a price)."""

    tokens: int
    method: str
    cost: float | None = None


def length_estimate(request: ChatRequest) -> int:
    """The prompt's tokens from its length: UTF-8 bytes / BYTES_PER_TOKEN of every text, tool call and tool
    definition, IMAGE_TOKENS per image, other parts (documents) by the size of their JSON, MESSAGE_TOKENS per
    message."""
    tokens, size = 0, 0
    for message in request.messages:
        tokens += MESSAGE_TOKENS
        if isinstance(message.content, str):
            size += len(message.content.encode("utf-8", "surrogatepass"))
        for part in message.content if isinstance(message.content, list) else ():
            if part.get("type") == "text":
                size += len(str(part.get("text", "")).encode("utf-8", "surrogatepass"))
            elif part.get("type") == "image_url":
                tokens += IMAGE_TOKENS
            else:
                size += len(json.dumps(part))
        if calls := message.extra.get("tool_calls"):
            size += len(json.dumps(calls))
    if request.tools:
        size += len(json.dumps(list(request.tools)))
    return tokens + -(-size // BYTES_PER_TOKEN)


def estimate_prompt(backend: Backend, request: ChatRequest, cost_of: CostOf | None = None) -> PromptEstimate:
    """The server's count of `request`'s prompt when the backend can ask for one, else its length estimate;
    with `cost_of`, its cost at the model's input price."""
    counted = backend.count_prompt_tokens(request) if isinstance(backend, TokenCounter) else None
    tokens, method = (counted, SERVER) if counted is not None else (length_estimate(request), TEXT_LENGTH)
    cost = cost_of(request.model, Usage(tokens, 0)) if cost_of is not None else None
    return PromptEstimate(tokens, method, cost)


@dataclass(frozen=True, slots=True)
class CostGuard:
    """`confirm_above_tokens` and `confirm_above_cost`: past either, a prompt is sent only once the user says
    yes (None: that limit is off)."""

    above_tokens: int | None = None
    above_cost: float | None = None

    @property
    def active(self) -> bool:
        return self.above_tokens is not None or self.above_cost is not None

    def exceeded_by(self, estimate: PromptEstimate) -> str | None:
        """The setting `estimate` passes (`confirm_above_tokens (100 000)`), or None."""
        if self.above_tokens is not None and estimate.tokens > self.above_tokens:
            return f"confirm_above_tokens ({spaced(self.above_tokens)})"
        if self.above_cost is not None and estimate.cost is not None and estimate.cost > self.above_cost:
            return f"confirm_above_cost (${self.above_cost:g})"
        return None


def describe_estimate(estimate: PromptEstimate) -> str:
    """`this prompt is about 182 000 tokens, $0.55`."""
    cost = f", {dollars(estimate.cost)}" if estimate.cost is not None else ""
    return f"this prompt is about {spaced(estimate.tokens)} tokens{cost}"


def confirmation_question(estimate: PromptEstimate) -> str:
    return f"{describe_estimate(estimate)}; send? [y/N] "


def spaced(tokens: int) -> str:
    """12431 as `12 431`."""
    return f"{tokens:,}".replace(",", " ")


def dollars(amount: float) -> str:
    """Cents once there are any, else the few significant digits a small amount has: $0.55, $0.000026."""
    if amount >= 0.01:
        return f"${amount:.2f}"
    return f"${amount:.6f}".rstrip("0").rstrip(".") if amount > 0 else "$0"
