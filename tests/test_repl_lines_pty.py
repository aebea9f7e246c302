"""What the REPL leaves on a real terminal (pexpect, read back through a pyte emulator): a line that says a
turn was interrupted starts a line of its own, keys typed while a command works wait for the next prompt,
a bare `exit` leaves, /model checks the name against the server's list."""

from __future__ import annotations

import io
from pathlib import Path

import pexpect
import pytest

from tests.openai_server import OpenAIServer, tool_calls_reply
from tests.terminal import TOOLBAR, Terminal, exit_code, expect, say, spawn_chatcli
from tests.test_tools_e2e import configure, events_of

pytestmark = pytest.mark.e2e

QUESTION = "run? [y]es / [n]o / [a]lways this tool this session / [e]dit arguments"


def spawn(*args: str) -> pexpect.spawn:
    child = spawn_chatcli(*args, dimensions=(40, 100), timeout=30)
    child.logfile_read = io.StringIO()
    expect(child, "Ctrl-D exits")
    expect(child, TOOLBAR)
    return child


def screen_lines(child: pexpect.spawn) -> list[str]:
    """What a 100-column terminal shows after all the child wrote, scrollback included."""
    terminal = Terminal(100, 40)
    terminal.stream.feed(child.logfile_read.getvalue().encode())
    return terminal.lines()


def test_ctrl_c_at_a_tool_question_says_interrupted_on_a_line_of_its_own(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    server.enqueue(tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 2}')))
    child = spawn("--base-url", server.url, "--tools", "notes")
    child.send("go\r")
    expect(child, QUESTION)
    child.sendintr()
    expect(child, "interrupted")
    expect(child, TOOLBAR)
    lines = screen_lines(child)
    assert QUESTION in lines
    assert any(line.startswith("interrupted") for line in lines)
    assert child.send("\x04") and exit_code(child) == 0


def test_keys_typed_while_a_command_works_wait_for_the_next_prompt(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home, env=', MCP_TEST_SLOW_START = "2"')
    child = spawn("--base-url", server.url, "--tools", "notes")
    child.send("/tools list\r")  # starts the servers: the test server waits 2 s first
    events_of(events, waiting_for="starting slowly")
    child.send("typed ahead")
    before = expect(child, "notes: notes__add")
    assert "typed ahead" not in before  # not echoed while the command worked
    expect(child, "typed ahead")  # in the next prompt's input line
    child.send("\r")
    expect(child, "test server.")
    expect(child, TOOLBAR)
    assert server.bodies[0]["messages"][-1] == {"role": "user", "content": "typed ahead"}
    assert child.send("\x04") and exit_code(child) == 0


def test_a_line_that_is_just_exit_leaves() -> None:
    child = spawn("-b", "echo")
    say(child, "clear", "(/clear is the documented form)", "new conversation")
    child.send("exit\r")
    assert exit_code(child) == 0


def test_model_warns_when_the_server_does_not_list_the_name(server: OpenAIServer) -> None:
    child = spawn("--base-url", server.url)
    child.send("/model nope-model\r")
    expect(child, "model set to nope-model")
    expect(child, "the server does not list nope-model; /model then Tab shows the models it does")
    expect(child, TOOLBAR)
    child.send("\x04")
    assert exit_code(child) == 0


def test_model_says_the_name_was_not_checked_when_the_server_cannot_list_its_models() -> None:
    child = spawn("--base-url", "http://127.0.0.1:9/v1")  # nothing listens there
    child.send("/model some-model\r")
    expect(child, "model set to some-model")
    expect(child, "some-model is not checked: the server's model list is not available")
    expect(child, TOOLBAR)
    child.send("\x04")
    assert exit_code(child) == 0


def test_model_checks_nothing_on_the_echo_backend() -> None:
    child = spawn("-b", "echo")
    say(child, "/model any-name", "model set to any-name")
    child.send("\x04")
    assert exit_code(child) == 0
    assert "not checked" not in child.logfile_read.getvalue()
