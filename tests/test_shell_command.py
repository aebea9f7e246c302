"""`chatcli cmd` without a terminal (in-process): the command printed exactly and never run, the system prompt
(README's, or `cmd_system`), the fence taken off, the outcome in the library, no option that runs without
asking; how a command is shown on a terminal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from chatcli.core.errors import ChatError
from chatcli.core.shell_command import DEFAULT_CMD_SYSTEM, ShellContext, command_of
from chatcli.render.shown_command import command_lines
from chatcli.repl.foreground import run_in_foreground
from chatcli.storage.library import LATEST, Library
from tests.conftest import write_config
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply, sse_reply

README = Path(__file__).resolve().parent.parent / "README.md"


def library(home: Path) -> Library:
    return Library(home / ".local" / "share" / "chatcli" / "library.db")


def test_piped_cmd_prints_exactly_the_command_runs_nothing_and_records_it_not_executed(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    server.enqueue(sse_reply("```bash\n", f"touch {marker}\n", "```\n"))
    done = invoke("cmd", "--base-url", server.url, "make", "a", "marker", env={"SHELL": "/usr/bin/zsh"})
    assert (done.returncode, done.stdout, done.stderr) == (0, f"touch {marker}\n".encode(), b"")
    assert not marker.exists()
    system, task = server.bodies[0]["messages"]
    assert system == {
        "role": "system",
        "content": ShellContext(
            "/usr/bin/zsh", ShellContext.here({}).system, os.path.basename(os.getcwd())
        ).system_prompt(),
    }
    assert "zsh" in system["content"] and "{" not in system["content"]
    assert task == {"role": "user", "content": "make a marker"}
    with library(isolated_home) as recorded:
        messages = recorded.load(recorded.resolve(LATEST)).messages
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert messages[-1].text == "```bash\n" + f"touch {marker}\n```\n"  # recorded as it came
    assert messages[-1].extra == {"command": {"executed": False, "exit_status": None}}
    shown = invoke("history", "show", LATEST)
    assert f"```\ntouch {marker}\n```\n\n(not executed)" in shown.stdout.decode()


def test_cmd_system_setting_replaces_the_prompt_with_its_placeholders_filled(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, 'cmd_system = "One {shell} command in {cwd}, {unknown} stays."\n')
    server.enqueue(sse_reply("ls"))
    done = invoke("cmd", "--base-url", server.url, "--no-log", "list", env={"SHELL": "/bin/fish"})
    assert (done.returncode, done.stdout) == (0, b"ls\n")
    cwd = os.path.basename(os.getcwd())
    assert server.bodies[0]["messages"][0]["content"] == f"One fish command in {cwd}, {{unknown}} stays."
    assert not (isolated_home / ".local" / "share" / "chatcli" / "library.db").exists()  # --no-log


def test_readme_shows_the_built_in_system_prompt() -> None:
    assert DEFAULT_CMD_SYSTEM in " ".join(README.read_text(encoding="utf-8").split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cmd", "--yes", "x"], "No such option: --yes"),
        (["cmd", "-y", "x"], "No such option: -y"),
        (["--tools", "notes", "cmd", "x"], "--tools does not apply to `cmd`"),
        (["cmd", "-b", "echo", "--no-stdin"], "no task given"),
    ],
)
def test_cmd_refuses_options_that_do_not_apply_and_has_none_that_runs_without_asking(
    args: list[str], message: str
) -> None:
    done = invoke(*args)
    assert done.returncode == 2
    assert message in done.stderr.decode()


def test_the_task_may_come_from_stdin() -> None:
    done = invoke("cmd", "-b", "echo", input=b"list big files\n")
    assert (done.returncode, done.stdout) == (0, b"Echo: list big files\n")


@pytest.mark.parametrize(
    ("answer", "command"),
    [
        ("ls -la\n", "ls -la"),
        ("```sh\nfind . -size +100M\n```", "find . -size +100M"),
        ("~~~\nfor f in *; do\n  echo $f\ndone\n~~~\n", "for f in *; do\n  echo $f\ndone"),
        ("`du -sh .`", "du -sh ."),
        ("Run this:\n```sh\nls\n```", "Run this:\n```sh\nls\n```"),  # prose stays: what is shown is what runs
    ],
)
def test_a_fence_around_the_whole_answer_is_taken_off(answer: str, command: str) -> None:
    assert command_of(answer) == command


def test_a_command_shows_every_hidden_character_and_each_line_behind_the_gutter() -> None:
    hostile = "echo hi\x1b[2J\r\nrm -rf \u202e~\u200b\u200d\u00a0x\t\x7f\x9b\U000e0041\n\necho done"
    assert command_lines(hostile) == [
        "│ echo hi^[[2J^M",
        "│ rm -rf <U+202E>~<U+200B><U+200D><U+00A0>x^I^?<U+009B><U+E0041>",
        "│ ",
        "│ echo done",
    ]
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e]", "".join(command_lines(hostile)))


def test_a_backend_error_is_the_same_one_line_as_asks(server: OpenAIServer) -> None:
    failure = json_reply(401, {"error": {"message": "bad key", "type": "auth"}})
    server.enqueue(failure, failure)
    asked = invoke("ask", "--base-url", server.url, "list files")
    commanded = invoke("cmd", "--base-url", server.url, "list files")
    assert (commanded.returncode, commanded.stdout) == (asked.returncode, b"") == (1, b"")
    assert commanded.stderr == asked.stderr and len(commanded.stderr.splitlines()) == 1


def test_an_answer_without_a_command_is_an_error_and_prints_nothing(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("```\n\n```"))
    done = invoke("cmd", "--base-url", server.url, "list files")
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        b"",
        b"chatcli: error: the model sent no command\n",
    )


@pytest.mark.parametrize(("command", "status"), [("exit 7", 7), ("kill -TERM $$", 128 + 15), ("true", 0)])
def test_the_exit_status_is_the_shells_view_of_how_the_command_ended(command: str, status: int) -> None:
    assert run_in_foreground("/bin/sh", command, None, os.environ) == status


def test_a_command_holding_a_nul_or_a_shell_that_cannot_start_runs_nothing() -> None:
    with pytest.raises(ChatError, match="NUL"):
        run_in_foreground("/bin/sh", "echo a\0b", None, os.environ)
    with pytest.raises(
        ChatError, match=r"^cannot run /no/such/shell: No such file or directory; nothing ran$"
    ):
        run_in_foreground("/no/such/shell", "true", None, os.environ)
