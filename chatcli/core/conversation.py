"""Messages and conversations: pure data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


class Status(StrEnum):
    """Why an answer is incomplete; kept in files and the library, never sent to the model."""

    INTERRUPTED = "interrupted"
    FAILED = "failed"


Content = str | list[dict[str, Any]] | None
OWN_PART_KEY = "chatcli"  # chatcli's own data in a content part (an image's file name): kept, never sent
# A message's `extra` key for what a provider must get back verbatim, by backend name (core.stream.ProviderItem):
# saved and recorded with the message, sent only by the backend of that name.
PROVIDER_ITEMS_KEY = "provider_items"
_API_FIELDS = {"assistant": ("name", "tool_calls"), "tool": ("tool_call_id",)}  # sent besides role, content


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: Content
    status: str | None = None  # a Status for an incomplete answer (any string a file holds is kept)
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown fields, kept on round-trip
    reasoning: str | None = None  # the model's reasoning before this answer; kept, never sent back

    def provider_items(self, backend: str) -> list[dict[str, Any]]:
        """What `backend` sent with this answer for itself (ProviderItem data), in order."""
        items = self.extra.get(PROVIDER_ITEMS_KEY)
        found = items.get(backend) if isinstance(items, dict) else None
        return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []

    @property
    def text(self) -> str:
        """The message's text, whether its content is a string or a list of parts."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")

    def to_api(self) -> dict[str, Any]:
        """The message as the chat-completions API takes it: its known fields only (no status mark, nothing a
        file added, no OWN_PART_KEY in its parts)."""
        content = self.content
        if isinstance(content, list) and any(OWN_PART_KEY in part for part in content):
            content = [{key: value for key, value in part.items() if key != OWN_PART_KEY} for part in content]
        sent = {key: self.extra[key] for key in _API_FIELDS.get(self.role, ("name",)) if key in self.extra}
        return {**sent, "role": self.role, "content": content}


@dataclass(slots=True)
class Conversation:
    """The message list of one chat, system prompt first when there is one."""

    messages: list[Message] = field(default_factory=list)
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields of a loaded file, kept on round-trip

    @property
    def system(self) -> str | None:
        if self.messages and self.messages[0].role == "system":
            return self.messages[0].text
        return None

    def set_system(self, text: str | None) -> None:
        if self.messages and self.messages[0].role == "system":
            del self.messages[0]
        if text:
            self.messages.insert(0, Message("system", text))

    def commit_exchange(self, messages: Sequence[Message]) -> None:
        """Add a whole exchange at once: the user message, tool calls and their results, the answer."""
        self.messages += messages

    def clear(self) -> None:
        """Start over, keeping the system prompt."""
        system = self.system
        self.messages.clear()
        self.set_system(system)

    def last_exchange_start(self) -> int | None:
        """Index of the last user message, or None when there is none."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].role == "user":
                return index
        return None

    def pop_exchange(self) -> list[Message]:
        """Remove and return the last user message and everything after it."""
        start = self.last_exchange_start()
        if start is None:
            return []
        removed = self.messages[start:]
        del self.messages[start:]
        return removed


def api_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [message.to_api() for message in messages]
