"""Compaction: the request for a summary of a conversation, and the new conversation that starts from it."""

from __future__ import annotations

from chatcli.core.conversation import Conversation, Message

DEFAULT_COMPACT_PROMPT = (
    "Summarise our conversation so far so that it can go on from the summary alone: the goal, the facts and "
    "decisions established, the code, names and numbers still needed, and the open questions. Be complete but "
    "concise, and write only the summary."
)
CONTINUE_QUESTION = "continue in a new conversation from this summary? [y/N] "
SUMMARY_HEADING = "Summary of an earlier conversation, which goes on from here:"


def compaction_prompt(prompt: str, instructions: str) -> str:
    """The request for the summary: the configured prompt, and what the user added for this compaction."""
    instructions = instructions.strip()
    return f"{prompt}\n\n{instructions}" if instructions else prompt


def compacted(conversation: Conversation, summary: str) -> Conversation:
    """A new conversation that goes on from `summary`: the system prompt kept, then the summary as one user
    message that says what it is."""
    messages = [Message("system", conversation.system)] if conversation.system is not None else []
    messages.append(Message("user", f"{SUMMARY_HEADING}\n\n{summary.strip()}"))
    return Conversation(messages, conversation.model)


def has_messages(conversation: Conversation) -> bool:
    """Whether there is anything to compact: a message besides the system prompt."""
    return any(message.role != "system" for message in conversation.messages)
