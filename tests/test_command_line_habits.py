"""Habits of other command lines: `ask`'s options before a bare prompt, a first word one typo away from a
sub-command, `chatcli help` and `chatcli version` (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcli import __version__
from chatcli.cli.typo import one_typo_apart
from tests.inprocess import invoke


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (("-u", "hi"), b"Echo: hi\n"),
        (("-m", "x", "-u", "hi"), b"Echo: hi\n"),
        (("-x", "--plain", "hi"), b""),  # an answer without a code block: nothing printed, exit 1
        (("--usage=", "hi"), None),
    ],
)
def test_ask_options_work_before_a_bare_prompt(args: tuple[str, ...], stdout: bytes | None) -> None:
    result = invoke("-b", "echo", *args)
    if stdout is None:  # `--usage=` is no option of anyone's: refused as before
        assert result.returncode == 2 and b"--usage" in result.stderr
        return
    assert result.stdout == stdout
    assert b"No such option" not in result.stderr
    if "-u" in args:
        assert result.returncode == 0 and b"chatcli: usage:" in result.stderr


def test_json_and_a_file_before_a_bare_prompt(tmp_path: Path) -> None:
    as_json = invoke("-b", "echo", "--json", "hi")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["content"] == "Echo: hi"
    notes = tmp_path / "notes.md"
    notes.write_text("the notes\n")
    with_file = invoke("-b", "echo", "-f", str(notes), "summarise")
    assert with_file.returncode == 0
    assert b"the notes" in with_file.stdout and with_file.stdout.rstrip().endswith(b"summarise")


def test_an_ask_option_before_a_sub_command_is_still_refused() -> None:
    result = invoke("-u", "models")
    assert result.returncode == 2 and b"No such option: -u" in result.stderr


@pytest.mark.parametrize(
    ("word", "name", "apart"),
    [
        ("histroy", "history", True),
        ("modles", "models", True),
        ("histor", "history", True),
        ("historyy", "history", True),
        ("hystory", "history", True),
        ("history", "history", False),
        ("hsitroy", "history", False),
        ("modes", "models", True),
        ("model", "config", False),
    ],
)
def test_one_typo_apart(word: str, name: str, apart: bool) -> None:
    assert one_typo_apart(word, name) is apart


def test_a_typo_of_a_sub_command_is_sent_when_piped_with_a_did_you_mean_on_stderr() -> None:
    result = invoke("-b", "echo", "histroy", "list", input=None)
    assert (result.returncode, result.stdout) == (0, b"Echo: histroy list\n")
    assert result.stderr.endswith(
        b"chatcli: note: 'histroy' is no sub-command, so it was sent as a prompt; "
        b"did you mean 'chatcli history list'?\n"
    )
    plain = invoke("-b", "echo", "hello", "there", input=None)
    assert b"note" not in plain.stderr


def test_on_a_terminal_a_typo_asks_first() -> None:
    terminal = {"stdin_isatty": True, "stderr_isatty": True}
    command = invoke("histroy", "list", input=b"h\n", **terminal)
    assert command.returncode == 0
    assert command.stderr.startswith(
        b"send \"histroy list\" to the model, or did you mean 'chatcli history list'? [s/h] "
    )
    assert b"no conversations" in command.stdout + command.stderr
    sent = invoke("-b", "echo", "modles", "--plain", input=b"s\n", **terminal)
    assert sent.returncode == 0 and sent.stdout == b"Echo: modles\n"
    assert sent.stderr.startswith(
        b"send \"modles\" to the model, or did you mean 'chatcli models --plain'? [s/m]"
    )
    neither = invoke("-b", "echo", "modles", input=b"\n", **terminal)
    assert (neither.returncode, neither.stdout) == (2, b"")
    assert neither.stderr.endswith(b"chatcli: error: nothing sent\n")


def test_help_and_version_words_do_what_they_say() -> None:
    assert invoke("version").stdout == f"chatcli {__version__}\n".encode()
    top = invoke("help")
    assert top.returncode == 0 and b"Usage: chatcli [OPTIONS] COMMAND" in top.stdout
    sub = invoke("help", "history", "list")
    assert sub.returncode == 0 and b"Usage: chatcli history list [OPTIONS]" in sub.stdout
    prompt = invoke("-b", "echo", "help", "me", "write")
    assert prompt.stdout == b"Echo: help me write\n"
