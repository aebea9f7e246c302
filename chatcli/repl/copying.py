"""What /copy takes (the last answer's Markdown source, answer N, or code block K of the last answer) and where
it goes when not to the terminal's clipboard: a file, written atomically and privately."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chatcli.core.conversation import Message
from chatcli.core.errors import UsageError
from chatcli.render.code_blocks import code_blocks
from chatcli.render.wording import plural
from chatcli.storage.files import write_atomic

COPY_USAGE = "/copy [N] [FILE] or /copy code [K] [FILE]"


@dataclass(frozen=True, slots=True)
class CopyChoice:
    """`answer`: the answer's number, from 1 (None: the last); `code`: a code block of it is meant, `block` its
    number (None: the last one); `file`: where to write it instead of the clipboard."""

    answer: int | None = None
    code: bool = False
    block: int | None = None
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Copied:
    text: str
    what: str  # "the last answer", "answer 2 of 3", "code block 1 of 2"


def parse_copy(argument: str) -> CopyChoice:
    """`/copy`'s argument: [N] [FILE] or `code` [K] [FILE]; UsageError for a number below 1."""
    text = argument.strip()
    word, rest = _first_word(text)
    code = word == "code"
    if code:
        text = rest
        word, rest = _first_word(text)
    number = None
    if word.isdigit():
        number, text = int(word), rest
        if number < 1:
            raise UsageError(f"{'code blocks' if code else 'answers'} are numbered from 1; {COPY_USAGE}")
    file = text.strip() or None
    if code:
        return CopyChoice(code=True, block=number, file=file)
    return CopyChoice(answer=number, file=file)


def _first_word(text: str) -> tuple[str, str]:
    parts = text.strip().split(maxsplit=1)
    return (parts[0] if parts else ""), (parts[1] if len(parts) > 1 else "")


def copied(choice: CopyChoice, messages: Sequence[Message]) -> Copied:
    """The text `choice` means in a conversation; UsageError (one line) when there is no such answer or block."""
    answers = [message for message in messages if message.role == "assistant"]
    if not answers:
        raise UsageError("no answer to copy from yet")
    if choice.answer is not None and choice.answer > len(answers):
        raise UsageError(f"the conversation has {plural(len(answers), 'answer')}")
    number = choice.answer or len(answers)
    answer = answers[number - 1].text
    if not choice.code:
        what = "the last answer" if choice.answer is None else f"answer {number} of {len(answers)}"
        return Copied(answer, what)
    blocks = code_blocks(answer)
    block = choice.block or len(blocks)
    if not blocks or block > len(blocks):
        raise UsageError(f"the last answer has {plural(len(blocks), 'code block')}")
    return Copied(blocks[block - 1], f"code block {block} of {len(blocks)}")


def write_copy(path: Path, text: str, *, overwrite: bool) -> None:
    """`text` into `path` (0600, atomically), ending with a newline; UsageError when `path` exists and may not
    be overwritten, or cannot be written."""
    if not overwrite and (path.exists() or path.is_symlink()):
        raise UsageError(f"{path} exists; /copy! … {path} overwrites it")
    try:
        write_atomic(path, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    except OSError as error:
        raise UsageError(f"cannot write {path} ({error.strerror or error})") from None


def described(copied_text: Copied) -> str:
    """`the last answer, 3 lines`: what was copied, and how long it is."""
    return f"{copied_text.what}, {plural(len(copied_text.text.splitlines()), 'line')}"
