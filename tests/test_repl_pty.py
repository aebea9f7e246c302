"""End-to-end: the installed `chatcli` REPL on a real pty (pexpect), against echo and the local server."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.openai_server import OpenAIServer, Reply, chunk, json_reply, sse_event, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli

UP = "\x1b[A"
ERASE_LINE = "\r\x1b[2K"

pytestmark = pytest.mark.e2e


def spawn(*args: str) -> pexpect.spawn:
    child = spawn_chatcli(*args, timeout=20)
    child.logfile_read = io.StringIO()  # everything the terminal received
    expect(child, "Ctrl-D exits")
    return child


def saved(path: Path) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = json.loads(path.read_text())["messages"]
    return messages


def test_a_conversation_with_commands_saved_then_reloaded_with_input_history(tmp_path: Path) -> None:
    chat, copy = tmp_path / "chat.json", tmp_path / "copy.json"
    child = spawn("-b", "echo", "-o", str(chat))
    expect(child, TOOLBAR)
    say(child, "hello there", "Echo: hello there")
    say(child, "/model other-model", "model set to other-model")
    say(child, "second question", "Echo: second question")
    say(child, "/undo", "removed: second question")
    say(child, "/retry", "retrying: hello there", "Echo: hello there")
    child.send("/mo")
    expect(child, "show or switch the model")  # the completion menu
    child.send("\t")
    say(child, "", "model: other-model")
    clipboard = base64.b64encode(b"Echo: hello there").decode()
    say(child, "/copy", f"\x1b]52;c;{clipboard}\x07", "sent the last answer")
    say(child, f"/save {copy}", "saving after every turn")
    say(child, "third question", "Echo: third question")
    child.send("\x04")
    assert exit_code(child) == 0

    first_exchange = [
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "Echo: hello there"},
    ]
    assert saved(chat) == first_exchange
    assert json.loads(copy.read_text())["model"] == "other-model"
    assert saved(copy) == [
        *first_exchange,
        {"role": "user", "content": "third question"},
        {"role": "assistant", "content": "Echo: third question"},
    ]
    history = Path(os.environ["XDG_DATA_HOME"]) / "chatcli" / "input_history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600

    data = json.loads(copy.read_text())
    data["messages"][1]["content"] += "\x1b]52;c;aGFjaw==\x07"  # a hostile answer would set the clipboard
    copy.write_text(json.dumps(data))
    child = spawn("-b", "echo", "--load", str(copy))
    expect(child, "Echo: hello there^[]52;c;aGFjaw==^G")  # the loaded conversation is shown first, inert
    expect(child, "Echo: third question")
    expect(child, TOOLBAR)
    assert "\x1b]52" not in child.logfile_read.getvalue()
    child.send(UP)  # the last line typed in the previous session
    expect(child, "third question")
    say(child, "", "Echo: third question")
    say(child, f"/load {chat}", "hello there", f"loaded {chat}")
    say(child, "/history", "Echo: hello there")
    child.send("\x03")
    expect(child, "Press Ctrl-C again to exit")
    child.send("\x03")
    assert exit_code(child) == 0


def test_ctrl_c_mid_stream_closes_the_stream_and_keeps_the_partial_answer(
    server: OpenAIServer, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    server.enqueue(
        json_reply(401, {"error": {"message": "bad key"}}),
        sse_reply("alpha ", "beta ", *["gamma "] * 100, delay=0.2),
        Reply(body=[sse_event(chunk(reasoning_content="thinking it over")), *sse_reply("carrying on").body]),
    )
    child = spawn("-R", "--base-url", server.url, "-o", str(chat))
    expect(child, TOOLBAR)
    say(child, "refused?", "error: authentication failed")
    assert not chat.exists()  # a failed turn changes nothing, so nothing was saved

    child.send("tell me a long story\r")
    expect(child, "beta")
    child.send("\x03")
    expect(child, "interrupted")
    expect(child, TOOLBAR)
    assert server.wait_for_disconnect(timeout=15)
    partial = saved(chat)[-1]
    assert partial["status"] == "interrupted"
    assert partial["content"].startswith("alpha beta ")

    say(
        child, "go on", "waiting…", ERASE_LINE, "thinking it over", "carrying on"
    )  # spinner gone before reasoning
    child.send("\x04")
    assert exit_code(child) == 0
    assert server.bodies[2]["messages"] == [  # the interrupted mark is never sent
        {"role": "user", "content": "tell me a long story"},
        {"role": "assistant", "content": partial["content"]},
        {"role": "user", "content": "go on"},
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_mid_stream_saves_the_partial_answer_then_exits(
    signum: signal.Signals, server: OpenAIServer, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    server.enqueue(sse_reply("first ", "words ", *["more "] * 100, delay=0.2))
    child = spawn("--base-url", server.url, "-o", str(chat))
    expect(child, TOOLBAR)
    child.send("write a lot\r")
    expect(child, "words")
    child.kill(signum)
    assert exit_code(child) == 128 + signum
    assert saved(chat)[-1]["status"] == "interrupted"
    assert saved(chat)[-1]["content"].startswith("first words ")


def test_copy_takes_the_answer_a_code_block_or_writes_a_file(server: OpenAIServer, tmp_path: Path) -> None:
    answer = "Run:\n\n```py\nprint(1)\n```\n"
    server.enqueue(sse_reply(answer), sse_reply("second"))
    notes = tmp_path / "notes.md"
    child = spawn("--base-url", server.url)
    expect(child, TOOLBAR)
    say(child, "code please", "Run:")
    code = base64.b64encode(b"print(1)").decode()
    say(child, "/copy code", f"\x1b]52;c;{code}\x07", "sent code block 1 of 1, 1 line")
    say(child, "and then?", "second")
    say(child, "/copy code", "the last answer has 0 code blocks")
    say(child, f"/copy 1 {notes}", f"wrote answer 1 of 2, 5 lines, to {notes}")
    say(child, f"/copy {notes}", "exists; /copy! … ")
    child.send("\x04")
    assert exit_code(child) == 0
    assert notes.read_text() == answer
