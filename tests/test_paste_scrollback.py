"""A message taller than the window stays on screen and in scrollback exactly once, with no stale toolbar."""

from __future__ import annotations

import os

import pexpect
import pyte
import pytest

from tests.conftest import CHATCLI
from tests.terminal import shown_lines

pytestmark = pytest.mark.e2e

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


class Pty:
    def __init__(self, columns: int, rows: int) -> None:
        self.screen = pyte.HistoryScreen(columns, rows, history=10_000)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            CHATCLI,
            ["-b", "echo", "--plain"],  # the answer repeats the message line for line
            env={**os.environ, "TERM": "xterm-256color"},
            dimensions=(rows, columns),
            timeout=30,
        )
        self.seen = b""
        self.answered = 0  # cursor-position requests answered

    def read_until(self, text: str) -> None:
        while text.encode() not in self.seen:
            data = self.child.read_nonblocking(65536, timeout=30)
            self.stream.feed(data)
            self.seen += data
            # Counted in all that came, not in this read: a request split across two reads is answered too
            # (unanswered, prompt_toolkit waits for it).
            for _ in range(self.seen.count(b"\x1b[6n") - self.answered):
                self.child.send(f"\x1b[{self.screen.cursor.y + 1};{self.screen.cursor.x + 1}R")
                self.answered += 1

    def finish(self) -> list[str]:
        self.child.sendcontrol("d")
        while True:
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=30))
            except pexpect.EOF:
                break
        self.child.close()
        return shown_lines(self.screen)


@pytest.mark.parametrize(("columns", "rows"), [(120, 40), (50, 12)])
def test_a_paste_taller_than_the_window_reaches_scrollback_once(columns: int, rows: int) -> None:
    if rows == 40:
        lines = [f"pasted line {n:03d}" for n in range(1, 101)]
    else:  # one long line that wraps to more rows than the window has
        lines = [" ".join(f"w{n:03d}" for n in range(1, 121))]
    pty = Pty(columns, rows)
    pty.read_until("Alt-Enter newline")
    pty.child.send(PASTE_START + "\n".join(lines) + PASTE_END)
    pty.child.send("\r")
    pty.read_until("Echo: ")
    pty.read_until("Alt-Enter newline")
    shown = "\n".join(pty.finish())
    if rows == 40:
        for line in lines:
            assert shown.count(line) == 2, line  # once as sent, once in the echo's answer
    else:
        flat = "".join(shown.split())  # rows joined: a wrapped line is whole again
        assert flat.count("w001w002w003") == 2 and flat.count("w118w119w120") == 2
    assert shown.count("Alt-Enter newline") <= 1  # no stale toolbar left behind
