"""The turn observer that records every committed turn in the library, and resumes library conversations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatcli.core.conversation import Conversation, Message
from chatcli.core.errors import HistoryError, UsageError
from chatcli.core.session import Session
from chatcli.core.turn import TurnResult
from chatcli.storage.library import ContentText, Library, Origin, TurnRecord, split_system


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
        self._find_copy = False  # look for the library conversation `_stored` came from (attach_copy)
        self.name: str | None = None  # of the conversation, or the name its first recorded turn gives it

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
        self._find_copy = False
        self.name = self.library().summary(conversation_id).name if conversation_id is not None else None

    def attach_copy(self, conversation: Conversation) -> None:
        """`conversation` was loaded from a file: its next turn continues the library conversation holding
        exactly its messages, when there is one (the file was saved from it), instead of copying it anew."""
        self.conversation_id, self.name = None, None
        self._stored = split_system(conversation)[1]
        self._find_copy = bool(self._stored)

    def rename(self, name: str) -> None:
        """Name this session's conversation (`name` checked by check_name): in the library once recorded, else
        when its first turn is recorded (the name must be free now)."""
        library = self.library()
        if self.conversation_id is not None:
            library.rename(self.conversation_id, name)
        else:
            library.name_free(name)
        self.name = name

    def fork(self, conversation: Conversation, count: int | None) -> tuple[str, Conversation]:
        """A new library conversation of the first `count` messages of `conversation` (None: all), forked from
        the library conversation this session records into; the next turns continue the new one."""
        body = split_system(conversation)[1]
        count = len(body) if count is None else count
        if self.conversation_id is None or not body:
            raise UsageError("nothing recorded to fork yet; send a message first")
        if count > len(body):
            raise UsageError(f"the conversation has {len(body)} messages; fork takes 1 to {len(body)}")
        if count > len(self._stored) or body[:count] != self._stored[:count]:
            raise UsageError(f"message {count} is not recorded in the library yet; send a message first")
        library = self.library()
        new_id = library.fork(self.conversation_id, count)
        forked = library.load(new_id)
        self.attach(new_id, forked)
        return new_id, forked

    def compact(self, compacted: Conversation) -> str | None:
        """Record `compacted` (the summary of this session's conversation) as a new library conversation,
        compacted from the messages recorded so far, and continue it from now on; return its id (None without
        recording, when the next turn starts a new conversation). The original stays whole."""
        if not self.records:
            self.attach(None, compacted)
            return None
        library = self.library()
        if self._find_copy:  # a loaded file compacts the library conversation it was saved from
            self._continue_copy(library)
        origin = (
            Origin(self.conversation_id, len(self._stored), "compacted") if self.conversation_id else None
        )
        new_id = library.add_conversation(compacted, origin)
        self.attach(new_id, compacted)
        return new_id

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
            cache_read_tokens=usage.cache_read_tokens if usage is not None else None,
            cache_write_tokens=usage.cache_write_tokens if usage is not None else None,
            reasoning_tokens=usage.reasoning_tokens if usage is not None else None,
        )
        conversation = session.conversation
        try:
            library = self.library()
            if self._find_copy:
                self._continue_copy(library)
            asked = self.name if self.conversation_id is None else None  # the name for a new conversation
            recorded = library.record_turn(self.conversation_id, self._stored, conversation, turn, asked)
            if recorded != self.conversation_id and (self.conversation_id is not None or asked):
                self._new_conversation_named(asked, library.summary(recorded).name)
        except HistoryError as error:
            self._warn(f"warning: this turn was not recorded in the library: {error}")
            return
        self.conversation_id = recorded
        self._stored = split_system(conversation)[1]

    def _continue_copy(self, library: Library) -> None:
        """The turns of a loaded file go on in the library conversation it is a copy of, if any (named
        as --name asks)."""
        self._find_copy = False
        self.conversation_id = library.find_copy(self._stored)
        if self.conversation_id is not None and self.name is not None:
            try:
                library.rename(self.conversation_id, self.name)
            except UsageError as error:
                self._warn(f"warning: {error}")

    def _new_conversation_named(self, asked: str | None, name: str | None) -> None:
        """The turn started a new library conversation, named `name`: the name `asked` for, the one an edited
        conversation passed on, or none (when another conversation took the name asked for meanwhile, say so)."""
        if asked is not None and name is None:
            self._warn(f"warning: the name {asked!r} was taken meanwhile; `/rename NAME` names this one")
        self.name = name

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None
