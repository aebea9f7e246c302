"""`-f DIR`: the text files under a folder, each under its relative path; what `.gitignore` files ignore,
hidden files and binaries are left out, and a total past the limit stops with the largest files named."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.core.errors import UsageError
from chatcli.storage.images import image_type

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

_SHOWN_LARGEST = 5
_SNIFF_BYTES = 8000


@dataclass(frozen=True, slots=True)
class FolderFile:
    path: Path
    name: str  # relative to the folder, with `/`, prefixed by the folder as given
    text: str


def folder_files(folder: Path, max_total: int) -> list[FolderFile]:
    """Every UTF-8 text file under `folder`, sorted by path; a UsageError when their total passes `max_total`."""
    candidates = [(path, size) for path, size in _walk(folder) if _looks_like_text(path)]
    total = sum(size for _, size in candidates)
    if total > max_total:
        largest = sorted(candidates, key=lambda item: item[1], reverse=True)[:_SHOWN_LARGEST]
        listed = ", ".join(f"{_relative(path, folder)} ({size} bytes)" for path, size in largest)
        raise UsageError(
            f"folder {str(folder)!r} holds {total} bytes of text files, more than {max_total}; "
            f"the largest: {listed}; leave some out with a .gitignore or raise --max-input-bytes"
        )
    prefix = folder.as_posix().rstrip("/")
    files = []
    for path, _ in candidates:
        text = _read_text(path, max_total)
        if text is not None:
            files.append(FolderFile(path, f"{prefix}/{_relative(path, folder)}", text))
    return files


def _relative(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _walk(folder: Path) -> list[tuple[Path, int]]:
    """(path, size) of every regular, visible, not ignored file under `folder`, sorted by path."""
    from pathspec import GitIgnoreSpec  # only on the path that reads folders

    found: list[tuple[Path, int]] = []
    ignored_by: list[tuple[Path, GitIgnoreSpec]] = []  # each .gitignore's folder and its patterns
    for directory, subdirectories, names in os.walk(folder):
        here = Path(directory)
        ignore_file = here / ".gitignore"
        if ignore_file.is_file():
            try:
                lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            ignored_by.append((here, GitIgnoreSpec.from_lines(lines)))
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".") and not _ignored(here / name, True, ignored_by)
        )
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or _ignored(path, False, ignored_by):
                continue
            try:
                status = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(status.st_mode):  # not a link, a FIFO or a device
                found.append((path, status.st_size))
    return sorted(found)


def _ignored(path: Path, is_dir: bool, ignored_by: list[tuple[Path, GitIgnoreSpec]]) -> bool:
    """Whether the .gitignore files above `path` ignore it; a deeper file's patterns win, as in git."""
    verdict = False
    for base, spec in ignored_by:
        try:
            relative = path.relative_to(base).as_posix()
        except ValueError:
            continue  # a sibling folder's .gitignore
        result = spec.check_file(relative + ("/" if is_dir else ""))
        if result.include is not None:
            verdict = result.include
    return verdict


def _looks_like_text(path: Path) -> bool:
    """No NUL byte in the first _SNIFF_BYTES, as git decides, and not an image: binaries are left out."""
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError:
        return False
    return b"\x00" not in head and image_type(head) is None


def _read_text(path: Path, max_bytes: int) -> str | None:
    """The file's UTF-8 text, or None for a binary file, an unreadable one or one that grew past `max_bytes`."""
    try:
        with path.open("rb") as file:
            raw = file.read(max_bytes + 1)
    except OSError:
        return None
    if len(raw) > max_bytes or b"\x00" in raw:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
