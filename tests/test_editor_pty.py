"""Composing in the editor, on a real pty: Ctrl-X Ctrl-E in the chat, `ask -e` (with piped stdin above the
marker line), and an editor that fails or leaves the file empty cancelling with one line. EDITOR is a small
script that rewrites the file it is given."""

from __future__ import annotations

import io
import os
import shlex
from pathlib import Path

import pexpect
import pytest

from tests.conftest import CHATCLI
from tests.test_repl_pty import TOOLBAR, exit_code, expect, say, spawn

pytestmark = pytest.mark.e2e


def editor_script(tmp_path: Path, body: str, name: str = "editor") -> Path:
    """An executable shell script; "$1" is the file to edit."""
    script = tmp_path / name
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(0o755)
    return script


@pytest.fixture(autouse=True)
def no_editor_from_the_developer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)


def spawn_with_editor(monkeypatch: pytest.MonkeyPatch, editor: Path, *args: str) -> pexpect.spawn:
    monkeypatch.setenv("EDITOR", str(editor))
    return spawn(*args)


def run_in_pty(command: str, env: dict[str, str]) -> tuple[int | None, str]:
    """Run `command` with sh on a pty; its exit status and everything it printed after the waiting spinner
    (drawn on the terminal until the first token, then erased)."""
    child = pexpect.spawn(
        "sh", ["-c", command], env={**os.environ, **env}, dimensions=(24, 80), encoding="utf-8", timeout=20
    )
    child.logfile_read = io.StringIO()
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.logfile_read.getvalue().rpartition("\r\x1b[2K\x1b[?25h")[2]


def test_ctrl_x_ctrl_e_edits_the_line_which_enter_then_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The editor upper-cases what it is given and adds a second line.
    editor = editor_script(
        tmp_path, 'tr a-z A-Z < "$1" > "$1.new" && printf "\\nand more\\n" >> "$1.new" && mv "$1.new" "$1"'
    )
    child = spawn_with_editor(monkeypatch, editor, "-b", "echo")
    expect(child, TOOLBAR)
    child.send("draft question")
    child.send("\x18\x05")  # Ctrl-X Ctrl-E
    expect(child, "and more")  # back in the input line, not sent
    child.send("\r")
    expect(child, "Echo: DRAFT QUESTION")
    expect(child, TOOLBAR)
    child.send("\x04")
    assert exit_code(child) == 0


def test_an_editor_that_fails_or_empties_the_file_leaves_the_line_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = editor_script(tmp_path, "exit 3")
    child = spawn_with_editor(monkeypatch, failing, "-b", "echo")
    expect(child, TOOLBAR)
    child.send("keep me")
    child.send("\x18\x05")
    expect(child, f"the editor ({failing}) exited with status 3; the input line is unchanged")
    say(child, "", "Echo: keep me")
    child.send("\x04")
    assert exit_code(child) == 0

    emptying = editor_script(tmp_path, ': > "$1"', "emptying")
    child = spawn_with_editor(monkeypatch, emptying, "-b", "echo")
    expect(child, TOOLBAR)
    child.send("still here")
    child.send("\x18\x05")
    expect(child, "the editor left the text empty; the input line is unchanged")
    say(child, "", "Echo: still here")
    child.send("\x04")
    assert exit_code(child) == 0


def test_ask_editor_writes_the_prompt(tmp_path: Path) -> None:
    editor = editor_script(tmp_path, 'printf "%s, written in the editor\\n" "$(cat "$1")" > "$1"')
    code, shown = run_in_pty(f"{shlex.quote(CHATCLI)} --plain ask -b echo -e start", {"VISUAL": str(editor)})
    assert code == 0, shown
    assert shown == "Echo: start, written in the editor\r\n"


def test_ask_editor_shows_piped_stdin_above_the_marker_line(tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    editor = editor_script(tmp_path, f'cp "$1" {shlex.quote(str(seen))} && printf "my question\\n" >> "$1"')
    command = f"printf 'piped\\ntext\\n' | {shlex.quote(CHATCLI)} --plain ask -b echo --editor"
    code, shown = run_in_pty(command, {"EDITOR": str(editor)})
    assert code == 0, shown
    assert (
        seen.read_text()
        == "piped\ntext\n# ---- chatcli: piped text above this line, your prompt below it ----\n"
    )
    assert shown == "Echo: piped\r\ntext\r\n\r\nmy question\r\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("exit 1", "the editor ({editor}) exited with status 1"),
        (': > "$1"', "the editor left the text empty"),
    ],
)
def test_ask_editor_that_fails_or_leaves_nothing_sends_nothing(
    tmp_path: Path, body: str, reason: str
) -> None:
    editor = editor_script(tmp_path, body)
    code, shown = run_in_pty(f"{shlex.quote(CHATCLI)} ask -b echo -e", {"EDITOR": str(editor)})
    assert code == 2
    assert shown == f"chatcli: error: {reason.format(editor=editor)}; nothing was sent\r\n"
