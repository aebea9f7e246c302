"""`-f/--file` and `/file`: text files added to the prompt under their name, folders file by file, images as
image parts; binaries of another kind and anything over its size limit are refused before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Sequence
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

_BACKTICKS = re.compile(r"`{3,}")
_FIX = "check the path"  # what an attached file that cannot be read asks the user to do


@dataclass(frozen=True, slots=True)
class Attachment:
    """One thing added to a message: a text file as a block of Markdown, or an image as a content part."""

    name: str
    size: int
    # A text file under its name (format_attachment); a folder's files, one after another.
    block: str | None = None
    image: dict[str, Any] | None = None  # an `image_url` content part
    files: int = 1


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


def read_attachment(path: Path, limits: Limits) -> Attachment:
    """A text file, an image, or a folder's text files (one after another); a UsageError naming it if refused."""
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
            media_type = image_type(file.read(HEAD_BYTES))
    except NotRegularFile as error:
        raise UsageError(f"attached file {str(path)!r} {error}; {_FIX}") from None
    except OSError:
        media_type = None  # read_text_file says why
    if media_type is not None:
        part = read_image(path, media_type, limits.max_image_bytes, limits.image_detail)
        return Attachment(str(path), path.stat().st_size, image=part)
    return text_attachment(str(path), read_text_file(path, limits.max_input_bytes))


def compose(attachments: Sequence[Attachment], text: str) -> Content:
    """The message: the text files first, then `text`; with images, a text part and then the image parts."""
    blocks = [attachment.block for attachment in attachments if attachment.block is not None]
    body = "\n\n".join([*blocks, text] if text else blocks)
    images = [attachment.image for attachment in attachments if attachment.image is not None]
    if not images:
        return body
    return [*([{"type": "text", "text": body}] if body else []), *images]


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
    paths: list[Path], limits: Limits, words: list[str], stdin_text: str | None, *, stdin_marker: bool = True
) -> Content:
    """The files first, then stdin and the prompt words as `combine_prompt` joins them; files alone will do."""
    attachments = [read_attachment(path, limits) for path in paths]
    if not attachments:
        return combine_prompt(words, stdin_text, stdin_marker=stdin_marker)
    given = (
        " ".join(word for word in words if word != STDIN_MARKER or not stdin_marker).strip()
        or (stdin_text or "").strip()
    )
    return compose(attachments, combine_prompt(words, stdin_text, stdin_marker=stdin_marker) if given else "")
