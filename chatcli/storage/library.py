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
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from chatcli.core.conversation import Content, Conversation, Message
from chatcli.core.errors import HistoryError, UsageError
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
    # A name the user gave (unique, whatever its case), and where a conversation came from: the conversation it
    # was made from (no foreign key: `history rm` of the origin leaves the record), how many of its messages
    # it took (as `history show` numbers them), and how (ORIGIN_KINDS).
    (
        "ALTER TABLE conversations ADD COLUMN name TEXT COLLATE NOCASE",
        "CREATE UNIQUE INDEX conversations_name ON conversations (name) WHERE name IS NOT NULL",
        "ALTER TABLE conversations ADD COLUMN origin_id TEXT",
        "ALTER TABLE conversations ADD COLUMN origin_messages INTEGER",
        "ALTER TABLE conversations ADD COLUMN origin_kind TEXT",
        "CREATE INDEX conversations_origin ON conversations (origin_id)",
    ),
    # Of a turn's prompt tokens, those read from the provider's prompt cache and written to it (priced apart);
    # of its completion tokens, the reasoning ones, where the server said (NULL where it did not).
    (
        "ALTER TABLE turns ADD COLUMN cache_read_tokens INTEGER",
        "ALTER TABLE turns ADD COLUMN cache_write_tokens INTEGER",
        "ALTER TABLE turns ADD COLUMN reasoning_tokens INTEGER",
    ),
)
NAME_CHARS = 64
ORIGIN_KINDS = ("forked", "edited", "compacted")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a conversation came from: `messages` messages of conversation `conversation_id` (numbered as
    `history show` numbers them, the system prompt not counted), taken as `kind` says (one of ORIGIN_KINDS):
    forked (`/fork`, `history fork`), edited (a turn sent after `/edit`, `/retry` or `/undo`), compacted."""

    conversation_id: str
    messages: int
    kind: str


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
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


def check_name(name: str) -> str:
    """`name` as a conversation's name (surrounding spaces dropped), or a UsageError saying why it cannot be one."""
    name = name.strip()
    if not name:
        raise UsageError("a conversation name cannot be empty")
    if len(name) > NAME_CHARS:
        raise UsageError(f"a conversation name has at most {NAME_CHARS} characters")
    if not name.isprintable():
        raise UsageError("a conversation name cannot hold control characters")
    if all(char in "0123456789abcdefABCDEF" for char in name):
        raise UsageError(
            f"{name!r} could be taken for a conversation id; a name needs a letter past f or a symbol"
        )
    if name == LATEST:
        raise UsageError(f"{LATEST!r} means the most recent conversation; choose another name")
    return name


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
            if text.startswith(ATTACHED_START):  # attachments (and what reads them) only when there are some
                from chatcli.storage.attachments import split_attached

                files, text = split_attached(text)
                text = text or " ".join(f"[file: {file.name}]" for file in files)
            return " ".join(text.split())[:TITLE_CHARS]
    return ""


ATTACHED_START = "### "  # how a message with attached files begins (storage.attachments.format_attachment)
SNIPPET_WORDS = 16  # as many as FTS5's snippet() gives


def typed_snippet(text: str, query: str, marks: tuple[str, str]) -> str | None:
    """A search hit's snippet for a message with attached files (None without): the prompt as typed, each file
    as `[file: NAME]` (FTS5's snippet could show a file's content instead); the words that begin with a query
    word between `marks`, as FTS5 marks its matches (its stemming, approximately)."""
    if not text.startswith(ATTACHED_START):
        return None
    from chatcli.storage.attachments import split_attached, typed_text

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
        name: str | None = None,
    ) -> str:
        """Record the turn that just ended `conversation` (its last two messages) and return the conversation id.

        `stored` is what we believe the library holds for `conversation_id`. When the conversation still extends
        it, only the new messages are appended; otherwise (an undo, a retry, an edit, another process that
        appended to the same conversation, a deleted conversation) the whole conversation becomes a new library
        conversation, edited from the old one (its Origin), so no recorded turn is ever rewritten or lost; the
        old one's name goes with it, as the user goes on in the new one. `name` names a new conversation.
        """
        system, body = split_system(conversation)
        with self._transaction() as db:
            now = _now()
            if conversation_id is not None and self._extends(db, conversation_id, stored, body):
                start = len(stored)
            else:
                origin = self._edit_origin(db, conversation_id, stored, body)
                conversation_id, start = self._new_conversation(db, now, origin), 0
                if origin is not None:
                    self._move_name(db, origin.conversation_id, conversation_id)
                if name is not None:  # unless another conversation took it meanwhile: the turn matters more
                    db.execute(
                        "UPDATE conversations SET name = ?1 WHERE id = ?2 "
                        "AND NOT EXISTS (SELECT 1 FROM conversations WHERE name = ?1)",
                        (name, conversation_id),
                    )
            turn_id = db.execute(
                "INSERT INTO turns (conversation_id, created_at, model, backend, host, status, finish_reason, "
                "prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    turn.cache_read_tokens,
                    turn.cache_write_tokens,
                    turn.reasoning_tokens,
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

    @staticmethod
    def _edit_origin(
        db: sqlite3.Connection, conversation_id: str | None, stored: Sequence[Message], body: list[Message]
    ) -> Origin | None:
        """What a conversation that no longer extends library conversation `conversation_id` was edited from:
        the messages it still shares with what was stored (None: no such conversation, or nothing shared)."""
        if conversation_id is None:
            return None
        exists = db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        shared = next(
            (index for index, (old, new) in enumerate(zip(stored, body, strict=False)) if old != new),
            min(len(stored), len(body)),
        )
        return Origin(conversation_id, shared, "edited") if exists and shared else None

    @staticmethod
    def _move_name(db: sqlite3.Connection, from_id: str, to_id: str) -> None:
        name = db.execute("SELECT name FROM conversations WHERE id = ?", (from_id,)).fetchone()
        if name is not None and name[0] is not None:
            db.execute("UPDATE conversations SET name = NULL WHERE id = ?", (from_id,))
            db.execute("UPDATE conversations SET name = ? WHERE id = ?", (name[0], to_id))

    @staticmethod
    def _set_name(db: sqlite3.Connection, conversation_id: str, name: str | None) -> None:
        taken = db.execute(
            "SELECT id FROM conversations WHERE name = ? AND id != ?", (name, conversation_id)
        ).fetchone()
        if taken is not None:
            raise UsageError(f"the name {name!r} is taken by conversation {taken[0]}; choose another")
        db.execute("UPDATE conversations SET name = ? WHERE id = ?", (name, conversation_id))

    def rename(self, conversation_id: str, name: str | None) -> None:
        """Name conversation `conversation_id` (a name checked by check_name), or (None) drop its name."""
        with self._transaction() as db:
            self._set_name(db, conversation_id, name)

    def name_free(self, name: str) -> None:
        """Raise a UsageError when a conversation already has `name` (`--name` checks before a request is spent)."""
        with self._errors():
            taken = self._db.execute("SELECT id FROM conversations WHERE name = ?", (name,)).fetchone()
        if taken is not None:
            raise UsageError(f"the name {name!r} is taken by conversation {taken[0]}; choose another")

    def fork(self, conversation_id: str, count: int | None = None, name: str | None = None) -> str:
        """A new conversation of the first `count` messages of `conversation_id` (None: all of them), forked
        from it; return its id. The original stays as it is."""
        conversation = self.load(conversation_id)
        system, body = split_system(conversation)
        count = len(body) if count is None else count
        if not 1 <= count <= len(body):
            raise UsageError(
                f"conversation {conversation_id} has {len(body)} messages; fork takes 1 to {len(body)}"
            )
        kept = body[:count]
        with self._transaction() as db:
            now = _now()
            new_id = self._new_conversation(db, now, Origin(conversation_id, count, "forked"))
            if name is not None:
                self._set_name(db, new_id, name)
            self._insert_messages(db, new_id, kept, 0, now, lambda position: None)
            self._update_conversation(db, new_id, system, kept, conversation.model, now)
        return new_id

    def find_copy(self, stored: Sequence[Message]) -> str | None:
        """The most recent library conversation holding exactly the messages `stored` (the system prompt
        aside): the one a conversation file loaded again continues."""
        if not stored:
            return None
        turns = sum(message.role == "user" for message in stored)
        with self._errors():
            rows = self._db.execute(
                "SELECT c.id FROM conversations AS c WHERE c.title = ? AND c.turns = ? "
                "AND (SELECT count(*) FROM messages WHERE conversation_id = c.id) = ? "
                "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT 8",
                (title_of(stored, self._content_text), turns, len(stored)),
            ).fetchall()
        for (candidate,) in rows:
            if split_system(self.load(candidate))[1] == list(stored):
                return str(candidate)
        return None

    def add_conversation(self, conversation: Conversation, origin: Origin | None = None) -> str:
        """Store a whole conversation (an import, or a compacted one and its `origin`) as a new library
        conversation; return its id."""
        system, body = split_system(conversation)
        with self._transaction() as db:
            now = _now()
            conversation_id = self._new_conversation(db, now, origin)
            self._insert_messages(db, conversation_id, body, 0, now, lambda position: None)
            self._update_conversation(db, conversation_id, system, body, conversation.model, now)
        return conversation_id

    def delete(self, conversation_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    @staticmethod
    def _new_conversation(db: sqlite3.Connection, now: str, origin: Origin | None) -> str:
        while True:
            conversation_id = os.urandom(ID_BYTES).hex()
            cursor = db.execute(
                "INSERT OR IGNORE INTO conversations (id, created_at, updated_at, title, origin_id, "
                "origin_messages, origin_kind) VALUES (?, ?, ?, '', ?, ?, ?)",
                (
                    conversation_id,
                    now,
                    now,
                    origin.conversation_id if origin else None,
                    origin.messages if origin else None,
                    origin.kind if origin else None,
                ),
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
        """The full id of the conversation that `reference` names: its name, its id or a unique prefix of
        one, or LATEST (the most recently updated)."""
        with self._errors():
            if reference == LATEST:
                row = self._db.execute(
                    "SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    raise UsageError("there is no conversation to continue yet; the library is empty")
                return str(row[0])
            named = self._db.execute(
                "SELECT id FROM conversations WHERE name = ?", (reference.strip(),)
            ).fetchone()
            if named is not None:
                return str(named[0])
            prefix = reference.strip().lower()
            if not prefix or any(char not in "0123456789abcdef" for char in prefix):
                raise UsageError(
                    f"{reference!r} is not a conversation id, nor a conversation's name; "
                    "`chatcli history list` shows them"
                )
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
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
        if row is None:
            raise UsageError(f"no conversation {conversation_id} in the library")
        return _summary(row)

    def summaries(self, limit: int, model: str | None = None) -> list[Summary]:
        """The most recently updated conversations first."""
        where, parameters = ("WHERE model = ?", [model]) if model is not None else ("", [])
        with self._errors():
            rows = self._db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations "
                f"{where} ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                [*parameters, limit],
            ).fetchall()
        return [_summary(row) for row in rows]

    def descendants(self, conversation_ids: Sequence[str]) -> list[Summary]:
        """Every conversation made, directly or not, from one of `conversation_ids` (`history list --tree`)."""
        if not conversation_ids:
            return []
        with self._errors():
            rows = self._db.execute(
                "WITH RECURSIVE roots (id) AS (SELECT value FROM json_each(?1)), "
                "tree (id) AS (SELECT id FROM roots UNION "
                "SELECT c.id FROM conversations AS c JOIN tree ON c.origin_id = tree.id) "
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations WHERE id IN (SELECT id FROM tree) "
                "AND id NOT IN (SELECT id FROM roots) ORDER BY created_at, rowid",
                (json.dumps(list(conversation_ids)),),
            ).fetchall()
        return [_summary(row) for row in rows]

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
        sums = ", ".join(
            f"coalesce(sum({column}), 0)"
            for column in (
                "prompt_tokens",
                "completion_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "reasoning_tokens",
            )
        )
        with self._errors():
            rows = self._db.execute(
                f"SELECT model, date(created_at, 'localtime') AS day, count(*), {sums} "
                f"FROM turns {where} GROUP BY model, day ORDER BY day, model",
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


_SUMMARY_COLUMNS = (
    "id, created_at, updated_at, model, turns, title, name, origin_id, origin_messages, origin_kind"
)


def _summary(row: Any) -> Summary:
    from chatcli.storage.library_rows import Summary

    return Summary(*row)


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
