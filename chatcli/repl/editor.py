"""Composing text in the user's editor ($VISUAL, then $EDITOR, then vi) on a private temporary file."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from chatcli.core.errors import UsageError

FALLBACK_EDITOR = "vi"


class EditCancelled(UsageError):
    """The editor exited with an error, or left the text empty: nothing changes, nothing is sent."""


def editor_command(environ: Mapping[str, str]) -> list[str]:
    """$VISUAL, else $EDITOR (either may hold arguments: `code --wait`), else vi."""
    for name in ("VISUAL", "EDITOR"):
        value = environ.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError:
                raise UsageError(f"{name} cannot be split into words; check its quotes") from None
            if words:
                return words
    return [FALLBACK_EDITOR]


def open_terminal() -> int:
    """A file descriptor on the controlling terminal, for an editor when stdin or stdout is redirected."""
    try:
        return os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise UsageError("the editor needs a terminal, and there is none") from None


def edit_text(initial: str, environ: Mapping[str, str], terminal: int | None = None) -> str:
    """The text the user saves after editing `initial` (without the final newline editors add).

    The editor runs on a 0600 file in a 0700 temporary directory, removed afterwards; `terminal` is a file
    descriptor for its stdin, stdout and stderr when the process's own are not the terminal.
    Raises EditCancelled when the editor exits non-zero or leaves only whitespace."""
    argv = editor_command(environ)
    with tempfile.TemporaryDirectory(prefix="chatcli-") as directory:
        path = Path(directory) / "prompt.md"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(initial)
        try:
            done = subprocess.run(
                [*argv, str(path)],
                env=dict(environ),
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                check=False,
            )
        except OSError as error:
            raise UsageError(
                f"cannot start the editor {argv[0]!r} ({error.strerror}); set VISUAL or EDITOR"
            ) from None
        if done.returncode != 0:
            raise EditCancelled(f"the editor ({argv[0]}) exited with status {done.returncode}")
        text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise EditCancelled("the editor left the text empty")
    return text.removesuffix("\n")
