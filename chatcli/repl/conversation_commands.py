"""/rename, /fork and /compact: the library conversation the REPL records into, named, forked or compacted
(storage.recorder)."""

from __future__ import annotations

from collections.abc import Callable

from chatcli.core.compaction import (
    CONTINUE_QUESTION,
    DEFAULT_COMPACT_PROMPT,
    compacted,
    compaction_prompt,
    has_messages,
)
from chatcli.core.conversation import Message, Status
from chatcli.core.errors import ChatError, HistoryError, UsageError
from chatcli.core.session import Session
from chatcli.core.turn import Round
from chatcli.render.plain import SilentRenderer
from chatcli.repl.screen import Screen
from chatcli.storage.library import check_name
from chatcli.storage.recorder import Recorder

# The summary of a conversation asked with this prompt, shown as an answer is; None when there is none to use
# (the request failed or was interrupted, said in one line).
Summarize = Callable[[str], str | None]
Confirm = Callable[[str], bool]  # the user's answer to a yes/no question; False without a terminal to ask on


def summary_text(summary: Round, screen: Screen) -> str | None:
    """The text of a summary to compact from, or None when it was cut short (said on `screen`)."""
    if summary.status is Status.INTERRUPTED:
        screen.notice("interrupted; nothing compacted")
        return None
    if summary.failure is not None:
        screen.warn(f"{summary.failure}; nothing compacted")
        return None
    if summary.info.finish_reason == "length":
        screen.warn("the summary was cut off at the token limit (finish_reason: length); nothing compacted")
        return None
    return summary.text


def summary_on_screen(session: Session, screen: Screen) -> Summarize:
    """Summaries asked of the session's model, each shown on `screen` once complete (where no answer streams)."""

    def summarize(prompt: str) -> str | None:
        try:
            text = summary_text(session.summarize(prompt, SilentRenderer()), screen)
        except ChatError as error:
            screen.warn(str(error))
            return None
        if text:
            screen.show_messages([Message("assistant", text)])
        return text

    return summarize


class ConversationCommands:
    """/rename NAME, /fork [N] and /compact [INSTRUCTIONS]. `replaced` says the session now holds another
    conversation (the save file keeps the previous one)."""

    def __init__(
        self,
        session: Session,
        screen: Screen,
        recorder: Recorder,
        replaced: Callable[[str], None],
        *,
        summarize: Summarize,
        confirm: Confirm,
        compact_prompt: str = DEFAULT_COMPACT_PROMPT,
    ) -> None:
        self._session = session
        self._screen = screen
        self._recorder = recorder
        self._replaced = replaced
        self._summarize = summarize
        self._confirm = confirm
        self._compact_prompt = compact_prompt

    def rename(self, argument: str) -> bool:
        """/rename NAME: this conversation's name in the library (given to it when its first turn is recorded)."""
        if not self._recorder.records:
            self._screen.warn(
                "/rename names the conversation in the library, which --no-log (or log = false) leaves out"
            )
            return True
        try:
            self._recorder.rename(check_name(argument))
        except (HistoryError, UsageError) as error:
            self._screen.warn(str(error))
            return True
        recorded = self._recorder.conversation_id
        self._screen.notice(
            f"named {argument.strip()}"
            + (f" ({recorded})" if recorded else " (from its first recorded turn)")
        )
        return True

    def fork(self, argument: str) -> bool:
        """/fork [N]: a new library conversation of the first N messages (default: all); the chat goes on in it,
        the original stays whole."""
        if argument and not (argument.isdigit() and int(argument) > 0):
            self._screen.warn(
                "/fork takes a number of messages: /fork 4 (numbered as `chatcli history show`)"
            )
            return True
        if not self._recorder.records:
            self._screen.warn(
                "/fork makes a new conversation in the library, which --no-log (or log = false) leaves out"
            )
            return True
        origin = self._recorder.conversation_id
        try:
            new_id, forked = self._recorder.fork(
                self._session.conversation, int(argument) if argument else None
            )
        except (HistoryError, UsageError) as error:
            self._screen.warn(str(error))
            return True
        self._session.replace_conversation(forked)
        self._replaced(f"forked {origin} into {new_id}; this chat goes on in {new_id}")
        return True

    def compact(self, argument: str) -> bool:
        """/compact [INSTRUCTIONS]: the model summarises the conversation; on the user's yes the chat goes on in
        a new conversation that starts with the summary, the original staying whole in the library."""
        conversation = self._session.conversation
        if not has_messages(conversation):
            self._screen.warn("nothing to compact yet; send a message first")
            return True
        summary = self._summarize(compaction_prompt(self._compact_prompt, argument))
        if summary is None:
            return True
        if not summary.strip():
            self._screen.warn("the summary is empty; nothing compacted")
            return True
        if not self._confirm(CONTINUE_QUESTION):
            self._screen.notice("not compacted; the conversation goes on as it was")
            return True
        origin = self._recorder.recorded_id
        new = compacted(conversation, summary)
        try:
            new_id = self._recorder.compact(new)
        except HistoryError as error:
            self._screen.warn(f"{error}; nothing compacted")
            return True
        self._session.replace_conversation(new)
        if origin is None or new_id is None:
            self._replaced("compacted; this chat goes on from the summary")
        else:
            self._replaced(f"compacted {origin} into {new_id}; this chat goes on in {new_id}")
        return True
