"""Terminals for the tests: what a pyte terminal emulator shows, scrollback included; the installed chatcli
on a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from typing import Any

import pexpect
import pyte
from rich.console import Console

from chatcli.render.markdown import ChatMarkdown
from tests.conftest import CHATCLI, require_e2e


class Terminal:
    """A terminal emulator with scrollback (pyte). `feed` takes what a program wrote; bytes that came through
    a pseudo-terminal (newlines already CR LF) go to `stream.feed`."""

    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.screen = pyte.HistoryScreen(width, height, history=100_000)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, output: str) -> None:
        self.stream.feed(output.replace("\n", "\r\n").encode())  # what the tty's ONLCR does

    def lines(self) -> list[str]:
        return shown_lines(self.screen)

    def colours(self) -> list[list[tuple[str, str]]]:
        """Foreground and background colour of every character, scrollback and screen."""
        rows = [[line[x] for x in sorted(line)] for line in self.screen.history.top]
        rows += [[line[x] for x in range(self.screen.columns)] for line in self.screen.buffer.values()]
        return [[(char.fg, char.bg) for char in row] for row in rows]

    @classmethod
    def lines_of(cls, output: str) -> list[str]:
        """What a new terminal of this class shows after a program wrote `output`."""
        terminal = cls()
        terminal.feed(output)
        return terminal.lines()


def whole_answer_lines(text: str, width: int, height: int = 24) -> list[str]:
    """The lines a terminal `width` columns wide shows for answer `text` rendered at once, not streamed."""
    console = Console(
        file=io.StringIO(), width=width, height=height, force_terminal=True, color_system="truecolor"
    )
    console.print(ChatMarkdown(text, "monokai"))
    terminal = Terminal(width, height)
    assert isinstance(console.file, io.StringIO)
    terminal.feed(console.file.getvalue())
    return terminal.lines()


def shown_lines(screen: pyte.HistoryScreen) -> list[str]:
    """Every line in the scrollback and on the screen, without trailing blanks and final blank lines."""
    lines = ["".join(line[x].data for x in sorted(line)).rstrip() for line in screen.history.top]
    lines += [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# -- the installed chatcli on a pseudo-terminal (pexpect), for the e2e tests ----------------------------------

CPR_REQUEST = "\x1b[6n"  # prompt_toolkit asks where the cursor is; without an answer it shows no toolbar
TOOLBAR = "Alt-Enter newline"  # the REPL draws it with every new prompt


def spawn_chatcli(
    *args: str,
    command: Sequence[str] = (CHATCLI,),
    env: dict[str, str] | None = None,
    dimensions: tuple[int, int] = (24, 80),
    encoding: str | None = "utf-8",
    timeout: float = 30,
) -> pexpect.spawn:
    """`chatcli ARGS` (or `command` ARGS, such as a probe running chatcli's main) on a new pseudo-terminal of
    `dimensions` (rows, columns), TERM=xterm-256color unless `env` says otherwise; with `encoding` None the
    child reads and writes bytes."""
    require_e2e()
    return pexpect.spawn(
        command[0],
        [*command[1:], *args],
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        dimensions=dimensions,
        encoding=encoding,
        timeout=timeout,
    )


class ScreenedChild:
    """A spawned chatcli (bytes) whose output a pyte screen of its size keeps, answering prompt_toolkit's cursor
    requests, so tests can read the toolbar as drawn; `received` holds every byte it wrote."""

    def __init__(self, child: pexpect.spawn, columns: int, rows: int) -> None:
        self.child = child
        self.screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.received = bytearray()

    def wait_for_toolbar(self, pattern: str) -> str:
        """The screen's last line once it matches `pattern` (a regular expression)."""
        while True:
            data = self.child.read_nonblocking(65536, timeout=20)
            if CPR_REQUEST.encode() in data:
                self.child.send("\x1b[1;1R")
            self._stream.feed(data)
            self.received.extend(data)
            toolbar: str = self.screen.display[-1]
            if re.search(pattern, toolbar):
                return toolbar


def expect(child: pexpect.spawn, text: str | type[pexpect.EOF]) -> Any:
    """Wait for `text`, answering cursor-position requests on the way as a terminal does; returns what came
    before it, those requests left out."""
    seen = []
    while child.expect_exact([text, CPR_REQUEST]) == 1:
        seen.append(child.before)
        child.send("\x1b[12;1R")
    seen.append(child.before)
    return seen[0][:0].join(seen)


def say(child: pexpect.spawn, line: str, *expected: str) -> None:
    """At a REPL prompt: type `line`, press Enter, wait for each expected text in turn, then the next prompt."""
    child.send(line + "\r")
    for text in expected:
        expect(child, text)
    expect(child, TOOLBAR)


def exit_code(child: pexpect.spawn) -> int | None:
    """Wait for the child to end; its exit status (None if a signal ended it)."""
    expect(child, pexpect.EOF)
    child.close()
    return child.exitstatus  # type: ignore[no-any-return]
