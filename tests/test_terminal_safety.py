"""Terminal safety everywhere: JSON on a terminal is escaped, invisible marks are shown (or dropped
from titles), and `config show` keeps credentials of base URLs to itself."""

from __future__ import annotations

import os
from pathlib import Path

import pexpect
import pytest

from chatcli.render.sanitize import INVISIBLE_MARKS, StreamSanitizer, sanitize, sanitize_title
from tests.conftest import CHATCLI, write_config
from tests.inprocess import invoke

HOSTILE = "evil\u202ereversed\x9b31m\u200bhidden"


def on_a_terminal(*args: str) -> str:
    """Everything `chatcli ARGS` prints on a pty."""
    child = pexpect.spawn(
        CHATCLI, list(args), env={**os.environ, "TERM": "xterm-256color"}, encoding="utf-8", timeout=20
    )
    output = child.read()
    child.close()
    assert child.exitstatus == 0, output
    return str(output)


def test_invisible_marks_are_shown_in_text_and_dropped_from_titles() -> None:
    text = "".join(f"a{chr(code)}" for code in INVISIBLE_MARKS)
    shown = sanitize(text)
    for code in INVISIBLE_MARKS:
        assert f"<U+{code:04X}>" in shown
        assert chr(code) not in shown
    assert sanitize_title(text) == "a" * len(INVISIBLE_MARKS)
    assert sanitize_title("tab\there\x1b") == "tab\there^["
    stream = StreamSanitizer()
    assert "".join(stream.feed(piece) for piece in ("x\u200b", "\u2028y")) == "x<U+200B><U+2028>y"
    marks = "\u200b\u200e\u200f\u061c\ufeff\u2028\u2029\u00ad"
    assert sanitize(marks) == "<U+200B><U+200E><U+200F><U+061C><U+FEFF><U+2028><U+2029><U+00AD>"


def test_joiners_that_emoji_and_scripts_need_are_kept() -> None:
    family, persian = (
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    )
    assert sanitize(family) == family and sanitize(persian) == persian


@pytest.mark.e2e
def test_history_json_on_a_terminal_escapes_controls_and_bidi_and_is_raw_when_piped() -> None:
    assert invoke("ask", "-b", "echo", HOSTILE).returncode == 0
    piped = invoke("history", "list", "--json").stdout.decode()
    assert HOSTILE in piped  # piped: the stored text exactly (JSON parsers read it back)
    conversation_id = invoke("history", "list").stdout.split()[0].decode()
    for args in (["list", "--json"], ["show", "--json", conversation_id], ["search", "--json", "hidden"]):
        output = on_a_terminal("history", *args)
        assert "\u202e" not in output and "\x9b" not in output and "\u200b" not in output, args
        assert "\\u202e" in output and "\\u009b" in output, args


@pytest.mark.e2e
def test_history_list_on_a_terminal_drops_invisible_marks_from_titles() -> None:
    assert invoke("ask", "-b", "echo", "zero\u200bwidth\u2066").returncode == 0
    output = on_a_terminal("history", "list")
    assert "zerowidth<U+2066>" in output


def test_config_show_redacts_credentials_and_query_of_the_base_url() -> None:
    result = invoke(
        "config", "show", env={"OPENAI_BASE_URL": "https://me:s3cret@llm.example:8443/v1?api-key=k3y#frag"}
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert '"https://llm.example:8443/v1"' in out
    assert "s3cret" not in out and "k3y" not in out and "me:" not in out


def test_config_show_redacts_the_credentials_of_a_proxy(isolated_home: Path) -> None:
    write_config(isolated_home, 'proxy = "http://me:s3cret@proxy.example:3128"\n')
    result = invoke("config", "show")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert '"http://proxy.example:3128"' in out
    assert "s3cret" not in out and "me:" not in out
