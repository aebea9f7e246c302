"""Closing the terminal mid-answer (the pty goes away: writes fail with EIO, then SIGHUP) keeps the partial
answer, as interrupted, in --save's file and in the library: in `ask` and in the REPL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ptyprocess import PtyProcess

from tests.conftest import CHATCLI, run_chatcli
from tests.openai_server import OpenAIServer, sse_reply

pytestmark = pytest.mark.e2e


def read_until(process: PtyProcess, text: bytes) -> bytes:
    seen = b""
    while text not in seen:
        chunk = process.read(4096)
        seen += chunk
        if b"\x1b[6n" in chunk:  # prompt_toolkit asks where the cursor is
            process.write(b"\x1b[1;1R")
    return seen


def close_terminal_and_wait(process: PtyProcess) -> None:
    """Close the terminal's side of the pty, as `tmux kill-session` does, then wait for chatcli to exit."""
    process.fileobj.close()
    process.closed = True
    process.wait()


def spawn(*args: str) -> PtyProcess:
    return PtyProcess.spawn(
        [CHATCLI, *args], env={**os.environ, "TERM": "xterm-256color"}, dimensions=(24, 80)
    )


def last_message(path: Path) -> dict[str, str]:
    message: dict[str, str] = json.loads(path.read_text())["messages"][-1]
    return message


def library_last_message() -> dict[str, object]:
    [conversation] = json.loads(run_chatcli("history", "list", "--json").stdout)
    shown = run_chatcli("history", "show", str(conversation["id"]), "--json")
    message: dict[str, object] = json.loads(shown.stdout)["messages"][-1]
    return message


@pytest.mark.parametrize("markdown", ["--markdown", "--plain"])
def test_ask_keeps_the_partial_answer_when_its_terminal_closes(
    server: OpenAIServer, tmp_path: Path, markdown: str
) -> None:
    chat = tmp_path / "chat.json"
    server.enqueue(sse_reply("first ", "words ", *["more "] * 200, delay=0.1))
    process = spawn("ask", "--base-url", server.url, markdown, "-o", str(chat), "write a lot")
    read_until(process, b"words")
    close_terminal_and_wait(process)
    assert server.wait_for_disconnect(timeout=15)
    saved = last_message(chat)
    assert saved["status"] == "interrupted"
    assert saved["content"].startswith("first words ")
    recorded = library_last_message()
    assert recorded["status"] == "interrupted"
    assert str(recorded["content"]).startswith("first words ")


def test_the_repl_keeps_the_partial_answer_when_its_terminal_closes(
    server: OpenAIServer, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    server.enqueue(sse_reply("first ", "words ", *["more "] * 200, delay=0.1))
    process = spawn("--base-url", server.url, "-o", str(chat))
    read_until(process, b"Alt-Enter newline")
    process.write(b"write a lot\r")
    read_until(process, b"words")
    close_terminal_and_wait(process)
    assert server.wait_for_disconnect(timeout=15)
    saved = last_message(chat)
    assert saved["status"] == "interrupted"
    assert saved["content"].startswith("first words ")
    recorded = library_last_message()
    assert recorded["status"] == "interrupted"
