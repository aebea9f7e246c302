"""What the library's queries return to its readers: a conversation's summary, turns and tokens per model and
day, a search hit. Apart from storage.library, which every `ask` loads to record its turn, so that recording
does not define them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Summary:
    id: str
    created_at: str
    updated_at: str
    model: str | None
    turns: int
    title: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created_at,
            "updated": self.updated_at,
            "model": self.model,
            "turns": self.turns,
            "title": self.title,
        }


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Turns and token counts of one model (on one day, for `stats`); turns without counts count as 0."""

    model: str | None
    day: str | None
    turns: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Hit:
    conversation_id: str
    created_at: str
    role: str
    title: str
    snippet: str  # the matching text around the match, terms between the caller's marks
