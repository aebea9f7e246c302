"""`-f/--file`: text files added to the prompt under their name; binary or oversized files refused."""

from __future__ import annotations

import re
from pathlib import Path

from chatcli.core.errors import UsageError
from chatcli.storage.files import FileTooLarge, NotRegularFile, read_regular_file
from chatcli.storage.inputs import STDIN_MARKER, combine_prompt, decode_text

_BACKTICKS = re.compile(r"`{3,}")


def read_text_file(path: Path, max_bytes: int) -> str:
    """The file's text, or a UsageError when it is missing, larger than `max_bytes`, or not UTF-8 text."""
    name = f"attached file {str(path)!r}"
    try:
        raw = read_regular_file(path, max_bytes)
    except NotRegularFile as error:
        raise UsageError(f"{name} {error}; give a file") from None
    except FileTooLarge:
        raise UsageError(
            f"{name} is larger than {max_bytes} bytes; raise --max-input-bytes to send it"
        ) from None
    except OSError as error:
        raise UsageError(f"{name} cannot be read ({error.strerror}); check the path") from None
    return decode_text(raw, name)


def format_attachment(name: str, text: str) -> str:
    """The file's name as a heading, then its text in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=2)
    fence = "`" * (longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"### {name}\n\n{fence}\n{body}{fence}"


def attach_files(paths: list[Path], max_bytes: int) -> str | None:
    """All files, read and checked before anything is sent, as one block of text (None without files)."""
    if not paths:
        return None
    return "\n\n".join(format_attachment(str(path), read_text_file(path, max_bytes)) for path in paths)


def prompt_with_files(paths: list[Path], max_bytes: int, words: list[str], stdin_text: str | None) -> str:
    """The files first, then stdin and the prompt words as `combine_prompt` joins them; files alone will do."""
    attached = attach_files(paths, max_bytes)
    if attached is None:
        return combine_prompt(words, stdin_text)
    prompt = " ".join(word for word in words if word != STDIN_MARKER)
    if not prompt.strip() and not (stdin_text or "").strip():
        return attached
    return f"{attached}\n\n{combine_prompt(words, stdin_text)}"
