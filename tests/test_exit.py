"""Exiting: chatcli skips the interpreter's teardown, yet flushes its output and exits cleanly whatever the streams."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CHATCLI
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.e2e  # closed streams and pipe buffers need a real process


def run_with_closed(fd: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run the installed command with file descriptor `fd` (1: stdout, 2: stderr) closed from the start."""
    script = f'exec "$0" "$@" {fd}>&-'  # the shell closes it, then becomes chatcli
    return subprocess.run(["sh", "-c", script, CHATCLI, *args], capture_output=True, timeout=30, check=False)


@pytest.mark.parametrize("fd", [1, 2])
def test_version_with_a_closed_stream_exits_zero_without_a_traceback(fd: int) -> None:
    result = run_with_closed(fd, "--version")
    assert result.returncode == 0
    assert b"Traceback" not in result.stderr
    if fd == 2:
        assert result.stdout == b"chatcli 0.1.0\n"


def test_output_written_just_before_exit_is_flushed_to_a_pipe() -> None:
    """stdout to a pipe is block-buffered: the answer and the closing newline must still arrive whole."""
    long_prompt = "word " * 20_000
    result = subprocess.run(
        [CHATCLI, "ask", "-b", "echo", long_prompt], capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stdout == f"Echo: {long_prompt}\n".encode()


def test_ask_with_stdout_closed_is_an_error_before_any_request() -> None:
    result = run_with_closed(1, "ask", "-b", "echo", "hi")
    assert result.returncode == 1
    assert result.stderr == b"chatcli: error: standard output is closed; nothing would show the answer\n"


def test_ask_with_stderr_closed_still_answers() -> None:
    result = run_with_closed(2, "ask", "hi")  # the echo notice has nowhere to go; the answer still does
    assert result.returncode == 0
    assert result.stdout == b"Echo: hi\n"


def run_into_full_disk(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run the installed command with stdout on /dev/full, where every write fails with ENOSPC."""
    with open("/dev/full", "wb") as full:
        return subprocess.run([CHATCLI, *args], stdout=full, stderr=subprocess.PIPE, timeout=30, check=False)


FULL_DISK = b"chatcli: error: cannot write the output: No space left on device\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("shape", [(), ("--json",), ("-x",)])
def test_an_answer_that_cannot_be_written_is_one_line_exit_1_and_still_saved_and_recorded(
    tmp_path: Path, shape: tuple[str, ...]
) -> None:
    saved = tmp_path / "chat.json"
    question = "word " * 20_000 + "```sh\nls\n```"  # far more than a pipe's buffer
    result = run_into_full_disk("ask", "-b", "echo", *shape, "-o", str(saved), question)
    what = "output" if shape else "answer"  # --json and -x write it after the turn
    assert (result.returncode, result.stderr) == (
        1,
        f"chatcli: error: cannot write the {what}: ".encode() + b"No space left on device\n",
    )
    answer = json.loads(saved.read_text())["messages"][-1]
    assert answer == {"role": "assistant", "content": "Echo: " + question}
    listed = invoke("history", "list", "--json")
    assert [row["turns"] for row in json.loads(listed.stdout)] == [1]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("buffered", ["", "1"])
def test_the_version_that_cannot_be_written_is_one_line_buffered_or_not(
    buffered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buffered, the write fails in the flush at exit; unbuffered (PYTHONUNBUFFERED), before any command runs."""
    monkeypatch.setenv("PYTHONUNBUFFERED", buffered)
    result = run_into_full_disk("--version")
    assert (result.returncode, result.stderr) == (1, FULL_DISK)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_listing_that_cannot_be_written_is_one_line_and_exit_1(server: OpenAIServer) -> None:
    assert invoke("ask", "-b", "echo", "hi").returncode == 0  # one conversation in the library to list
    for args in (("history", "list"), ("models", "--base-url", server.url), ("config", "path")):
        result = run_into_full_disk(*args)
        assert (result.returncode, result.stderr) == (1, FULL_DISK), args
