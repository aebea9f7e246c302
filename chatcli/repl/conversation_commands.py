"""/rename and /fork: the library conversation the REPL records into, named or forked (storage.recorder)."""

from __future__ import annotations

from collections.abc import Callable

from chatcli.core.errors import HistoryError, UsageError
from chatcli.core.session import Session
from chatcli.repl.screen import Screen
from chatcli.storage.library import check_name
from chatcli.storage.recorder import Recorder


class ConversationCommands:
    """/rename NAME and /fork [N]. `replaced` says the session now holds another conversation (the save file
    keeps the previous one)."""

    def __init__(
        self, session: Session, screen: Screen, recorder: Recorder, replaced: Callable[[str], None]
    ) -> None:
        self._session = session
        self._screen = screen
        self._recorder = recorder
        self._replaced = replaced

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
