"""Command-line paths and arguments: `~`, missing directories, `-` for stdin and stdout, overwriting on purpose,
and invalid UTF-8 in an argument."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chatcli.core.errors import BackendError
from tests.conftest import CHATCLI
from tests.inprocess import invoke
from tests.test_repl_commands import ScriptedBackend, make_runner, run

CONVERSATION = {
    "version": 1,
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
}


def imported_id(tmp_path: Path) -> str:
    source = tmp_path / "source.json"
    source.write_text(json.dumps(CONVERSATION))
    result = invoke("history", "import", str(source))
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().strip()


# --- bug 13: invalid UTF-8 in an argument ------------------------------------------------------------------


@pytest.mark.e2e
def test_invalid_utf8_in_an_argument_is_refused_like_on_stdin(tmp_path: Path) -> None:
    result = subprocess.run(
        [CHATCLI.encode(), b"ask", b"-b", b"echo", b"caf\xe9 au lait"], capture_output=True, check=False
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr == (
        b"chatcli: error: command-line argument 4 is not valid UTF-8 (byte offset 3); only UTF-8 text is sent\n"
    )


# --- bug 9: -o and `~` ---------------------------------------------------------------------------------------


def test_save_into_a_missing_directory_is_a_usage_error_and_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.json"
    result = invoke("ask", "-b", "echo", "-o", str(target), "hi")
    assert result.returncode == 2
    assert (
        result.stderr
        == (
            f"chatcli: error: {target}: directory {target.parent} does not exist; create it or save elsewhere\n"
        ).encode()
    )
    assert not (tmp_path / "nonexistent").exists()


def test_a_quoted_tilde_means_home_for_save_load_and_export(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # so a file named `~` that should not be created would land there
    result = invoke("ask", "-b", "echo", "-o", "~/t.json", "hi")
    assert result.returncode == 0, result.stderr
    assert json.loads((isolated_home / "t.json").read_text())["messages"][-1]["content"] == "Echo: hi"
    assert invoke("ask", "-b", "echo", "-l", "~/t.json", "again").returncode == 0
    exported = invoke("history", "export", imported_id(tmp_path), "~/e.json")
    assert exported.returncode == 0, exported.stderr
    assert (isolated_home / "e.json").exists()
    assert not (tmp_path / "~").exists()


# --- bug 10: `-` is stdout or stdin ----------------------------------------------------------------------------


def test_export_to_dash_writes_stdout_and_import_and_load_read_dash_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = imported_id(tmp_path)
    monkeypatch.chdir(tmp_path)  # so a file named `-` that should not be created would land there
    exported = invoke("history", "export", conversation_id, "-")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == CONVERSATION
    assert not (tmp_path / "-").exists()
    again = invoke("history", "import", "-", input=exported.stdout)
    assert again.returncode == 0, again.stderr
    shown = invoke("history", "show", again.stdout.decode().strip(), "--json")
    assert json.loads(shown.stdout)["messages"] == CONVERSATION["messages"]
    loaded = invoke("ask", "-b", "echo", "-l", "-", "--json", "next", input=exported.stdout)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["content"] == "Echo: next"


# --- bug 11: overwriting says what fits, and --force / /save! overwrite ------------------------------------------


def test_export_onto_an_existing_file_says_to_use_force_and_force_overwrites(tmp_path: Path) -> None:
    conversation_id = imported_id(tmp_path)
    target = tmp_path / "exists.json"
    target.write_text("precious")
    refused = invoke("history", "export", conversation_id, str(target))
    assert refused.returncode == 1
    assert (
        refused.stderr
        == (
            f"chatcli: error: {target} exists; add --force to overwrite it, or export to a new file\n"
        ).encode()
    )
    assert target.read_text() == "precious"
    forced = invoke("history", "export", "--force", conversation_id, str(target))
    assert forced.returncode == 0, forced.stderr
    assert json.loads(target.read_text()) == CONVERSATION


def test_repl_save_onto_a_file_it_did_not_write_suggests_save_bang_which_overwrites(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text("precious")
    runner, screen = make_runner(ScriptedBackend("a1", BackendError("x")))
    runner.send("q1")
    run(runner, f"/save {other}")
    assert other.read_text() == "precious"
    assert screen.warnings == [f"not saved: {other} exists; /save! {other} overwrites it"]
    run(runner, f"/save! {other}")
    assert json.loads(other.read_text())["messages"][-1]["content"] == "a1"
    assert runner.autosave.file is not None and runner.autosave.file.path == other


@pytest.mark.e2e
def test_load_dash_with_a_terminal_on_stdin_is_refused_instead_of_waiting() -> None:
    import os

    import pexpect

    child = pexpect.spawn(CHATCLI, ["ask", "-b", "echo", "-l", "-", "hi"], env=dict(os.environ), timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert child.before == b"chatcli: error: `-` reads a conversation from piped stdin, and none is piped\r\n"
