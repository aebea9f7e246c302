"""`-f/--file` and `/file`: text files added to the prompt under their name, folders file by file, images as
image parts, PDFs as documents or their text page by page, web pages (fetched by the caller's `fetch`) under
their URL; binaries of another kind and anything over its size limit are refused before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcli.core.conversation import Content
from chatcli.core.errors import UsageError
from chatcli.storage.files import NotRegularFile, check_regular, read_user_file
from chatcli.storage.images import (
    HEAD_BYTES,
    KINDS,
    image_type,
    read_image,
)
from chatcli.storage.inputs import STDIN_MARKER, Limits, combine_prompt, decode_text
from chatcli.storage.pdfs import MAX_PDF_BYTES, is_pdf

_BACKTICKS = re.compile(r"`{3,}")
_FIX = "check the path"  # what an attached file that cannot be read asks the user to do


@dataclass(frozen=True, slots=True)
class Attachment:
    """One thing added to a message: a text file as a block of Markdown, or an image or a document as a content
    part; `notice` is a line the user should read when it is attached (a PDF sent as text, a redirected URL)."""

    name: str
    size: int
    # A text file under its name (format_attachment); a folder's files, one after another.
    block: str | None = None
    image: dict[str, Any] | None = None  # an `image_url` content part
    files: int = 1
    document: dict[str, Any] | None = None  # a `file` content part (a PDF)
    notice: str | None = None

    @property
    def part(self) -> dict[str, Any] | None:
        """The content part it adds besides the text: its image or its document."""
        return self.image if self.image is not None else self.document


def read_text_file(path: Path, max_bytes: int) -> str:
    """The file's text, or a UsageError when it is missing, larger than `max_bytes`, or not UTF-8 text."""
    name = f"attached file {str(path)!r}"
    raw = read_user_file(path, max_bytes, name, fix=_FIX, too_large="raise --max-input-bytes to send it")
    nul = raw.find(b"\x00")
    if nul != -1:
        raise UsageError(
            f"{name} is binary (NUL byte at offset {nul}) and not a {KINDS} image; "
            "only text and those images are sent"
        )
    return decode_text(raw, name)


def format_attachment(name: str, text: str) -> str:
    """The file's name as a heading, then its text in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=2)
    fence = "`" * (longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"### {name}\n\n{fence}\n{body}{fence}"


def text_attachment(name: str, text: str) -> Attachment:
    return Attachment(name, len(text.encode("utf-8")), block=format_attachment(name, text))


def is_url(source: str) -> bool:
    """A value of -f or /file that names a web page, never a path."""
    return source.startswith(("http://", "https://"))


def read_source(source: str, limits: Limits, fetch: Callable[[str], Attachment]) -> Attachment:
    """A URL through `fetch` (the layer that may go on the network), else the file or folder at that path."""
    return fetch(source) if is_url(source) else read_attachment(Path(source).expanduser(), limits)


def pdf_attachment(name: str, filename: str, raw: bytes, limits: Limits) -> Attachment:
    """A PDF as a document part when the backend takes documents, else its text page by page under
    `### NAME, page N`, with a notice that only the text was sent; no text at all is a UsageError."""
    from chatcli.storage.pdfs import NOT_SENT, document_part, open_pdf, page_texts

    label = f"PDF {name!r}"
    reader = open_pdf(raw, label)
    if limits.pdf_as_document:
        return Attachment(name, len(raw), document=document_part(raw, filename, len(reader.pages)))
    pages = page_texts(reader, label, limits.max_input_bytes)
    if not pages:
        raise UsageError(f"{label} has no text to extract (its pages may be scanned images)")
    blocks = "\n\n".join(format_attachment(f"{name}, page {number}", text) for number, text in pages)
    size = sum(len(text.encode("utf-8")) for _, text in pages)
    total = len(reader.pages)
    notice = f"{name}: sent as text ({len(pages)} of {total} pages have text); {NOT_SENT}"
    return Attachment(name, size, blocks, notice=notice)


def read_attachment(path: Path, limits: Limits) -> Attachment:
    """A text file, an image, a PDF, or a folder's text files (one after another); a UsageError naming it if
    refused."""
    if path.is_dir():
        from chatcli.storage.folders import folder_files

        found = [text_attachment(file.name, file.text) for file in folder_files(path, limits.max_input_bytes)]
        if not found:
            raise UsageError(
                f"folder {str(path)!r} holds no text file to attach (hidden, ignored and binary files are left out)"
            )
        blocks = "\n\n".join(file.block or "" for file in found)
        return Attachment(str(path), sum(file.size for file in found), blocks, files=len(found))
    try:
        check_regular(path.stat().st_mode)  # a FIFO or a device would block or never end
        with path.open("rb") as file:
            head = file.read(HEAD_BYTES)
    except NotRegularFile as error:
        raise UsageError(f"attached file {str(path)!r} {error}; {_FIX}") from None
    except OSError:
        head = b""  # read_text_file says why
    if is_pdf(head):
        name = f"PDF {str(path)!r}"
        raw = read_user_file(path, MAX_PDF_BYTES, name, fix=_FIX, too_large="chatcli sends at most that")
        return pdf_attachment(str(path), path.name, raw, limits)
    media_type = image_type(head)
    if media_type is not None:
        part = read_image(path, media_type, limits.max_image_bytes, limits.image_detail)
        return Attachment(str(path), path.stat().st_size, image=part)
    return text_attachment(str(path), read_text_file(path, limits.max_input_bytes))


def compose(attachments: Sequence[Attachment], text: str) -> Content:
    """The message: the text files first, then `text`; with images or documents, a text part and then those
    parts."""
    blocks = [attachment.block for attachment in attachments if attachment.block is not None]
    body = "\n\n".join([*blocks, text] if text else blocks)
    parts = [part for attachment in attachments if (part := attachment.part) is not None]
    if not parts:
        return body
    return [*([{"type": "text", "text": body}] if body else []), *parts]


_HEADING = re.compile(r"### (?P<name>[^\n]+)\n\n(?P<fence>`{3,})\n")


def split_attached(text: str) -> tuple[list[Attachment], str]:
    """The inverse of `compose` for text: the file blocks at the start of `text` (as `format_attachment` wrote
    them) and what follows them, the typed prompt. Each block's fence is longer than any backtick run in the
    file, so the first line of that fence closes it."""
    found: list[Attachment] = []
    rest = text
    while (heading := _HEADING.match(rest)) is not None:
        fence = heading["fence"]
        close = rest.find(f"\n{fence}", heading.end() - 1)
        end = close + 1 + len(fence)
        if close == -1 or rest[end : end + 1] not in ("", "\n"):
            break
        block = rest[:end]
        body = rest[heading.end() : close + 1]
        found.append(Attachment(heading["name"], len(body.encode("utf-8")), block=block))
        rest = rest[end + 2 :] if rest[end : end + 2] == "\n\n" else rest[end:].lstrip("\n")
    return found, rest


def typed_text(text: str) -> str:
    """A message's text as the user typed it: each attached file as a `[file: NAME]` line, not its content."""
    files, typed = split_attached(text)
    return "\n".join([*(f"[file: {file.name}]" for file in files), *([typed] if typed else [])])


def prompt_with_files(
    attachments: Sequence[Attachment], words: list[str], stdin_text: str | None, *, stdin_marker: bool = True
) -> Content:
    """The files first, then stdin and the prompt words as `combine_prompt` joins them; files alone will do."""
    if not attachments:
        return combine_prompt(words, stdin_text, stdin_marker=stdin_marker)
    given = (
        " ".join(word for word in words if word != STDIN_MARKER or not stdin_marker).strip()
        or (stdin_text or "").strip()
    )
    return compose(attachments, combine_prompt(words, stdin_text, stdin_marker=stdin_marker) if given else "")
