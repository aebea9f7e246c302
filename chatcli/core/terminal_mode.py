"""The terminal's input mode for a while: single keys or an echoed line, the old mode restored afterwards."""

from __future__ import annotations

import contextlib
import termios
from collections.abc import Iterator


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
