"""Untrusted text never drives the terminal (reliability checklist, section A): controls made visible, also
when split across chunks, on a terminal (the REPL's on a real pseudo-terminal, e2e); pipes stay byte-exact (e2e)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from chatcli.render.sanitize import StreamSanitizer, sanitize
from tests.conftest import run_chatcli
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, spawn_chatcli

# A model told by a prompt injection to take over the terminal, its sequences cut across chunks.
HOSTILE = [
    "safe ",
    "\x1b]52;c;",  # OSC 52: write the clipboard
    "aGVsbG8=\x07 ",
    "\x1b",
    "[2J",  # clear the screen
    "\x1b[",
    "6n ",  # DSR: the terminal types a reply into our input
    "\x1bP+q",  # DCS
    "\x1b\\ ",
    "\u009b",  # C1 CSI
    "31m ",
    "\u009d8;;http://evil\u009c",  # C1 OSC 8
    "link ",
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",  # a hidden link target
    " \u202egnp.exe\u202c",  # bidi override: shows as "exe.png"
    " \U000e0041\U000e0042",  # invisible tag characters
    "\r",
    "\n",
    "end\n",
]
FORBIDDEN = [b"\x1b]", b"\x1bP", b"\x1b[6n", b"\x1b[2J", b"\x07", "\u202e".encode(), "\U000e0041".encode()]
C1_IN_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")


def assert_inert(output: bytes) -> None:
    for sequence in FORBIDDEN:
        assert sequence not in output, f"{sequence!r} reached the terminal"
    assert not C1_IN_UTF8.search(output)


# -- the filter ---------------------------------------------------------------------------------------------


def test_every_c0_control_but_newline_and_tab_del_and_c1_become_visible() -> None:
    controls = "".join(chr(code) for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
    shown = sanitize(controls)
    assert "\t" in shown and "\n" in shown
    assert not any((ord(char) < 0x20 and char not in "\t\n") or 0x7F <= ord(char) < 0xA0 for char in shown)
    assert sanitize("\x1b[2J\x07\x7f\u009b") == "^[[2J^G^?<U+009B>"


def test_crlf_becomes_lf_and_a_lone_cr_is_visible() -> None:
    assert sanitize("a\r\nb\rc") == "a\nb^Mc"


def test_bidi_overrides_isolates_and_tag_characters_are_shown() -> None:
    assert sanitize("\u202egnp.exe\u202c") == "<U+202E>gnp.exe<U+202C>"
    assert sanitize("\u2066x\u2069") == "<U+2066>x<U+2069>"
    assert sanitize("\U000e0041") == "<U+E0041>"


def test_ordinary_text_is_untouched() -> None:
    text = "Grüße, 你好, emoji 🎉, math ∑, tab\tand newline\n"
    assert sanitize(text) == text


def test_sequences_split_anywhere_across_chunks_come_out_as_if_whole() -> None:
    whole = "".join(HOSTILE)
    expected = sanitize(whole)
    for cut in range(1, len(whole)):
        stream = StreamSanitizer()
        out = stream.feed(whole[:cut]) + stream.feed(whole[cut:]) + stream.flush()
        assert out == expected, cut


def test_a_crlf_split_between_chunks_is_one_newline_and_a_final_cr_is_kept_visible() -> None:
    stream = StreamSanitizer()
    assert stream.feed("a\r") + stream.feed("\nb\r") + stream.flush() == "a\nb^M"


def test_markdown_links_show_their_real_target() -> None:
    from rich.console import Console

    from chatcli.render.markdown_renderer import MarkdownRenderer

    out = io.StringIO()
    with MarkdownRenderer(Console(file=out, force_terminal=True, width=100)) as renderer:
        renderer.feed("Download [the update](https://evil.example/payload) now.\n")
    shown = out.getvalue()
    assert "https://evil.example/payload" in shown
    assert "\x1b]8" not in shown


# -- on a terminal -------------------------------------------------------------------------------------------


def run_on_terminal(*args: str) -> tuple[bytes, int]:
    """What chatcli writes to a 100x24 terminal on stdin, stdout and stderr, and its exit status."""
    terminal = {"TERM": "xterm-256color", "COLUMNS": "100", "LINES": "24"}
    result = invoke(*args, env=terminal, stdin_isatty=True, stdout_isatty=True, stderr_isatty=True)
    return result.stdout + result.stderr, result.returncode


@pytest.mark.parametrize("mode", ["--markdown", "--plain"])
def test_hostile_answer_is_inert_on_a_terminal(server: OpenAIServer, mode: str) -> None:
    server.enqueue(sse_reply(*HOSTILE))
    output, status = run_on_terminal("ask", "--base-url", server.url, mode, "hi")
    assert status == 0
    assert_inert(output)
    text = output.decode()
    assert "^[]52;c;aGVsbG8=^G" in text and "^[[2J" in text and "<U+009B>" in text
    assert "<U+202E>gnp.exe" in text and "end" in text


def test_hostile_server_error_text_is_inert(server: OpenAIServer) -> None:
    server.enqueue(json_reply(400, {"error": {"message": "bad \x1b]52;c;aGk=\x07 request \x1b[2J"}}))
    output, status = run_on_terminal("ask", "--base-url", server.url, "hi")
    assert status == 1
    assert_inert(output)
    assert "bad ^[]52;c;aGk=^G request ^[[2J" in output.decode()


def test_hostile_model_ids_are_inert(server: OpenAIServer) -> None:
    server.models = ["good-model", "evil\x1b[2J\x1b]52;c;aGk=\x07model"]
    output, status = run_on_terminal("models", "--base-url", server.url)
    assert status == 0
    assert_inert(output)
    assert "evil^[[2J^[]52;c;aGk=^Gmodel" in output.decode()


@pytest.mark.e2e
def test_piped_output_is_byte_exact_even_when_hostile_and_forced_to_colour(server: OpenAIServer) -> None:
    server.enqueue(sse_reply(*HOSTILE))
    result = run_chatcli(
        "ask", "--base-url", server.url, "hi", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    )
    assert result.returncode == 0
    assert result.stdout == "".join(HOSTILE).encode()


@pytest.mark.e2e
def test_a_loaded_hostile_conversation_is_shown_inert_in_the_repl(tmp_path: Path) -> None:
    chat = tmp_path / "hostile.json"
    messages = [
        {"role": "user", "content": "copy \x1b]52;c;aGk=\x07 this"},
        {"role": "assistant", "content": "wiped \x1b[2J\u009b31m \u202eexe.txt"},
    ]
    chat.write_text(json.dumps({"version": 1, "messages": messages}))
    child = spawn_chatcli("-b", "echo", "-l", str(chat), dimensions=(24, 100), encoding=None)
    shown = expect(
        child, TOOLBAR
    )  # up to the first prompt, prompt_toolkit's cursor-position requests left out
    child.sendeof()
    assert exit_code(child) == 0
    assert_inert(shown)
    text = shown.decode()
    assert (
        "^[]52;c;aGk=^G" in text and "^[[2J" in text and "<U+009B>31m" in text and "<U+202E>exe.txt" in text
    )
