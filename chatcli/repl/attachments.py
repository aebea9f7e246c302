"""What the next message carries besides the typed line: files, folders and images from /file and /paste,
and the question /edit reopened; the line above the prompt that shows them; reading the clipboard."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatcli.core.conversation import OWN_PART_KEY, Content, Message
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.session import Session
from chatcli.render.message_text import attachment_label
from chatcli.repl.screen import Screen
from chatcli.storage.attachments import (
    Attachment,
    compose,
    is_url,
    read_source,
    split_attached,
    text_attachment,
)
from chatcli.storage.images import image_from_bytes
from chatcli.storage.inputs import Limits, decode_text

CLIPBOARD_TIMEOUT = 10.0  # seconds a clipboard command may take
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TEXT_TYPES = ("text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "STRING", "TEXT")


@dataclass(slots=True)
class Draft:
    """The next message's attachments, and whether it replaces a question and all after it (/edit [N])."""

    attachments: list[Attachment] = field(default_factory=list)
    # /edit: where the question it replaces stands in the conversation's messages, and what to call it.
    edit_start: int | None = None
    edit_label: str = "the last question"
    prefill: str = ""  # put in the input line by the next prompt (/edit)
    # What /edit put back: the question's images (in `attachments` too) and its text files, which the input
    # line lists as `[file: NAME]` lines; cancelling the edit drops them all.
    reopened: list[Attachment] = field(default_factory=list)

    @property
    def editing(self) -> bool:
        return self.edit_start is not None

    def line(self) -> str | None:
        """The line above the prompt: `attached: notes.md (3 KB), photo.png (image)`, or None."""
        shown = []
        if self.editing:
            shown.append(f"editing {self.edit_label} (Enter replaces it, Ctrl-C cancels)")
        if self.attachments:
            shown.append("attached: " + labels(self.attachments))
        return " · ".join(shown) or None

    def compose(self, text: str) -> Content:
        """The message: the reopened files its `[file: NAME]` lines name, the attachments, then the text."""
        named, typed = self._named_files(text) if self.editing else ([], text)
        attachments = [*named, *self.attachments]
        return compose(attachments, typed) if attachments else typed

    def _named_files(self, text: str) -> tuple[list[Attachment], str]:
        files = {file.name: file for file in self.reopened if file.block is not None}
        lines = text.split("\n")
        named: list[Attachment] = []
        while lines and (match := FILE_LINE.fullmatch(lines[0].strip())) and match["name"] in files:
            named.append(files[match["name"]])
            lines.pop(0)
        return named, "\n".join(lines).strip()

    def reopen(
        self,
        text: str,
        files: list[Attachment],
        images: list[Attachment],
        start: int,
        label: str = "the last question",
    ) -> None:
        """/edit: `text` in the input line after a `[file: NAME]` line per file, the images attached again;
        sending it replaces the conversation's messages from `start` on (`label` says which question that is)."""
        earlier = {id(part) for part in self.reopened}
        self.attachments = [a for a in self.attachments if id(a) not in earlier]  # once, if /edit is repeated
        self.attachments += images
        self.reopened = [*files, *images]
        self.prefill = "\n".join([*(f"[file: {file.name}]" for file in files), *([text] if text else [])])
        self.edit_start, self.edit_label = start, label

    def cancel_edit(self) -> bool:
        """Ctrl-C while editing: the edit and what it put back are dropped; False when there was no edit."""
        if not self.editing:
            return False
        reopened = {id(part) for part in self.reopened}
        self.attachments = [a for a in self.attachments if id(a) not in reopened]
        self.reopened = []
        self.edit_start = None
        return True

    def sent(self) -> None:
        """The message got its answer: what it carried goes."""
        self.attachments.clear()
        self.reopened = []
        self.edit_start = None

    def take_prefill(self) -> str:
        text, self.prefill = self.prefill, ""
        return text


FILE_LINE = re.compile(r"\[file: (?P<name>[^\]\n]+)\]")


def labels(attachments: Sequence[Attachment]) -> str:
    """The attachments as the chat lists them: `notes.md (3 KB), photo.png (image)`."""
    return ", ".join(
        attachment_label(a.name, a.size, files=a.files, image=a.image is not None, part=a.document)
        for a in attachments
    )


def send(session: Session, draft: Draft, text: str, ask: Callable[[Content], bool]) -> None:
    """Send `text` with the draft's attachments through `ask` (True: the turn was committed); while editing,
    in place of the question edited and all after it (as /retry: they come back when no answer does). Once an
    answer is in, the draft is emptied. The library keeps what was replaced (storage.recorder)."""
    conversation = session.conversation
    start = draft.edit_start if draft.edit_start is not None else len(conversation.messages)
    removed = conversation.messages[start:]
    del conversation.messages[start:]
    committed = False
    try:
        committed = ask(draft.compose(text))
    finally:
        if not committed:
            conversation.messages += removed
        else:
            draft.sent()


class InputCommands:
    """/file, /paste and /edit; /file URL fetches the page through `fetch` (cli.wiring.page_fetcher)."""

    def __init__(
        self,
        session: Session,
        screen: Screen,
        draft: Draft,
        limits: Limits,
        environ: Mapping[str, str],
        fetch: Callable[[str], Attachment] | None = None,
    ) -> None:
        self._session = session
        self._screen = screen
        self._draft = draft
        self._limits = limits
        self._environ = environ
        self._fetch = fetch or _no_fetching

    def file(self, argument: str) -> bool:
        draft = self._draft
        if argument == "-":
            draft.attachments.clear()
            self._screen.notice("attachments cleared")
            return True
        if not argument:
            if draft.attachments:
                self._screen.notice("attached: " + labels(draft.attachments))
            else:
                self._screen.notice("nothing attached; /file PATH attaches a file, a folder or an image")
            return True
        try:
            sources = shlex.split(argument)
        except ValueError as error:
            self._screen.warn(f"/file: {error}; quote paths with spaces")
            return True
        try:
            added = [self._read(source) for source in sources]
        except ChatError as error:
            self._screen.warn(f"{error}; nothing attached")
            return True
        except KeyboardInterrupt:
            self._screen.warn("fetching stopped (Ctrl-C); nothing attached")
            return True
        for attachment in added:
            if attachment.notice is not None:
                self._screen.notice(attachment.notice)
        self._attach(added)
        return True

    def _read(self, source: str) -> Attachment:
        if is_url(source):
            self._screen.notice(f"fetching {source}…")
        return read_source(source, self._limits, self._fetch)

    def paste(self, _: str) -> bool:
        clipboard = find_clipboard(self._environ)
        if isinstance(clipboard, str):
            self._screen.warn(f"/paste: {clipboard}")
            return True
        try:
            attachment = clipboard.paste(self._limits)
        except UsageError as error:
            self._screen.warn(f"/paste: {error}")
            return True
        self._attach([attachment])
        return True

    def edit(self, argument: str) -> bool:
        """/edit: the last question back in the input line; /edit N: question N (numbered as `chatcli history
        show` numbers messages, the system prompt aside)."""
        conversation = self._session.conversation
        last = conversation.last_exchange_start()
        if last is None:
            self._screen.notice("nothing to edit yet")
            return True
        start = question_index(conversation.messages, argument) if argument else last
        if isinstance(start, str):
            self._screen.warn(start)
            return True
        question = conversation.messages[start]
        content = question.content
        files, typed = split_attached(question.text)
        images = [part for part in content if part.get("type") != "text"] if isinstance(content, list) else []
        label = "the last question" if start == last else f"message {argument}"
        self._draft.reopen(typed, files, [_reattached(part) for part in images], start, label)
        return True

    def _attach(self, added: list[Attachment]) -> None:
        # No notice: the line above the next prompt lists every attachment (a notice said it twice).
        self._draft.attachments += added


def question_index(messages: Sequence[Message], number: str) -> int | str:
    """Where user message `number` (counted as `history show` counts, the system prompt aside) stands in
    `messages`, or why there is none."""
    offset = 1 if messages and messages[0].role == "system" else 0
    questions = [str(index + 1 - offset) for index, m in enumerate(messages) if m.role == "user"]
    if number in questions:
        return int(number) - 1 + offset
    return f"/edit takes the number of a question: {', '.join(questions)} (from 1, the system prompt aside, as `chatcli history show` numbers them)"


def _reattached(part: dict[str, Any]) -> Attachment:
    own = part.get(OWN_PART_KEY)
    name = own.get("name") if isinstance(own, dict) else None
    if part.get("type") == "file":
        return Attachment(name if isinstance(name, str) else "document", 0, document=part)
    return Attachment(name if isinstance(name, str) else "image", 0, image=part)


def _no_fetching(url: str) -> Attachment:
    raise UsageError(f"{url}: web pages cannot be fetched here")


# -- the clipboard ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clipboard:
    """A clipboard command: `list_types` prints the offered types one per line (None: text only), `read`
    followed by a type prints that content."""

    list_types: list[str] | None
    read: list[str]
    environ: Mapping[str, str]

    def paste(self, limits: Limits) -> Attachment:
        offered = (
            self._run(self.list_types, 64 * 1024).decode("utf-8", "replace").split()
            if self.list_types
            else []
        )
        image_type = next((kind for kind in IMAGE_TYPES if kind in offered), None)
        if image_type is not None:
            raw = self._run([*self.read, image_type], limits.max_image_bytes)
            extension = image_type.split("/")[1].replace("jpeg", "jpg")
            name = f"clipboard.{extension}"
            return Attachment(
                name, len(raw), image=image_from_bytes(raw, name, limits.max_image_bytes, limits.image_detail)
            )
        text_type = next((kind for kind in TEXT_TYPES if kind in offered), None)
        if self.list_types is not None and text_type is None:
            raise UsageError("the clipboard holds neither text nor a PNG, JPEG, GIF or WebP image")
        raw = self._run([*self.read, text_type] if text_type else self.read, limits.max_input_bytes)
        text = decode_text(raw, "the clipboard's text")
        if not text.strip():
            raise UsageError("the clipboard is empty")
        return text_attachment("clipboard", text)

    def _run(self, argv: list[str], max_bytes: int) -> bytes:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CLIPBOARD_TIMEOUT,
                env=dict(self.environ),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UsageError(f"{argv[0]} did not answer within {CLIPBOARD_TIMEOUT:g} s") from None
        except OSError as error:
            raise UsageError(f"cannot run {argv[0]} ({error.strerror})") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise UsageError(
                f"{argv[0]} failed ({reason[0][:120] if reason else f'status {done.returncode}'})"
            )
        if len(done.stdout) > max_bytes:
            raise UsageError(f"the clipboard holds more than {max_bytes} bytes")
        return done.stdout


def find_clipboard(environ: Mapping[str, str]) -> Clipboard | str:
    """The platform's clipboard command, or why there is none."""
    path = environ.get("PATH", os.defpath)

    def found(name: str) -> str | None:
        return shutil.which(name, path=path)

    if sys.platform == "darwin":
        pbpaste = found("pbpaste")
        return Clipboard(None, [pbpaste], environ) if pbpaste else "pbpaste was not found on PATH"
    if environ.get("WAYLAND_DISPLAY") and (wl_paste := found("wl-paste")):
        return Clipboard([wl_paste, "--list-types"], [wl_paste, "--no-newline", "--type"], environ)
    if environ.get("DISPLAY") and (xclip := found("xclip")):
        board = [xclip, "-selection", "clipboard", "-o"]
        return Clipboard([*board, "-t", "TARGETS"], [*board, "-t"], environ)
    if not environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return "no clipboard here: no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)"
    return "no clipboard tool found; install wl-clipboard (Wayland) or xclip (X11)"
