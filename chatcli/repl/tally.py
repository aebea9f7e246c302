"""The toolbar's token counts: the last completed turn's, and the session's total with its cost."""

from __future__ import annotations

from dataclasses import dataclass

from chatcli.core.prompt_estimate import dollars
from chatcli.core.stream import Usage


@dataclass(slots=True)
class TokenTally:
    last: Usage | None = None  # the last completed turn's counts (None: not reported, or after /clear)
    total_tokens: int = 0
    cost: float | None = None  # None until a turn had a price
    near_limit_said: bool = (
        False  # the conversation's nearing the context limit was said (once per conversation)
    )

    compaction_offered: bool = False  # compact_at's question was asked (once per conversation)

    def add_turn(self, usage: Usage | None, cost: float | None) -> None:
        self.last = usage
        if usage is not None:
            self.total_tokens += usage.prompt_tokens + usage.completion_tokens
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost

    def new_conversation(self) -> None:
        """The last turn's counts belong to a conversation that is gone; the session's totals stay."""
        self.last = None
        self.near_limit_said = False
        self.compaction_offered = False

    def describe(self) -> list[str]:
        parts = []
        if self.last is not None:
            parts.append(f"last {self.last.prompt_tokens}+{self.last.completion_tokens} tokens")
        if self.total_tokens:
            cost = f" {dollars(self.cost)}" if self.cost is not None else ""
            parts.append(f"session {self.total_tokens} tokens{cost}")
        return parts
