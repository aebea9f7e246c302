"""Conversation files: versioned JSON, validated on load, written atomically and privately."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatcli.core.conversation import ROLES, Conversation, Message
from chatcli.core.errors import BadFileError, HistoryError
from chatcli.core.session import Session
from chatcli.core.turn import TurnResult
from chatcli.storage.files import (
    NotRegularFile,
    check_regular_or_absent,
    read_user_file,
    write_atomic,
)

FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024 * 1024  # room for a dozen 20 MiB images as base64
_KNOWN_FIELDS = frozenset({"role", "content", "status", "reasoning"})  # of a message
_FILE_FIELDS = frozenset({"version", "model", "messages"})


class NotAFileError(BadFileError):
    """The path is a pipe, a device, a socket or a directory: never read or written (exit 2)."""


def parse_conversation(data: Any, source: str) -> Conversation:
    """Validate decoded JSON: a version-1 conversation object or a bare list of messages."""
    model = None
    extra: dict[str, Any] = {}
    if isinstance(data, dict):
        extra = {key: value for key, value in data.items() if key not in _FILE_FIELDS}
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BadFileError(f'{source}: not a chatcli conversation (no "version" number)')
        if version > FORMAT_VERSION:
            raise BadFileError(
                f"{source}: written by a newer chatcli (format version {version}); upgrade chatcli"
            )
        if version < 1:
            raise BadFileError(f"{source}: unknown format version {version}")
        model = data.get("model")
        if model is not None and not isinstance(model, str):
            raise BadFileError(f'{source}: "model" must be a string')
        data = data.get("messages")
        if data is None:
            raise BadFileError(f'{source}: no "messages" list')
    if not isinstance(data, list):
        raise BadFileError(f"{source}: expected a conversation object or a list of messages")
    return Conversation(
        [_parse_message(item, index, source) for index, item in enumerate(data)], model, extra
    )


def _parse_message(item: Any, index: int, source: str) -> Message:
    where = f"{source}: message {index + 1}"
    if not isinstance(item, dict):
        raise BadFileError(f"{where} is not an object")
    role = item.get("role")
    if role not in ROLES:
        raise BadFileError(f"{where} has role {role!r}; expected one of {', '.join(sorted(ROLES))}")
    content = item.get("content")
    problem = _content_problem(role, content) or _tool_fields_problem(role, item)
    for name in ("status", "reasoning", "name"):
        if item.get(name) is not None and not isinstance(item[name], str):
            problem = problem or f"{name} must be a string"
    if problem is not None:
        raise BadFileError(f"{where}: {problem}")
    extra = {key: value for key, value in item.items() if key not in _KNOWN_FIELDS}
    return Message(role, content, item.get("status"), extra, item.get("reasoning") or None)


def _content_problem(role: str, content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return None
    if not isinstance(content, list):
        return "content must be a string or a list of parts"
    if not all(isinstance(part, dict) and isinstance(part.get("type"), str) for part in content):
        return 'content parts must be objects with a "type"'
    if role != "user" and any(part["type"] != "text" for part in content):
        return f"{role} messages take text content parts only"
    return None


def _tool_fields_problem(role: str, item: dict[str, Any]) -> str | None:
    """What is wrong with the message's tool calls (an assistant's) or the call it answers (a tool's)."""
    calls, call_id = item.get("tool_calls"), item.get("tool_call_id")
    if role == "tool" and not isinstance(call_id, str):
        return "tool messages need a tool_call_id string"
    if role != "tool" and call_id is not None:
        return f"{role} messages have no tool_call_id"
    if calls is None:
        return None
    if role != "assistant":
        return f"{role} messages have no tool_calls"
    if not isinstance(calls, list) or not all(_is_tool_call(call) for call in calls):
        return 'tool_calls must be a list of {"id", "type": "function", "function": {"name", "arguments"}} objects'
    return None


def _is_tool_call(call: Any) -> bool:
    function = call.get("function") if isinstance(call, dict) else None
    return (
        isinstance(function, dict)
        and isinstance(call.get("id"), str)
        and call.get("type", "function") == "function"
        and isinstance(function.get("name"), str)
        and isinstance(function.get("arguments"), str)
    )


def conversation_to_json(conversation: Conversation) -> dict[str, Any]:
    messages = []
    for message in conversation.messages:
        item = {**message.extra, "role": message.role, "content": message.content}
        if message.status:
            item["status"] = message.status
        if message.reasoning:
            item["reasoning"] = message.reasoning
        messages.append(item)
    return {
        **conversation.extra,
        "version": FORMAT_VERSION,
        "model": conversation.model,
        "messages": messages,
    }


def decode_conversation(raw: bytes, source: str) -> Conversation:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BadFileError(f"{source}: starts with a byte-order mark; save it as UTF-8 without BOM")
    if not raw.strip():
        raise BadFileError(f"{source}: file is empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadFileError(f"{source}: not UTF-8 (bad byte at offset {error.start})") from None
    except json.JSONDecodeError as error:
        raise BadFileError(f"{source}: invalid JSON at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise BadFileError(f"{source}: JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(raw) and not _encodable(data):
        raise BadFileError(f"{source}: holds a lone surrogate escape (\\ud800 to \\udfff), which is not text")
    return parse_conversation(data, source)


class NotOurFileError(HistoryError):
    """Saving would overwrite a file that this session did not load or write (`changed`: it did, but the
    file changed since); the message suits `--save`, other commands say what fits them."""

    def __init__(self, message: str, path: Path, *, changed: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.changed = changed


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # cheap pre-check; pairs of them are fine


def _encodable(data: Any) -> bool:
    """Whether every string in `data` can be written out as UTF-8 (a lone surrogate cannot)."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


class ConversationFile:
    """A conversation file on disk that remembers the digest of what we last read or wrote there,
    so a change made by another session is never silently overwritten (content, not mtime: two writes
    within one timestamp tick of the file system would look the same)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: bytes | None = None  # sha256 of the file as we last read or wrote it

    def load(self) -> Conversation:
        raw = self._read()
        if raw is None:
            raise BadFileError(f"{self.path}: no such file")
        conversation = decode_conversation(raw, str(self.path))
        self._seen = hashlib.sha256(raw).digest()
        return conversation

    def check_writable(self) -> None:
        """Refuse when saving would overwrite a file we did not load or write ourselves, as it is now."""
        try:
            check_regular_or_absent(self.path)
        except NotRegularFile as error:
            raise NotAFileError(f"{self.path}: {error}; save to a file") from None
        except OSError:
            pass  # reading it, below, says what is wrong
        try:
            current = self._read()
        except BadFileError as error:
            raise HistoryError(f"{error}; not overwritten") from None
        if current is None:
            if not self.path.parent.is_dir():
                raise BadFileError(
                    f"{self.path}: directory {self.path.parent} does not exist; create it or save elsewhere"
                )
            return
        if hashlib.sha256(current).digest() == self._seen:
            return
        if self._seen is None:
            raise NotOurFileError(
                f"{self.path}: exists and is not the loaded conversation; "
                "load it with --load to continue it, or save to a new file",
                self.path,
            )
        raise NotOurFileError(
            f"{self.path}: changed by another program since it was loaded or saved; not overwritten "
            "(save to another file)",
            self.path,
            changed=True,
        )

    def claim(self) -> None:
        """Take the file as it is now for one this session wrote, so saving replaces it (`ask -o FILE --force`)."""
        current = self._read()
        self._seen = None if current is None else hashlib.sha256(current).digest()

    def save(self, conversation: Conversation, *, overwrite: bool = False) -> None:
        """Write `conversation` here; `overwrite` replaces a file we did not load or write (`--force`)."""
        try:
            self.check_writable()
        except NotOurFileError:
            if not overwrite:
                raise
        data = (json.dumps(conversation_to_json(conversation), ensure_ascii=False, indent=2) + "\n").encode()
        try:
            write_atomic(self.path, data)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            kept = "the old file is unchanged" if self.path.exists() else "nothing was written"
            raise HistoryError(f"{self.path}: cannot save ({reason}); {kept}") from None
        self._seen = hashlib.sha256(data).digest()

    def _read(self) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        try:
            self.path.stat()
        except FileNotFoundError:
            return None
        except OSError:
            pass  # reading it says what is wrong
        what = f"{self.path}:"
        return read_user_file(
            self.path, MAX_FILE_BYTES, what, fix="give a conversation file", error=BadFileError
        )


class Autosave:
    """The turn observer that saves the conversation to `file` after every committed turn (none: off).

    With `warn`, a failed save is one warning and the conversation stays in memory (the REPL); without it,
    the HistoryError reaches the caller (`ask`, which exits 1).
    """

    def __init__(
        self, file: ConversationFile | None = None, warn: Callable[[str], None] | None = None
    ) -> None:
        self.file = file
        self._warn = warn

    def turn_committed(self, session: Session, result: TurnResult) -> None:
        self.save(session.conversation)

    def save(self, conversation: Conversation) -> None:
        """Save now, if saving is on."""
        if self.file is None:
            return
        try:
            self.file.save(conversation)
        except HistoryError as error:
            if self._warn is None:
                raise
            self._warn(f"not saved: {error}")
