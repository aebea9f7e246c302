"""The model's context window and how full it is: the gauge, the `-u` line, the warning near the limit, and the
one line that names a prompt the server probably truncated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from chatcli.core.conversation import Message
from chatcli.core.stream import Usage

NEAR_LIMIT = 0.8  # the share of the window past which the REPL says, once, that the limit is near
BYTES_PER_TOKEN = 4  # a rough estimate of the tokens a text holds, for the truncation check only
# A prompt counted at less than a quarter of that estimate was cut: no common tokenizer packs 16 bytes into
# a token of ordinary text. Below a few thousand tokens no server's default window cuts anything.
TRUNCATION_FACTOR = 4
TRUNCATION_MIN_TOKENS = 2048
# What Ollama runs a model with unless told otherwise (its /v1 ignores num_ctx); newer versions choose more on
# a large GPU, which /api/ps tells once the model is loaded.
OLLAMA_DEFAULT_WINDOW = 4096
KNOWN_CAPS = frozenset({2048, 4096})  # Ollama's default context, then and now
HOW_TO_RAISE = {
    "Ollama": "use -b ollama with context_window set, or set num_ctx in a Modelfile or OLLAMA_CONTEXT_LENGTH",
    "llama.cpp": "start llama-server with a larger --ctx-size",
    "vLLM": "start vLLM with a larger --max-model-len",
}


@dataclass(frozen=True, slots=True)
class ContextWindow:
    """How many tokens the model can hold, and who said so: a server ("llama.cpp", "vLLM", "OpenRouter",
    "Ollama") or the config ("config"). `guessed`: the server's default, assumed while it does not say (Ollama
    before the model is loaded), so worth asking again and never proof that a prompt filled it."""

    tokens: int
    source: str
    guessed: bool = False


@runtime_checkable
class ContextWindowSource(Protocol):
    """A backend that can ask its server for a model's context window (None: the server does not say)."""

    def context_window(self, model: str) -> ContextWindow | None: ...


def sent_bytes(messages: Sequence[Message]) -> int:
    """The bytes of text a turn sent: every message but its answer, the last one."""
    return sum(len(message.text.encode()) for message in messages[:-1])


def used_tokens(usage: Usage) -> int:
    """What the last turn left in the window: its prompt and its answer, which the next prompt carries."""
    return usage.prompt_tokens + usage.completion_tokens


def share(used: int, window: ContextWindow) -> float:
    return used / window.tokens


def gauge(used: int, window: ContextWindow) -> str:
    """The toolbar's `ctx 12.4k/32.8k (38%)`."""
    return f"ctx {_short(used)}/{_short(window.tokens)} ({share(used, window):.0%})"


def context_line(used: int, window: ContextWindow | None) -> str:
    """`-u`'s `context: 12 431 of 32 768 tokens (38%)`, or that the window is unknown."""
    if window is None:
        return (
            f"context: {_spaced(used)} tokens; the model's context window is unknown "
            "(set context_window, or [context_windows] per model, in the config file)"
        )
    return f"context: {_spaced(used)} of {_spaced(window.tokens)} tokens ({share(used, window):.0%})"


def near_limit_notice(used: int, window: ContextWindow) -> str | None:
    """The REPL's one warning once the window is NEAR_LIMIT full (None below that)."""
    if share(used, window) < NEAR_LIMIT:
        return None
    return (
        f"the conversation is nearing the model's limit: {_spaced(used)} of {_spaced(window.tokens)} tokens "
        f"({share(used, window):.0%}); /compact goes on from a summary, /clear starts a new one (the library keeps "
        "this one)"
    )


def truncation_warning(sent_bytes: int, usage: Usage, window: ContextWindow | None) -> str | None:
    """One line when the server probably cut the prompt: it counted far fewer tokens than `sent_bytes` of text
    hold, exactly a known cap, or as many as the whole window. None when nothing suggests it."""
    counted = usage.prompt_tokens
    estimate = sent_bytes // BYTES_PER_TOKEN
    far_below = estimate >= TRUNCATION_MIN_TOKENS and counted * TRUNCATION_FACTOR < estimate
    at_cap = counted in KNOWN_CAPS and estimate > counted
    fills = window is not None and not window.guessed and counted >= window.tokens
    if not (far_below or at_cap or fills):
        return None
    source = window.source if window is not None else ""
    how = HOW_TO_RAISE.get(source) or "; ".join(f"{name}: {hint}" for name, hint in HOW_TO_RAISE.items())
    return (
        f"the server probably truncated the prompt: it counted {_spaced(counted)} tokens of about "
        f"{_spaced(estimate)} sent; to raise its context: {how}"
    )


def _short(tokens: int) -> str:
    """12431 as 12.4k, 1048576 as 1.0M."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    return f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)


def _spaced(tokens: int) -> str:
    """12431 as `12 431`."""
    return f"{tokens:,}".replace(",", " ")
