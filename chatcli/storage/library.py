"""The conversation library: every turn recorded in a private SQLite database, to list, search and resume."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from chatcli.core.conversation import Content, Conversation, Message
from chatcli.core.errors import HistoryError, UsageError
from chatcli.storage.attachments import split_attached, typed_text
from chatcli.storage.files import NotRegularFile, create_private_file

if TYPE_CHECKING:
    from chatcli.storage.library_rows import Hit, Summary, UsageRow

BUSY_TIMEOUT = 5.0  # seconds a writer waits for another one (recording a turn is quick)
LATEST = "latest"  # the resume reference for the most recently updated conversation (never a hex id)
ID_BYTES = 6  # ids are 12 random hex digits; any unique prefix names a conversation
TITLE_CHARS = 200

# Each entry brings the schema from version N to N + 1 (`PRAGMA user_version`); append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            title TEXT NOT NULL,
            model TEXT,
            system TEXT,
            turns INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX conversations_updated ON conversations (updated_at)",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            model TEXT,
            backend TEXT,
            host TEXT,
            status TEXT,
            finish_reason TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER
        )""",
        "CREATE INDEX turns_conversation ON turns (conversation_id)",
        # `content` holds JSON only when the content is not a plain string (a list of parts, or null);
        # `extra` holds the message's unknown fields as JSON, kept for the round trip.
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            turn_id INTEGER REFERENCES turns (id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            role TEXT NOT NULL,
            text TEXT NOT NULL,
            content TEXT,
            status TEXT,
            extra TEXT,
            UNIQUE (conversation_id, position)
        )""",
        (
            "CREATE VIRTUAL TABLE messages_fts USING fts5 "
            "(text, content='messages', content_rowid='id', tokenize='porter unicode61')"
        ),
        (
            "CREATE TRIGGER messages_indexed AFTER INSERT ON messages BEGIN "
            "INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text); END"
        ),
        (
            "CREATE TRIGGER messages_unindexed AFTER DELETE ON messages BEGIN "
            "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        ),
    ),
    # The model's reasoning before an answer: kept with it, outside `text`, so search never finds it.
    ("ALTER TABLE messages ADD COLUMN reasoning TEXT",),
)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """What is known about one turn besides its messages."""

    model: str | None
    backend: str | None = None
    host: str | None = None
    status: str | None = None  # None when complete, else a Status
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def url_host(base_url: str | None) -> str | None:
    """The host (and port) of a base URL, never its path, query or credentials."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    if parts.hostname is None:
        return None
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


ContentText = Callable[[Content], str]


def title_of(messages: Sequence[Message], content_text: ContentText | None = None) -> str:
    """The first user message as typed, whitespace collapsed, cut to TITLE_CHARS: attached files by name
    only (the typed text alone when there is some). Content of parts reads as `content_text` makes it
    (chatcli passes render.message_text.shown_content: an image as its placeholder), else as its text parts."""
    for message in messages:
        if message.role == "user":
            text = message.content
            if not isinstance(text, str):
                text = content_text(text) if content_text is not None else message.text
            files, typed = split_attached(text)
            typed = typed or " ".join(f"[file: {file.name}]" for file in files)
            return " ".join(typed.split())[:TITLE_CHARS]
    return ""


ATTACHED_START = "### "  # how a message with attached files begins (storage.attachments.format_attachment)
SNIPPET_WORDS = 16  # as many as FTS5's snippet() gives


def typed_snippet(text: str, query: str, marks: tuple[str, str]) -> str | None:
    """A search hit's snippet for a message with attached files (None without): the prompt as typed, each file
    as `[file: NAME]` (FTS5's snippet could show a file's content instead); the words that begin with a query
    word between `marks`, as FTS5 marks its matches (its stemming, approximately)."""
    if not split_attached(text)[0]:
        return None
    words = typed_text(text).split()
    shown = " ".join(words[:SNIPPET_WORDS]) + ("…" if len(words) > SNIPPET_WORDS else "")
    terms = [re.escape(word.rstrip("*")) for word in query.split() if word.rstrip("*")]
    if not terms:
        return shown
    matched = re.compile(rf"\b(?:{'|'.join(terms)})\w*", re.IGNORECASE)
    return matched.sub(lambda match: marks[0] + match[0] + marks[1], shown)


def split_system(conversation: Conversation) -> tuple[str | None, list[Message]]:
    """The system prompt (kept on the conversation row) and the other messages (one row each)."""
    messages = conversation.messages
    if messages and messages[0].role == "system":
        return messages[0].text, messages[1:]
    return None, list(messages)


def _match_query(query: str) -> str:
    """Each word becomes a quoted FTS5 string, so punctuation is never query syntax; `word*` keeps a prefix search."""
    terms = []
    for word in query.split():
        prefix = len(word) > 1 and word.endswith("*")
        word = word.rstrip("*")
        if word:
            terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise UsageError("empty search query; give one or more words")
    return " ".join(terms)


class Library:
    """One connection to the library database; every method raises HistoryError with a one-line reason.
    `content_text`: how a message of several parts reads in a conversation's title (see `title_of`)."""

    def __init__(
        self, path: Path, timeout: float = BUSY_TIMEOUT, *, content_text: ContentText | None = None
    ) -> None:
        self.path = path
        self._timeout = timeout
        self._content_text = content_text
        try:
            create_private_file(path)
        except OSError as error:
            raise HistoryError(f"{path}: cannot create the library ({error.strerror or error})") from None
        except NotRegularFile as error:
            raise HistoryError(f"{path} {error}; the library must be a file of its own") from None
        with self._errors():
            self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            with self._errors():
                self._db.execute("PRAGMA foreign_keys = ON")
                self._db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable, and no fsync per commit
                self._migrate()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise HistoryError(f"{self.path}: {_describe(error)}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; IMMEDIATE takes the write lock up front, so a second writer waits its turn."""
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise HistoryError(
                f"{self.path}: written by a newer chatcli (library schema {version}); upgrade chatcli"
            )
        return version

    def _migrate(self) -> None:
        version = self._version()
        if version == len(MIGRATIONS):
            return
        if version == 0:
            self._use_wal()
        with self._transaction() as db:
            version = self._version()  # another process may have migrated while we waited for the lock
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    def _use_wal(self) -> None:
        """Switch a new database to WAL (persistent; readers never block the writer). SQLite answers "locked" at
        once, without waiting, while another process creates the same library, so wait for it here."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    # Writing

    def record_turn(
        self,
        conversation_id: str | None,
        stored: Sequence[Message],
        conversation: Conversation,
        turn: TurnRecord,
    ) -> str:
        """Record the turn that just ended `conversation` (its last two messages) and return the conversation id.

        `stored` is what we believe the library holds for `conversation_id`. When the conversation still extends
        it, only the new messages are appended; otherwise (an undo, a retry, another process that appended to the
        same conversation, a deleted conversation) the whole conversation becomes a new library conversation,
        so no recorded turn is ever rewritten or lost.
        """
        system, body = split_system(conversation)
        with self._transaction() as db:
            now = _now()
            if conversation_id is not None and self._extends(db, conversation_id, stored, body):
                start = len(stored)
            else:
                conversation_id, start = self._new_conversation(db, now), 0
            turn_id = db.execute(
                "INSERT INTO turns (conversation_id, created_at, model, backend, host, status, finish_reason, "
                "prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    now,
                    turn.model,
                    turn.backend,
                    turn.host,
                    turn.status,
                    turn.finish_reason,
                    turn.prompt_tokens,
                    turn.completion_tokens,
                ),
            ).lastrowid
            # The turn: its user message and all that follows (tool calls and results, the answer).
            first_of_turn = next((i for i in range(len(body) - 1, -1, -1) if body[i].role == "user"), 0)
            self._insert_messages(
                db,
                conversation_id,
                body,
                start,
                now,
                lambda position: turn_id if position >= first_of_turn else None,
            )
            self._update_conversation(db, conversation_id, system, body, turn.model, now)
        return conversation_id

    @staticmethod
    def _extends(
        db: sqlite3.Connection, conversation_id: str, stored: Sequence[Message], body: list[Message]
    ) -> bool:
        """Whether `body` continues the library conversation, which must still hold exactly `stored`."""
        if body[: len(stored)] != list(stored):
            return False
        count, exists = db.execute(
            "SELECT (SELECT count(*) FROM messages WHERE conversation_id = ?1), "
            "EXISTS (SELECT 1 FROM conversations WHERE id = ?1)",
            (conversation_id,),
        ).fetchone()
        return bool(exists) and count == len(stored)

    def add_conversation(self, conversation: Conversation) -> str:
        """Store a whole conversation (an import) as a new library conversation; return its id."""
        system, body = split_system(conversation)
        with self._transaction() as db:
            now = _now()
            conversation_id = self._new_conversation(db, now)
            self._insert_messages(db, conversation_id, body, 0, now, lambda position: None)
            self._update_conversation(db, conversation_id, system, body, conversation.model, now)
        return conversation_id

    def delete(self, conversation_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    @staticmethod
    def _new_conversation(db: sqlite3.Connection, now: str) -> str:
        while True:
            conversation_id = os.urandom(ID_BYTES).hex()
            cursor = db.execute(
                "INSERT OR IGNORE INTO conversations (id, created_at, updated_at, title) VALUES (?, ?, ?, '')",
                (conversation_id, now, now),
            )
            if cursor.rowcount == 1:
                return conversation_id

    @staticmethod
    def _insert_messages(
        db: sqlite3.Connection,
        conversation_id: str,
        body: Sequence[Message],
        start: int,
        now: str,
        turn_of: Callable[[int], int | None],
    ) -> None:
        db.executemany(
            "INSERT INTO messages (conversation_id, position, turn_id, created_at, role, text, content, status, "
            "extra, reasoning) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    conversation_id,
                    position,
                    turn_of(position),
                    now,
                    message.role,
                    message.text,
                    None
                    if isinstance(message.content, str)
                    else json.dumps(message.content, ensure_ascii=False),
                    message.status,
                    json.dumps(dict(message.extra), ensure_ascii=False) if message.extra else None,
                    message.reasoning,
                )
                for position, message in enumerate(body[start:], start)
            ],
        )

    def _update_conversation(
        self,
        db: sqlite3.Connection,
        conversation_id: str,
        system: str | None,
        body: Sequence[Message],
        model: str | None,
        now: str,
    ) -> None:
        db.execute(
            "UPDATE conversations SET updated_at = ?, title = ?, model = coalesce(?, model), system = ?, turns = ? "
            "WHERE id = ?",
            (
                now,
                title_of(body, self._content_text),
                model,
                system,
                sum(message.role == "user" for message in body),
                conversation_id,
            ),
        )

    # Reading

    def resolve(self, reference: str) -> str:
        """The full id of the conversation that `reference` (an id or a unique prefix of one, or LATEST) names."""
        with self._errors():
            if reference == LATEST:
                row = self._db.execute(
                    "SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    raise UsageError("there is no conversation to continue yet; the library is empty")
                return str(row[0])
            prefix = reference.strip().lower()
            if not prefix or any(char not in "0123456789abcdef" for char in prefix):
                raise UsageError(f"{reference!r} is not a conversation id; `chatcli history list` shows them")
            rows = self._db.execute(
                "SELECT id FROM conversations WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
                (prefix, prefix + "g"),
            ).fetchall()
        if not rows:
            raise UsageError(f"no conversation {prefix} in the library; `chatcli history list` shows them")
        if len(rows) > 1:
            raise UsageError(f"conversation id {prefix} is ambiguous; type more of it")
        return str(rows[0][0])

    def summary(self, conversation_id: str) -> Summary:
        with self._errors():
            row = self._db.execute(
                "SELECT id, created_at, updated_at, model, turns, title FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
        if row is None:
            raise UsageError(f"no conversation {conversation_id} in the library")
        from chatcli.storage.library_rows import Summary

        return Summary(*row)

    def summaries(self, limit: int, model: str | None = None) -> list[Summary]:
        """The most recently updated conversations first."""
        where, parameters = ("WHERE model = ?", [model]) if model is not None else ("", [])
        with self._errors():
            rows = self._db.execute(
                "SELECT id, created_at, updated_at, model, turns, title FROM conversations "
                f"{where} ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                [*parameters, limit],
            ).fetchall()
        from chatcli.storage.library_rows import Summary

        return [Summary(*row) for row in rows]

    def load(self, conversation_id: str) -> Conversation:
        with self._errors():
            row = self._db.execute(
                "SELECT model, system FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise UsageError(f"no conversation {conversation_id} in the library")
            rows = self._db.execute(
                "SELECT role, text, content, status, extra, reasoning FROM messages WHERE conversation_id = ? "
                "ORDER BY position",
                (conversation_id,),
            ).fetchall()
        try:
            messages = [
                Message(
                    role,
                    text if content is None else json.loads(content),
                    status,
                    json.loads(extra or "{}"),
                    reasoning,
                )
                for role, text, content, status, extra, reasoning in rows
            ]
        except ValueError:
            raise HistoryError(f"{self.path}: conversation {conversation_id} is damaged (bad JSON)") from None
        conversation = Conversation(messages, row[0])
        conversation.set_system(row[1])
        return conversation

    def usage(self, conversation_id: str | None = None) -> list[UsageRow]:
        """Turns and tokens per model and local day: of one conversation, or (None) of the whole library."""
        where, parameters = ("WHERE conversation_id = ?", [conversation_id]) if conversation_id else ("", [])
        with self._errors():
            rows = self._db.execute(
                "SELECT model, date(created_at, 'localtime') AS day, count(*), coalesce(sum(prompt_tokens), 0), "
                f"coalesce(sum(completion_tokens), 0) FROM turns {where} GROUP BY model, day ORDER BY day, model",
                parameters,
            ).fetchall()
        from chatcli.storage.library_rows import UsageRow

        return [UsageRow(*row) for row in rows]

    def search(self, query: str, limit: int, marks: tuple[str, str] = ("", "")) -> list[Hit]:
        """Messages matching every word of `query`, the most recent first."""
        match = _match_query(query)
        # The FTS table yields its rowids newest first without sorting, so a common word costs no more than a rare one.
        with self._errors():
            rows = self._db.execute(
                "SELECT m.conversation_id, m.created_at, m.role, c.title, hit.snippet, "
                "CASE WHEN m.role = 'user' AND m.text LIKE ? THEN m.text END FROM "
                "(SELECT rowid, snippet(messages_fts, 0, ?, ?, '…', 16) AS snippet FROM messages_fts "
                "WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?) AS hit "
                "JOIN messages AS m ON m.id = hit.rowid JOIN conversations AS c ON c.id = m.conversation_id "
                "ORDER BY hit.rowid DESC",
                (ATTACHED_START + "%", *marks, match, limit),
            ).fetchall()
        from chatcli.storage.library_rows import Hit

        return [
            Hit(cid, created, role, title, (typed_snippet(text, query, marks) if text else None) or snippet)
            for cid, created, role, title, snippet, text in rows
        ]


def _describe(error: sqlite3.Error) -> str:
    message = str(error)
    if "not a database" in message or "malformed" in message:
        return f"damaged, not a library ({message}); move the file away and chatcli starts a new one"
    if "locked" in message or "busy" in message:
        return "the library is locked by another program; try again"
    if "readonly" in message or "unable to open" in message:
        return f"cannot write to the library ({message}); check the file's permissions"
    return f"library error ({message})"


def is_conversation_id(text: str) -> bool:
    """Whether `text` could name a library conversation: 4 to 12 hex digits."""
    return 4 <= len(text) <= 2 * ID_BYTES and all(char in "0123456789abcdef" for char in text.lower())
