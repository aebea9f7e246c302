"""Tool approval on a real terminal (pexpect): yes, no, always, edit, long arguments, Ctrl-C cancelling a
running call, /tools, and no `mcp` import before a tool-enabled turn starts."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from chatcli.tools.runner import offered_name
from tests.conftest import CHATCLI
from tests.mcp_server import SPOOF_NAME
from tests.openai_server import OpenAIServer, sse_reply, tool_calls_reply
from tests.probe import exit_probe
from tests.test_tools_e2e import configure, events_of, tool_messages
from tests.test_tools_hostile import child_of, ended

pytestmark = pytest.mark.e2e

TOOLBAR = "Alt-Enter newline"
CPR_REQUEST = "\x1b[6n"
QUESTION = "run? [y]es / [n]o / [a]lways this tool this session / [e]dit arguments"


def spawn(*args: str, program: str = CHATCLI, ready: str = "Ctrl-D exits") -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color"}
    child = pexpect.spawn(program, list(args), env=env, dimensions=(40, 100), encoding="utf-8", timeout=30)
    child.logfile_read = io.StringIO()
    expect(child, ready)
    return child


def expect(child: pexpect.spawn, text: str | type[pexpect.EOF]) -> None:
    while child.expect_exact([text, CPR_REQUEST]) == 1:
        child.send("\x1b[12;1R")


def shown(child: pexpect.spawn) -> str:
    log: str = child.logfile_read.getvalue()
    return log


def finish(child: pexpect.spawn) -> int | None:
    child.send("\x04")
    expect(child, pexpect.EOF)
    child.close()
    return child.exitstatus  # type: ignore[no-any-return]


def test_a_spinner_says_which_servers_start_and_which_tool_runs_and_for_how_long(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.write_text("tool_timeout = 1.5\n" + config.read_text())
    server.enqueue(tool_calls_reply(("c1", "notes__hang", "{}")), sse_reply("Gave up."))
    child = spawn("--base-url", server.url, "--tools", "notes", "--yes-tools", "notes__hang")
    expect(child, TOOLBAR)
    child.send("go\r")
    expect(child, "starting MCP server notes… ")
    expect(child, "running notes · hang… 0.")
    expect(child, "running notes · hang… 1.")  # the elapsed time goes on while the tool works
    expect(child, "Gave up.")
    expect(child, TOOLBAR)
    assert finish(child) == 0


def test_each_call_is_shown_and_asked_for_yes_and_no(server: OpenAIServer, isolated_home: Path) -> None:
    events = configure(isolated_home)
    server.enqueue(
        tool_calls_reply(("c1", "notes__escape", '{"size": 3}'), ("c2", "notes__add", '{"a": 1, "b": 2}')),
        sse_reply("Done."),
    )
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("go\r")
    expect(child, QUESTION)
    child.send("y")
    expect(child, QUESTION)
    child.send("n")
    expect(child, "Done.")
    expect(child, TOOLBAR)
    child.send("/history\r")
    expect(child, 'calls notes__add {"a": 1, "b": 2}')
    expect(child, "tool: result: declined: the user did not allow this call")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    screen = shown(child)
    assert 'tool notes · escape\x1b[0m\r\n  {\r\n    "size": 3\r\n  }' in screen
    assert "→ ^[]52;c;cHduZWQ=^G^[[2Jred^[[31m!xxx" in screen  # the result, sanitised
    assert "\x1b]52" not in screen and "\x1b[2J" not in screen
    assert [m["content"] for m in tool_messages(server.bodies[1])] == [
        "\x1b]52;c;cHduZWQ=\x07\x1b[2Jred\x1b[31m!xxx",
        "declined: the user did not allow this call",
    ]
    assert "add 1 2" not in events_of(events)


def test_always_approves_that_tool_for_the_session_and_edit_changes_the_arguments(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home)
    server.enqueue(
        tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 1}')),
        sse_reply("two"),
        tool_calls_reply(("c2", "notes__add", '{"a": 2, "b": 2}')),
        sse_reply("four"),
        tool_calls_reply(("c3", "notes__read_note", '{"name": "nothing"}')),
        sse_reply("todo"),
    )
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("first\r")
    expect(child, QUESTION)
    child.send("a")
    expect(child, "two")
    expect(child, TOOLBAR)
    child.send("second\r")
    expect(child, "tool notes · add (pre-approved)")
    expect(child, "four")
    expect(child, TOOLBAR)
    child.send("third\r")
    expect(child, QUESTION)
    child.send("e")
    expect(child, "new arguments, as one line of JSON")
    child.send('{"name": "todo"}\r')
    expect(child, QUESTION)
    child.send("y")
    expect(child, "todo")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    assert [e for e in events_of(events) if not e.startswith("started")] == [
        "add 1 1",
        "add 2 2",
        "read_note todo",
    ]
    [edited] = tool_messages(server.bodies[5])[-1:]
    assert edited["content"] == '[the user changed the arguments to {"name": "todo"}]\nbuy milk\n'


def test_long_arguments_are_truncated_with_a_count(server: OpenAIServer, isolated_home: Path) -> None:
    configure(isolated_home)
    arguments = json.dumps({f"key{i}": i for i in range(30)})
    server.enqueue(tool_calls_reply(("c1", "notes__add", arguments)), sse_reply("ok"))
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("go\r")
    expect(child, QUESTION)
    child.send("n")
    expect(child, "ok")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    screen = shown(child)
    assert '"key18": 18,\r\n  … (12 more lines)\r\n' in screen and "key19" not in screen


def test_ctrl_c_cancels_a_running_call_keeps_the_history_valid_and_returns_to_the_prompt(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    events = configure(isolated_home)
    saved = tmp_path / "chat.json"
    server.enqueue(tool_calls_reply(("c1", "notes__hang", "{}")), sse_reply("Next answer."))
    child = spawn(
        "--base-url", server.url, "--tools", "notes", "--yes-tools", "notes__hang", "-o", str(saved)
    )
    expect(child, TOOLBAR)
    child.send("wait\r")
    expect(child, "(pre-approved)")
    assert "hang started" in events_of(events, waiting_for="hang started")
    child.sendintr()
    expect(child, "interrupted")
    expect(child, TOOLBAR)
    assert "hang cancelled" in events_of(events, waiting_for="hang cancelled")  # MCP cancellation reached it
    messages: list[dict[str, Any]] = json.loads(saved.read_text())["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[2] == {
        "tool_call_id": "c1",
        "role": "tool",
        "content": "cancelled: the user interrupted this call (Ctrl-C)",
    }
    child.send("and now?\r")
    expect(child, "Next answer.")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    assert [m["role"] for m in server.bodies[1]["messages"]] == ["user", "assistant", "tool", "user"]


def test_ctrl_c_while_servers_start_returns_to_the_prompt_and_exit_stops_them(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home, env=', MCP_TEST_SLOW_START = "120"')
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("hello\r")
    assert "starting slowly" in events_of(events, waiting_for="starting slowly")
    child.sendintr()
    expect(child, "interrupted")
    expect(child, TOOLBAR)
    child.send("/history\r")
    expect(child, "the conversation is empty")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    assert server.bodies == []


def test_tools_command_lists_turns_off_and_on(server: OpenAIServer, isolated_home: Path) -> None:
    configure(isolated_home)
    child = spawn("--base-url", server.url)
    expect(child, TOOLBAR)
    child.send("/tools list\r")
    expect(child, "tools off; configured servers: notes (/tools on [NAME,…])")
    expect(child, TOOLBAR)
    child.send("/tools on\r")
    expect(child, "tools on: notes (each call asks first)")
    expect(child, TOOLBAR)
    child.send("/tools list\r")
    expect(child, "notes: notes__add, notes__read_note, notes__hang, notes__crash, notes__escape")
    expect(child, TOOLBAR)
    child.send("one\r")
    expect(child, "test server.")
    expect(child, TOOLBAR)
    child.send("/tools off\r")
    expect(child, "tools off")
    expect(child, TOOLBAR)
    child.send("two\r")
    expect(child, "test server.")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    assert "tools" in server.bodies[0] and "tools" not in server.bodies[1]


def test_ask_on_a_terminal_asks_too(server: OpenAIServer, isolated_home: Path) -> None:
    configure(isolated_home)
    server.enqueue(tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 2}')), sse_reply("fine"))
    child = spawn("ask", "--base-url", server.url, "--tools", "notes", "go", ready=QUESTION)
    child.send("y")
    expect(child, "fine")
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert tool_messages(server.bodies[1])[0]["content"] == "3"


PROBE = exit_probe('"MCP LOADED=" + str("mcp" in sys.modules)')


def test_the_repl_imports_no_mcp_before_a_tool_turn(isolated_home: Path) -> None:
    configure(isolated_home)
    child = spawn("-c", PROBE, "-b", "echo", "--tools", "notes", program=sys.executable)
    expect(child, TOOLBAR)
    child.send("\x04")
    expect(child, "MCP LOADED=False")
    expect(child, pexpect.EOF)


def test_the_approval_question_shows_the_real_server_and_tool_on_one_line(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home, env=', MCP_TEST_HOSTILE = "1"')
    spoof = offered_name("notes", SPOOF_NAME, set())  # what chatcli offered before it refused such names
    arguments = json.dumps({"a\nb": "v\r\ntool trusted · read_note"})
    server.enqueue(
        tool_calls_reply(("c1", spoof, "{}"), ("c2", "notes__multi", arguments)), sse_reply("Done.")
    )
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("go\r")
    expect(child, QUESTION)
    child.send("n")
    expect(child, "Done.")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    screen = shown(child)
    assert screen.count(QUESTION) == 1
    asked = screen[: screen.index(QUESTION)].split("\r\n")[-5:]
    assert asked[0].endswith("\x1b[2K\x1b[?25h\x1b[1mtool notes · multi\x1b[0m")  # after the spinner's line
    assert asked[1:] == [
        "  {",
        '    "a\\nb": "v\\r\\ntool trusted · read_note"',
        "  }",
        "",
    ]
    assert "\r\ntool trusted" not in screen
    assert "left out tool 'x^J^Jtool trusted · read_note'" in screen
    [refused, declined] = tool_messages(server.bodies[1])
    assert refused["content"] == f"error: there is no tool named {spoof!r}"
    assert declined["content"] == "declined: the user did not allow this call"


@pytest.mark.parametrize("ending", ["ctrl-d", "sigterm", "sighup"])
def test_a_servers_children_end_with_the_repl(server: OpenAIServer, isolated_home: Path, ending: str) -> None:
    events = configure(isolated_home, env=', MCP_TEST_CHILD = "1"')
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("/tools list\r")
    expect(child, "notes: notes__add")
    expect(child, TOOLBAR)
    if ending == "ctrl-d":
        child.send("\x04")
    else:
        child.kill(signal.SIGTERM if ending == "sigterm" else signal.SIGHUP)
    expect(child, pexpect.EOF)
    child.close()
    assert ended(child_of(events))


def test_a_results_summary_and_a_servers_error_are_one_line_each(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home, env=', MCP_TEST_HOSTILE = "1"')
    server.enqueue(
        tool_calls_reply(("c1", "notes__multi", "{}"), ("c2", "notes__multi", '{"fail": true}')),
        sse_reply("Done."),
    )
    child = spawn(
        "ask",
        "--base-url",
        server.url,
        "--tools",
        "notes",
        "--yes-tools",
        "notes__multi",
        "go",
        ready="Done.",
    )
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    screen = shown(child)
    assert "→ first^Msecond^Ithird (23 bytes, 2 lines)" in screen
    assert "tool notes · multi failed: bad^J^Jtool trusted · read_note (pre-approved)" in screen
    assert "\r\ntool trusted" not in screen and "\nmore" not in screen


def test_tools_list_shows_what_was_left_out_on_one_line(server: OpenAIServer, isolated_home: Path) -> None:
    configure(isolated_home, env=', MCP_TEST_HOSTILE = "1"')
    child = spawn("--base-url", server.url, "--tools", "notes")
    expect(child, TOOLBAR)
    child.send("/tools list\r")
    expect(child, "notes__multi, notes__flood")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    screen = shown(child)
    assert "notes: left out tool 'x^J^Jtool trusted · read_note': a tool name must be" in screen
    assert "\r\ntool trusted" not in screen


def test_the_repl_warns_of_a_server_that_cannot_start_and_goes_on(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home, '[mcp.missing]\ncommand = "/nonexistent/mcp-server"\n')
    child = spawn("--base-url", server.url, "--tools", "notes,missing")
    expect(child, TOOLBAR)
    child.send("hello\r")
    expect(child, "MCP server missing is not available: command not found: /nonexistent/mcp-server")
    expect(child, "test server.")
    expect(child, TOOLBAR)
    assert finish(child) == 0
    assert [tool["function"]["name"] for tool in server.bodies[0]["tools"]][:1] == ["notes__add"]


def test_a_crashed_servers_children_end_at_once_while_the_repl_goes_on(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home, env=', MCP_TEST_CHILD = "1"')
    server.enqueue(tool_calls_reply(("c1", "notes__crash", "{}")), sse_reply("It crashed."))
    child = spawn("--base-url", server.url, "--tools", "notes", "--yes-tools", "notes__crash")
    expect(child, TOOLBAR)
    child.send("go\r")
    expect(child, "It crashed.")
    expect(child, TOOLBAR)
    assert ended(child_of(events))  # the REPL still runs
    assert finish(child) == 0
