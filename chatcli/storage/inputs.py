"""Reading the prompt from piped stdin: bytes decoded as UTF-8 whatever the locale, size-capped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from chatcli.core.errors import UsageError

DEFAULT_MAX_INPUT_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024
_READ_SIZE = 1 << 16
STDIN_MARKER = "-"  # a prompt word that stands for stdin


@dataclass(frozen=True, slots=True)
class Limits:
    """How much may be attached or piped, the `detail` asked of images, and whether PDFs go as documents."""

    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES  # stdin, each text file, a whole folder, a page's text
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    image_detail: str | None = None
    # The backend takes PDFs as `file` parts (backends.DOCUMENT_BACKENDS); otherwise their text is sent.
    pdf_as_document: bool = False


def read_stdin(stream: BinaryIO, max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> str:
    """Read all of `stream`, refusing more than `max_bytes`, invalid UTF-8 and NUL bytes."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_READ_SIZE):
        total += len(chunk)
        if total > max_bytes:
            raise UsageError(f"stdin is larger than {max_bytes} bytes; raise --max-input-bytes to send it")
        chunks.append(chunk)
    return decode_text(b"".join(chunks), "stdin")


def decode_text(raw: bytes, source: str) -> str:
    """`raw` as UTF-8 text (a leading BOM dropped); NUL bytes or invalid UTF-8 are refused with their offset."""
    nul = raw.find(b"\x00")
    if nul != -1:
        raise UsageError(f"{source} is binary (NUL byte at offset {nul}); only text is sent")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        raise UsageError(
            f"{source} is not valid UTF-8 (byte offset {offset}); only UTF-8 text is sent"
        ) from None


def combine_prompt(words: list[str], stdin_text: str | None, *, stdin_marker: bool = True) -> str:
    """stdin, a blank line, then the prompt words; either alone is the prompt. Empty is an error.

    With `stdin_marker` (stdin is not a terminal), a lone `-` among the words puts stdin there instead: the
    words before it, stdin, the words after it, each part a paragraph of its own. Otherwise `-` is a word."""
    stdin_part = stdin_text.rstrip("\n") if stdin_text and stdin_text.strip() else ""
    if stdin_marker and STDIN_MARKER in words:
        at = words.index(STDIN_MARKER)
        if STDIN_MARKER in words[at + 1 :]:
            raise UsageError("a lone - reads stdin into the prompt; give it once")
        parts = [" ".join(words[:at]), stdin_part, " ".join(words[at + 1 :])]
    else:
        parts = [stdin_part, " ".join(words)]
    parts = [part for part in parts if part.strip()]
    if not parts:
        raise UsageError("empty prompt; give a prompt or pipe text on stdin")
    return "\n\n".join(parts)
