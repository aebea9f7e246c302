"""`chatcli cmd` and `/cmd` on a real pseudo-terminal (pexpect) against the scripted server: each key, nothing run
without `e`, the command in the foreground with the terminal and its exit status chatcli's, hostile and
multi-line commands shown whole and inert, a piped stdout that never runs anything."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from chatcli.core.shell_command import DESCRIBE_PROMPT
from chatcli.repl.command_mode import MENU
from chatcli.storage.library import LATEST, Library
from tests.conftest import CHATCLI
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import TOOLBAR, expect, say, spawn_chatcli

pytestmark = pytest.mark.e2e


def spawn_cmd(
    server: OpenAIServer, *task: str, colours: bool = False, shell: str = "/bin/sh"
) -> pexpect.spawn:
    """`chatcli cmd TASK`, by default without colours (the command's lines read as they are, and answers are
    not rendered)."""
    env = {"SHELL": shell} if colours else {"SHELL": shell, "NO_COLOR": "1"}
    return spawn_chatcli("cmd", "--base-url", server.url, *task, env=env)


def unstyled(shown: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", shown)


def at_menu(child: pexpect.spawn) -> str:
    """What the terminal showed up to the question."""
    shown: str = expect(child, MENU)
    return shown


def ended(child: pexpect.spawn) -> tuple[str, int | None]:
    rest: str = expect(child, pexpect.EOF)
    child.close()
    return rest, child.exitstatus


def recorded_messages(home: Path) -> list[dict[str, object]]:
    with Library(home / ".local" / "share" / "chatcli" / "library.db") as library:
        conversation = library.load(library.resolve(LATEST))
    return [{"role": m.role, "text": m.text, **m.extra} for m in conversation.messages]


def python_command(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def test_e_runs_the_command_in_the_foreground_and_its_exit_status_is_chatclis(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    # The command checks that its process group holds the terminal, then exits 3.
    code = (
        f"import os, sys; open({str(marker)!r}, 'w').write(str(os.tcgetpgrp(0) == os.getpgrp())); sys.exit(3)"
    )
    server.enqueue(sse_reply(f"```sh\n{python_command(code)}\n```"))
    child = spawn_cmd(server, "make", "a", "marker")
    assert "│ " + python_command(code) in at_menu(child)
    assert not marker.exists()
    child.send("e")
    _, status = ended(child)
    assert status == 3
    assert marker.read_text() == "True"
    assert recorded_messages(isolated_home)[-1]["command"] == {"executed": True, "exit_status": 3}


def test_ctrl_c_while_the_command_runs_goes_to_the_command_not_to_chatcli(server: OpenAIServer) -> None:
    code = "import sys, time\nprint('started', flush=True)\ntry:\n    time.sleep(30)\nexcept KeyboardInterrupt:\n    sys.exit(5)"
    server.enqueue(sse_reply(python_command(code)))
    # bash runs a lone command in its own place (dash would wait for it, and end itself by the same SIGINT).
    child = spawn_cmd(server, "wait", shell=shutil.which("bash") or pytest.skip("no bash"))
    at_menu(child)
    child.send("e")
    expect(child, "started")
    child.send("\x03")
    rest, status = ended(child)
    assert status == 5  # the command's own handler ran; chatcli neither stopped nor said "interrupted"
    assert "interrupted" not in rest


@pytest.mark.parametrize("key", ["a", "\x1b", "\x03", "\x04"], ids=["a", "Esc", "Ctrl-C", "Ctrl-D"])
def test_abort_keys_run_nothing_and_exit_1(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path, key: str
) -> None:
    marker = tmp_path / "marker"
    server.enqueue(sse_reply(f"touch {marker}"))
    child = spawn_cmd(server, "make", "a", "marker")
    at_menu(child)
    child.send(key)
    rest, status = ended(child)
    assert status == 1
    assert "aborted; nothing ran" in rest
    assert not marker.exists()
    assert recorded_messages(isolated_home)[-1]["command"] == {"executed": False, "exit_status": None}


def test_unknown_keys_ask_again_copy_sends_osc_52_and_describe_explains_without_running(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    command = f"touch {marker}"
    server.enqueue(sse_reply(command), sse_reply("It **creates** the file."))
    child = spawn_cmd(server, "make", "a", "marker", colours=True)
    at_menu(child)
    child.send("x")
    at_menu(child)
    child.send("\x1b[A")  # an arrow key's escape sequence is no Esc: it asks again
    at_menu(child)
    child.send("c")
    payload = base64.b64encode(command.encode()).decode()
    assert f"\x1b]52;c;{payload}\x07" in at_menu(child)
    child.send("d")
    described = at_menu(child)
    assert "creates" in described and "**" not in described  # rendered like an answer
    assert "│ " + command in unstyled(described)  # and the command shown again before the question
    child.send("a")
    _, status = ended(child)
    assert status == 1
    assert not marker.exists()
    assert server.bodies[1]["messages"][-1] == {"role": "user", "content": DESCRIBE_PROMPT}
    # The description is a side question: the library holds the task and the command only.
    assert [m["role"] for m in recorded_messages(isolated_home)] == ["system", "user", "assistant"]


def test_r_revises_in_the_same_conversation_and_e_runs_the_new_command(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    server.enqueue(sse_reply(f"touch {first}"), sse_reply(f"touch {second}"))
    child = spawn_cmd(server, "make", "a", "marker")
    at_menu(child)
    child.send("r")
    expect(child, "change: ")
    child.send("name it second\r")
    assert f"│ touch {second}" in at_menu(child)
    child.send("e")
    _, status = ended(child)
    assert status == 0
    assert second.exists() and not first.exists()
    sent = server.bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == f"touch {first}" and sent[3]["content"] == "name it second"
    assert [m.get("command") for m in recorded_messages(isolated_home)] == [
        None,
        None,
        {"executed": False, "exit_status": None},
        None,
        {"executed": True, "exit_status": 0},
    ]


def test_a_hostile_command_shows_its_control_characters_and_a_key_typed_ahead_runs_nothing(
    server: OpenAIServer, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    hostile = f"echo safe\x1b[2J\x1b]0;title\x07\r\u202etouch {marker}\u200b"
    server.enqueue(sse_reply(hostile, delay=0.5))
    child = spawn_cmd(server, "say", "hi")
    child.send("e")  # typed before the command was shown: it never answers the question
    shown = at_menu(child)
    assert f"│ echo safe^[[2J^[]0;title^G^M<U+202E>touch {marker}<U+200B>" in shown
    for raw in ("\x1b[2J", "\x1b]0", "\x07", "\r\u202e", "\u202e", "\u200b"):
        assert raw not in shown
    child.send("a")
    _, status = ended(child)
    assert status == 1
    assert not marker.exists()


def test_a_multi_line_command_is_shown_whole_and_runs_whole(server: OpenAIServer, tmp_path: Path) -> None:
    server.enqueue(sse_reply('for word in one two\ndo\n  echo "got $word"\ndone'))
    child = spawn_cmd(server, "count")
    shown = at_menu(child)
    assert "command (4 lines):" in shown
    assert '│ for word in one two\r\n│ do\r\n│   echo "got $word"\r\n│ done\r\n' in shown
    child.send("e")
    rest, status = ended(child)
    assert status == 0
    assert "got one\r\ngot two" in rest


def test_with_stdout_piped_the_command_is_printed_and_never_run(server: OpenAIServer, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    server.enqueue(sse_reply(f"touch {marker}"))
    primary, secondary = os.openpty()  # stdin a terminal, stdout a pipe
    try:
        done = subprocess.run(
            [CHATCLI, "cmd", "--base-url", server.url, "make", "a", "marker"],
            stdin=secondary,
            capture_output=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    assert (done.returncode, done.stdout) == (0, f"touch {marker}\n".encode())
    assert not marker.exists()


def test_slash_cmd_in_the_repl_runs_in_a_conversation_of_its_own(
    server: OpenAIServer, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    server.enqueue(sse_reply(f"touch {marker}"))
    child = spawn_chatcli("--base-url", server.url, env={"SHELL": "/bin/sh"})
    expect(child, TOOLBAR)
    child.send("/cmd make a marker\r")
    expect(child, MENU)
    child.send("e")
    say(child, "", "exit status 0")
    assert marker.exists()
    say(child, "/history", "the conversation is empty")  # the chat's own conversation stays clean
    child.send("\x04")
    expect(child, pexpect.EOF)
