"""What the library's queries return to its readers: a conversation's summary, turns and tokens per model and
day, a search hit. Apart from storage.library, which every `ask` loads to record its turn, so that recording
does not define them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatcli.core.stream import Usage


@dataclass(frozen=True, slots=True)
class Summary:
    id: str
    created_at: str
    updated_at: str
    model: str | None
    turns: int
    title: str
    name: str | None = None
    # Where it came from (storage.library.Origin): made from `origin_id`'s first `origin_messages` messages,
    # as `origin_kind` says (forked, edited or compacted); None for a conversation started afresh.
    origin_id: str | None = None
    origin_messages: int | None = None
    origin_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        origin = None
        if self.origin_id is not None:
            origin = {"id": self.origin_id, "messages": self.origin_messages, "kind": self.origin_kind}
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created_at,
            "updated": self.updated_at,
            "model": self.model,
            "turns": self.turns,
            "title": self.title,
            "origin": origin,
        }

    def origin_line(self) -> str | None:
        """`forked from 3f2a9c0b1d2e at message 4`: where it came from, numbered as `history show` numbers messages
        (an edit names the message it replaced, the one after those it kept); None when made afresh."""
        if self.origin_id is None:
            return None
        at = (self.origin_messages or 0) + (1 if self.origin_kind == "edited" else 0)
        return f"{self.origin_kind} from {self.origin_id} at message {at}"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Turns and token counts of one model (on one day, for `stats`); turns without counts count as 0. Of the
    prompt tokens, `cache_read_tokens` and `cache_write_tokens` went through the provider's prompt cache; of the
    completion tokens, `reasoning_tokens` were reasoning, where the server said."""

    model: str | None
    day: str | None
    turns: int
    prompt_tokens: int
    completion_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def usage(self) -> Usage:
        """The row's counts as one Usage, to price."""
        return Usage(
            self.prompt_tokens,
            self.completion_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens or None,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    conversation_id: str
    created_at: str
    role: str
    title: str
    snippet: str  # the matching text around the match, terms between the caller's marks
