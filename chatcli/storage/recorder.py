"""The turn observer that records every committed turn in the library, and resumes library conversations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatcli.core.conversation import Conversation, Message
from chatcli.core.errors import HistoryError
from chatcli.core.session import Session
from chatcli.core.turn import TurnResult
from chatcli.storage.library import ContentText, Library, TurnRecord, split_system


class Recorder:
    """Records every committed turn in the library at `path` (when `records`), and resumes its conversations.

    Opens the library on first use. A failure to record is one warning through `warn`, never an error: the
    answer has already been shown, and the next turn records whatever this one missed.
    """

    def __init__(
        self,
        path: Path,
        warn: Callable[[str], None],
        *,
        records: bool = True,
        backend: str | None = None,
        host: str | None = None,
        content_text: ContentText | None = None,
    ) -> None:
        self.path = path
        self._content_text = content_text  # how a message of several parts reads in a title (Library)
        self.records = records
        self._warn = warn
        self._backend = backend
        self._host = host
        self._library: Library | None = None
        self.conversation_id: str | None = None
        self._stored: list[Message] = []

    def library(self) -> Library:
        if self._library is None:
            self._library = Library(self.path, content_text=self._content_text)
        return self._library

    def resume(self, reference: str) -> Conversation:
        """Load the library conversation `reference` names (LATEST: the most recent); the next turns continue
        it there."""
        library = self.library()
        conversation_id = library.resolve(reference)
        conversation = library.load(conversation_id)
        self.attach(conversation_id, conversation)
        return conversation

    def attach(self, conversation_id: str | None, conversation: Conversation) -> None:
        """From now on, turns of `conversation` continue library conversation `conversation_id` (None: a new one)."""
        self.conversation_id = conversation_id
        self._stored = split_system(conversation)[1] if conversation_id is not None else []

    @property
    def recorded_id(self) -> str | None:
        """The library id this session's turns go to, once one was recorded or resumed."""
        return self.conversation_id if self.records else None

    def turn_committed(self, session: Session, result: TurnResult) -> None:
        if not self.records:
            return
        usage = result.info.usage
        turn = TurnRecord(
            model=session.model,
            backend=self._backend,
            host=self._host,
            status=result.status,
            finish_reason=result.info.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage is not None else None,
            completion_tokens=usage.completion_tokens if usage is not None else None,
        )
        conversation = session.conversation
        try:
            library = self.library()
            self.conversation_id = library.record_turn(self.conversation_id, self._stored, conversation, turn)
        except HistoryError as error:
            self._warn(f"warning: this turn was not recorded in the library: {error}")
            return
        self._stored = split_system(conversation)[1]

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None
