"""Secrets out of text that chatcli shows, saves or passes on: every exact value becomes one marker."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of each secret replaced by [redacted] (an empty or missing one skipped)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
