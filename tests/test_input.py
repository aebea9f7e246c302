"""Bad input and odd environments (reliability checklist, section F): stdin as UTF-8 bytes whatever the locale,
refused before any request when invalid or too large; empty prompts; a terminal on stdin; NO_COLOR, TERM=dumb.
In-process, but the locale, endless stdin and start-up imports, which need a real process (e2e)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import CHATCLI, run_chatcli
from tests.inprocess import invoke
from tests.leaks import one_line_error
from tests.openai_server import OpenAIServer, sse_reply
from tests.probe import exit_probe

ANSWER = ["# Title\n\n", "Some **bold** and `code`.\n\n", "```python\nprint('hi')\n```\n"]
SGR = re.compile(rb"\x1b\[([0-9;]*)m")


def test_invalid_utf8_is_refused_with_its_offset_and_nothing_is_sent(server: OpenAIServer) -> None:
    result = invoke("ask", "--base-url", server.url, "explain", input="naïve \xff".encode("latin-1"))
    assert result.returncode == 2
    assert one_line_error(result) == "stdin is not valid UTF-8 (byte offset 2); only UTF-8 text is sent"
    assert server.requests == []


def test_a_nul_byte_is_refused_with_its_offset(server: OpenAIServer) -> None:
    result = invoke("ask", "--base-url", server.url, input=b"text\x00more")
    assert result.returncode == 2
    assert one_line_error(result) == "stdin is binary (NUL byte at offset 4); only text is sent"
    assert server.requests == []


@pytest.mark.e2e
def test_utf8_with_a_bom_is_read_whatever_the_locale(server: OpenAIServer) -> None:
    result = run_chatcli(
        "ask",
        "--base-url",
        server.url,
        "résumé",
        input="\ufeffgrüße 你好\n".encode(),
        env={"LC_ALL": "C", "LANG": "C"},
    )
    assert result.returncode == 0
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "grüße 你好\n\nrésumé"}]


def test_stdin_over_the_cap_is_refused_before_any_request(server: OpenAIServer) -> None:
    result = invoke("ask", "--base-url", server.url, "--max-input-bytes", "1000", input=b"x" * 1001)
    assert result.returncode == 2
    assert one_line_error(result) == "stdin is larger than 1000 bytes; raise --max-input-bytes to send it"
    assert server.requests == []


@pytest.mark.e2e
def test_endless_stdin_stops_at_the_cap_in_bounded_memory(server: OpenAIServer) -> None:
    with open("/dev/zero", "rb") as endless:
        result = subprocess.run(
            [CHATCLI, "ask", "--base-url", server.url, "--max-input-bytes", "200000"],
            stdin=endless,
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert one_line_error(result).startswith("stdin is larger than 200000 bytes")
    assert server.requests == []


@pytest.mark.parametrize(("words", "stdin"), [(["  ", "\t"], b""), ([], b" \n\n\t\n")])
def test_blank_prompt_and_blank_stdin_are_refused(
    server: OpenAIServer, words: list[str], stdin: bytes
) -> None:
    result = invoke("ask", "--base-url", server.url, *words, input=stdin)
    assert result.returncode == 2
    assert one_line_error(result) == "empty prompt; give a prompt or pipe text on stdin"
    assert server.requests == []


def test_ask_with_a_terminal_on_stdin_and_no_prompt_errors_instead_of_waiting() -> None:
    result = invoke("ask", "-b", "echo", stdin_isatty=True)
    assert result.returncode == 2
    assert one_line_error(result) == "no prompt given; write one after `ask`, or pipe text on stdin"


@pytest.mark.e2e
def test_bare_chatcli_with_piped_stdin_answers_once_without_prompt_toolkit() -> None:
    probe = exit_probe(
        "'loaded:%s' % ('prompt_toolkit' in sys.modules)",
        run="import runpy\nsys.argv = ['chatcli', '-b', 'echo']\nrunpy.run_module('chatcli', run_name='__main__')",
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], input=b"hi", capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stdout == b"Echo: hi\n"
    assert result.stderr.endswith(b"loaded:False\n")


# -- terminals ----------------------------------------------------------------------------------------------


def terminal_output(server: OpenAIServer, **env: str) -> bytes:
    """What `chatcli ask` writes to stdout when stdout is an 80x24 terminal."""
    server.enqueue(sse_reply(*ANSWER))
    result = invoke(
        "ask",
        "--base-url",
        server.url,
        "hi",
        env={"COLUMNS": "80", "LINES": "24", **env},
        stdin_isatty=True,
        stdout_isatty=True,
        stderr_isatty=True,
    )
    assert result.returncode == 0
    return result.stdout


def colour_codes(output: bytes) -> list[str]:
    """The SGR parameters that set a foreground or background colour."""
    found = []
    for params in SGR.findall(output):
        numbers = [int(p) for p in params.decode().split(";") if p]
        found += [str(n) for n in numbers if (30 <= n <= 49 and n not in (39, 49)) or 90 <= n <= 107]
    return found


def test_markdown_on_a_terminal_is_coloured_but_not_with_no_color(server: OpenAIServer) -> None:
    coloured = terminal_output(server, TERM="xterm-256color")
    assert colour_codes(coloured)  # the check below would notice colour
    plain = terminal_output(server, TERM="xterm-256color", NO_COLOR="1")
    assert colour_codes(plain) == []
    assert b"Title" in plain and b"print('hi')" in plain


def test_term_dumb_gives_plain_incremental_text_without_escape_sequences(server: OpenAIServer) -> None:
    output = terminal_output(server, TERM="dumb")
    assert b"\x1b" not in output
    assert output == "".join(ANSWER).encode()
