"""Piped stdin that never closes: `--no-stdin` leaves it alone, a lone `-` says where it goes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from chatcli.core.errors import UsageError
from chatcli.storage.inputs import combine_prompt
from tests.conftest import CHATCLI, run_chatcli
from tests.inprocess import invoke
from tests.leaks import one_line_error


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args",
    [["ask", "--no-stdin", "-b", "echo", "hello"], ["--no-stdin", "ask", "-b", "echo", "hello"]],
    ids=["after-ask", "before-ask"],
)
def test_no_stdin_answers_without_waiting_for_a_pipe_that_never_closes(args: list[str]) -> None:
    child = subprocess.Popen(
        [CHATCLI, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    try:
        code = child.wait(timeout=20)  # stdin stays open: the run must not wait for its end
        assert code == 0, child.stderr.read()
        assert child.stdout.read() == b"Echo: hello\n"
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()
        child.stderr.close()


@pytest.mark.e2e
def test_a_loop_over_a_list_asks_once_per_line(tmp_path: Path) -> None:
    listing = tmp_path / "list"
    listing.write_text("a.txt\nb.txt\nc.txt\n")
    script = f'while read f; do {CHATCLI} ask --no-stdin -b echo "file $f"; done < {listing}'
    done = subprocess.run(["sh", "-c", script], capture_output=True, check=False, env=os.environ, timeout=60)
    assert done.stdout == b"Echo: file a.txt\nEcho: file b.txt\nEcho: file c.txt\n", done.stderr


@pytest.mark.e2e
def test_a_lone_dash_puts_stdin_where_it_stands() -> None:
    result = run_chatcli("ask", "-b", "echo", "summarise", "-", "in one line", input=b"the text\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Echo: summarise\n\nthe text\n\nin one line\n"


@pytest.mark.e2e
def test_a_lone_dash_with_no_stdin_is_a_usage_error() -> None:
    result = run_chatcli("ask", "-b", "echo", "--no-stdin", "x", "-", input=b"text")
    assert result.returncode == 2
    assert one_line_error(result) == (
        "a lone - in the prompt reads stdin, which --no-stdin turns off; drop one of them"
    )


def test_stdin_first_without_a_dash_and_dash_only_once() -> None:
    assert combine_prompt(["why?"], "text\n") == "text\n\nwhy?"
    assert combine_prompt(["-", "why?"], "text\n") == "text\n\nwhy?"
    assert combine_prompt(["why?", "-"], "text\n") == "why?\n\ntext"
    with pytest.raises(UsageError, match="give it once"):
        combine_prompt(["-", "and", "-"], "text")


def test_on_a_terminal_a_lone_dash_is_just_a_word() -> None:
    """`chatcli ask what is 5 - 3` typed at a terminal must neither wait for stdin nor split the prompt."""
    result = invoke("ask", "-b", "echo", "what", "is", "5", "-", "3", stdin_isatty=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Echo: what is 5 - 3\n"
    assert combine_prompt(["5", "-", "3"], None, stdin_marker=False) == "5 - 3"
