"""The terminal's input mode for a while: single keys or an echoed line, the old mode restored afterwards;
a yes/no question answered by one key."""

from __future__ import annotations

import contextlib
import os
import termios
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def terminal_mode(fd: int, *, line: bool, keep_output: bool = False) -> Iterator[None]:
    """While inside, the terminal on `fd` reads an echoed line (`line`) or single keys without echo; Ctrl-C
    still interrupts. `keep_output` (NOFLSH) keeps the kernel from dropping queued output (half an escape
    sequence) on Ctrl-C. A descriptor that is no terminal is left alone."""
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        yield
        return
    mode = [*saved[:6], list(saved[6])]
    flags = termios.ICANON | termios.ECHO
    mode[3] = (saved[3] | flags if line else saved[3] & ~flags) | termios.ISIG
    if keep_output:
        mode[3] |= termios.NOFLSH
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


def ask_yes(fd: int, out: TextIO, question: str) -> bool:
    """The user's answer to a yes/no `question` on the terminal: y is yes, any other key no. Keys typed
    before the question never answer it; Ctrl-C raises KeyboardInterrupt."""
    out.write(question)
    out.flush()
    with terminal_mode(fd, line=False):
        with contextlib.suppress(termios.error):
            termios.tcflush(fd, termios.TCIFLUSH)
        key = os.read(fd, 1).decode("ascii", "replace")
    yes = key.lower() == "y"
    out.write("y\n" if yes else "n\n")
    out.flush()
    return yes
