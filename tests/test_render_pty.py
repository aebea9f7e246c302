"""`chatcli ask` on a real 80x24 pseudo-terminal: scrollback, resize, Ctrl-C, TERM=dumb and NO_COLOR."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable

import pexpect
import pyte
import pytest
from rich.console import Console

from chatcli.render.markdown import ChatMarkdown
from tests.conftest import CHATCLI
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import shown_lines

TIMEOUT = 30


def long_answer() -> str:
    parts = [
        "# Streaming report\n\nThe first paragraph says **hello** and links [docs](https://example.com/d).\n"
    ]
    parts += [f"- item {n} of the list, with `code {n}`" for n in range(40)]
    parts += ["", "```python"] + [f"value_{n} = compute({n})" for n in range(45)] + ["```", ""]
    parts += [f"Paragraph {n} is here to fill the screen and then some more words {n}.\n" for n in range(30)]
    parts += ["| key | value |", "|-----|-------|"] + [f"| row {n} | {n * n} |" for n in range(25)]
    parts += ["", "1. one", "2. two", "", "The end."]
    return "\n".join(parts) + "\n"


def tokens(text: str, size: int = 12) -> list[str]:
    return [text[at : at + size] for at in range(0, len(text), size)]


def spawn(server: OpenAIServer, *flags: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    return pexpect.spawn(
        CHATCLI,
        ["ask", "--base-url", server.url, *flags, "go"],
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        dimensions=(24, 80),
        timeout=TIMEOUT,
    )


class Terminal:
    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.screen = pyte.HistoryScreen(width, height, history=10_000)
        self.stream = pyte.ByteStream(self.screen)

    def lines(self) -> list[str]:
        return shown_lines(self.screen)


def rendered_whole(text: str, width: int = 80) -> list[str]:
    console = Console(file=io.StringIO(), width=width, force_terminal=True)
    console.print(ChatMarkdown(text, "monokai"))
    terminal = Terminal(width)
    terminal.stream.feed(console.file.getvalue().replace("\n", "\r\n").encode())  # type: ignore[attr-defined]
    return terminal.lines()


def test_a_long_answer_leaves_every_line_in_the_scrollback_exactly_once(server: OpenAIServer) -> None:
    answer = long_answer()
    server.enqueue(sse_reply(*tokens(answer), delay=0.004))
    child = spawn(server, "--markdown")
    terminal = Terminal()
    terminal.stream.feed(child.read())
    child.wait()
    assert child.exitstatus == 0
    assert terminal.lines() == rendered_whole(answer)


def test_a_terminal_resized_mid_stream_shows_no_line_twice(server: OpenAIServer) -> None:
    answer = long_answer()
    server.enqueue(sse_reply(*tokens(answer), delay=0.004))
    child = spawn(server, "--markdown")
    terminal = Terminal()
    child.expect("item 20 of")
    terminal.stream.feed(child.before + child.after)
    child.setwinsize(30, 100)
    terminal.screen.resize(30, 100)
    terminal.stream.feed(child.read())
    child.wait()
    shown = "\n".join(terminal.lines())
    for marker in [*(f"item {n} of" for n in range(40)), *(f"value_{n} =" for n in range(45))]:
        assert shown.count(marker) == 1, marker
    for n in range(30):
        assert shown.count(f"Paragraph {n} is") == 1


def test_ctrl_c_keeps_the_partial_answer_and_shows_the_cursor(server: OpenAIServer) -> None:
    server.enqueue(sse_reply(*tokens(long_answer()), delay=0.05))
    child = spawn(server, "--markdown")
    child.expect("item 3 of")
    child.sendintr()
    rest = child.read()
    child.wait()
    assert child.exitstatus == 130
    assert rest.rfind(b"\x1b[?25h") > rest.rfind(b"\x1b[?25l")
    assert b"interrupted" in rest


def test_no_color_and_dumb_terminals_get_plain_incremental_text(server: OpenAIServer) -> None:
    answer = "# Title\n\nSome **bold** text.\n"
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        server.enqueue(sse_reply(*tokens(answer, 3)))
        child = spawn(server, env=env)
        shown = child.read()
        if "NO_COLOR" in env:  # the waiting spinner (issue 13) is drawn, then erased before the answer
            shown = shown.rpartition(b"\r\x1b[2K\x1b[?25h")[2]
        assert shown == answer.replace("\n", "\r\n").encode()
        child.wait()
        assert child.exitstatus == 0


def test_markdown_forced_on_a_dumb_terminal_prints_blocks_without_moving_the_cursor(
    server: OpenAIServer,
) -> None:
    answer = "# Title\n\nSome **bold** text.\n\n- a\n- b\n"
    server.enqueue(sse_reply(*tokens(answer, 3), delay=0.01))
    child = spawn(server, "--markdown", env={"TERM": "dumb"})
    output = child.read()
    child.wait()
    assert child.exitstatus == 0
    assert not re.search(rb"\x1b\[[0-9;]*[ABCDHJK]", output)
    text = output.decode()
    assert "Some bold text." in text and "#" not in text and "• a" in text


@pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux, a terminal that re-wraps lines on resize"
)
def test_a_terminal_made_narrower_mid_stream_rewraps_and_duplicates_no_line(server: OpenAIServer) -> None:
    """Narrowing makes most terminals re-wrap the lines they show; pyte does not, tmux does."""
    paragraphs = [" ".join(f"p{n}w{k}" for k in range(70)) for n in range(6)]
    server.enqueue(sse_reply(*tokens("\n\n".join(paragraphs) + "\n", 8), delay=0.01))
    tmux = ["tmux", "-L", f"chatcli-test-{os.getpid()}", "-f", os.devnull]
    # COLUMNS and LINES would fix the size Rich sees (and tmux may pass its own)
    command = (
        f"env -u COLUMNS -u LINES {CHATCLI} ask --base-url {server.url} --markdown go; echo DONE; sleep 60"
    )
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", command], check=True)
    try:

        def screen() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-S", "-"], capture_output=True, text=True, check=True
            ).stdout

        def wait_for(shown: Callable[[str], bool]) -> None:
            deadline = time.monotonic() + TIMEOUT
            while not shown(screen()):
                assert time.monotonic() < deadline
                time.sleep(0.05)

        wait_for(lambda text: "p1w20" in text)
        subprocess.run([*tmux, "resize-window", "-x", "60", "-y", "30"], check=True)
        wait_for(lambda text: "p3w20" in text)
        subprocess.run([*tmux, "resize-window", "-x", "45", "-y", "30"], check=True)
        wait_for(lambda text: "\nDONE" in text)
        words = Counter(re.findall(r"p\d+w\d+", screen()))
        assert words == Counter(f"p{n}w{k}" for n in range(6) for k in range(70))
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
