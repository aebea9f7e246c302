"""/file, /paste and /edit in the chat, on a real pty: attachments shown above the prompt and sent with the
next message (checked part by part on the local server), the clipboard through a fake wl-paste, and /edit
replacing the last exchange while the library keeps the old branch."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import CHATCLI, run_chatcli
from tests.openai_server import OpenAIServer
from tests.terminal import Terminal
from tests.test_images import IMAGES
from tests.test_repl_pty import TOOLBAR, exit_code, expect, say

pytestmark = pytest.mark.e2e

PNG = IMAGES["image/png"]
PNG_URL = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"


def spawn_in(cwd: Path, *args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    child = pexpect.spawn(
        CHATCLI,
        list(args),
        cwd=str(cwd),
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        dimensions=(24, 120),
        encoding="utf-8",
        timeout=20,
    )
    child.logfile_read = io.StringIO()
    expect(child, "Ctrl-D exits")
    expect(child, TOOLBAR)
    return child


def saved(path: Path) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = json.loads(path.read_text())["messages"]
    return messages


@pytest.fixture(autouse=True)
def no_graphical_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)


def test_file_attaches_files_and_images_to_the_next_message(tmp_path: Path, server: OpenAIServer) -> None:
    (tmp_path / "notes.md").write_text("remember the milk\n", encoding="utf-8")
    (tmp_path / "photo.png").write_bytes(PNG)
    chat = tmp_path / "chat.json"
    child = spawn_in(tmp_path, "--base-url", server.url, "-o", str(chat))
    say(child, "/file", "nothing attached; /file PATH attaches a file, a folder or an image")
    say(child, "/file nope.txt", "attached file 'nope.txt' cannot be read (No such file or directory)")
    child.send("/file no")
    child.send("\t")  # completes notes.md
    child.send(" pho")
    child.send("\t")  # completes photo.png
    attached = "attached: notes.md (18 bytes), photo.png (image)"
    say(child, "", attached)  # the line above the next prompt says it, and nothing else does
    terminal = Terminal(120, 24)
    terminal.stream.feed(child.logfile_read.getvalue().encode())
    assert [line for line in terminal.lines() if attached in line] == [attached]
    say(child, "/file -", "attachments cleared")
    say(child, "/file notes.md photo.png", "attached: notes.md (18 bytes), photo.png (image)")
    say(child, "compare them", "Hello from the test server.")
    say(child, "/file", "nothing attached")  # sent with that message, then gone

    sent = [{"type": "text", "text": "### notes.md\n\n```\nremember the milk\n```\n\ncompare them"}]
    sent.append({"type": "image_url", "image_url": {"url": PNG_URL}})
    assert server.bodies[0]["messages"] == [{"role": "user", "content": sent}]
    say(child, "/history", f"[image: photo.png, {len(PNG)} bytes, image/png]")

    # /edit reopens the question: its text in the input line, its image attached again; Enter replaces it.
    child.send("/edit\r")
    expect(
        child, "editing the last question (Enter replaces it, Ctrl-C cancels) · attached: photo.png (image)"
    )
    expect(child, "compare them")
    child.send(" again\r")
    expect(child, "Hello from the test server.")
    expect(child, TOOLBAR)
    child.send("\x04")
    assert exit_code(child) == 0
    assert server.bodies[1]["messages"] == [
        {"role": "user", "content": [{**sent[0], "text": sent[0]["text"] + " again"}, sent[1]]}
    ]
    kept = {**sent[1], "chatcli": {"name": "photo.png"}}
    assert saved(chat) == [
        {"role": "user", "content": [{**sent[0], "text": sent[0]["text"] + " again"}, kept]},
        {"role": "assistant", "content": "Hello from the test server."},
    ]


def test_ctrl_c_at_an_edit_says_so_and_the_next_message_goes_without_the_image(
    tmp_path: Path, server: OpenAIServer
) -> None:
    (tmp_path / "photo.png").write_bytes(PNG)
    child = spawn_in(tmp_path, "--base-url", server.url)
    say(child, "/file photo.png", "attached: photo.png (image)")
    say(child, "what is this", "Hello from the test server.")
    child.send("/edit\r")
    expect(child, "attached: photo.png (image)")
    child.send("\x03")
    expect(child, "edit cancelled")
    expect(child, TOOLBAR)
    say(child, "and now", "Hello from the test server.")
    child.send("\x04")
    assert exit_code(child) == 0
    assert server.bodies[1]["messages"][-1] == {"role": "user", "content": "and now"}


def test_edit_replaces_the_last_exchange_and_the_library_keeps_the_old_one(tmp_path: Path) -> None:
    chat = tmp_path / "chat.json"
    child = spawn_in(tmp_path, "-b", "echo", "-o", str(chat))
    say(child, "/edit", "nothing to edit yet")
    say(child, "first question", "Echo: first question")
    say(child, "second question", "Echo: second question")
    child.send("/edit\r")
    expect(child, "editing the last question")
    expect(child, "second question")
    child.send("\x03")  # Ctrl-C: the line is cleared and the edit dropped
    expect(child, TOOLBAR)
    say(child, "third question", "Echo: third question")  # a new turn, nothing replaced
    child.send("/edit\r")
    expect(child, "third question")
    child.send("\x7f" * len("question") + "try\r")
    expect(child, "Echo: third try")
    expect(child, TOOLBAR)
    child.send("\x04")
    assert exit_code(child) == 0
    assert [message["content"] for message in saved(chat)] == [
        "first question",
        "Echo: first question",
        "second question",
        "Echo: second question",
        "third try",
        "Echo: third try",
    ]
    listed = json.loads(run_chatcli("history", "list", "--json").stdout)
    assert [(entry["title"], entry["turns"]) for entry in listed] == [
        ("first question", 3),
        ("first question", 3),
    ]
    shown = {entry["id"]: run_chatcli("history", "show", entry["id"]).stdout.decode() for entry in listed}
    assert sorted("third try" in text for text in shown.values()) == [False, True]
    assert all("third question" in text for text in shown.values() if "third try" not in text)


def fake_wl_paste(tmp_path: Path, types: str, content: Path) -> Path:
    """A wl-paste that offers `types` and prints `content` for any of them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "wl-paste"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = --list-types ]; then printf "{types}"; else cat "{content}"; fi\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return bin_dir


def test_paste_attaches_the_clipboards_image_or_text_or_says_why_it_cannot(tmp_path: Path) -> None:
    chat = tmp_path / "chat.json"
    child = spawn_in(tmp_path, "-b", "echo", "-o", str(chat))
    say(
        child,
        "/paste",
        "/paste: no clipboard here: no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)",
    )
    child.send("\x04")
    assert exit_code(child) == 0

    (tmp_path / "clip.png").write_bytes(PNG)
    (tmp_path / "clip.txt").write_text("copied words\n", encoding="utf-8")
    wayland = {
        "WAYLAND_DISPLAY": "wayland-test",
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    fake_wl_paste(tmp_path, "text/plain\\nimage/png\\n", tmp_path / "clip.png")
    child = spawn_in(tmp_path, "-b", "echo", "-o", str(chat), env=wayland)
    say(child, "/paste", "attached: clipboard.png (image)")
    say(child, "what is it?", "Echo: what is it?")
    fake_wl_paste(tmp_path, "text/plain;charset=utf-8\\nTEXT\\n", tmp_path / "clip.txt")
    say(child, "/paste", "attached: clipboard (13 bytes)")
    say(child, "summarise", "Echo: ### clipboard")
    fake_wl_paste(tmp_path, "application/x-thing\\n", tmp_path / "clip.txt")
    say(child, "/paste", "/paste: the clipboard holds neither text nor a PNG, JPEG, GIF or WebP image")
    child.send("\x04")
    assert exit_code(child) == 0
    first, _, second, _ = saved(chat)
    assert first["content"] == [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": PNG_URL}, "chatcli": {"name": "clipboard.png"}},
    ]
    assert second["content"] == "### clipboard\n\n```\ncopied words\n```\n\nsummarise"
