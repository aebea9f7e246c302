"""chatcli records into the library, resumes from it, and `chatcli history …`: in-process; concurrent writers
and the REPL on a real terminal (pexpect) are e2e."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import TEST_KEY, run_chatcli, write_config
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli


@pytest.fixture
def library_path(isolated_home: Path) -> Path:
    return isolated_home / ".local" / "share" / "chatcli" / "library.db"


def listed() -> list[dict[str, object]]:
    result = invoke("history", "list", "--json")
    assert result.returncode == 0, result.stderr
    conversations: list[dict[str, object]] = json.loads(result.stdout)
    return conversations


def shown(conversation_id: str) -> list[dict[str, object]]:
    result = invoke("history", "show", conversation_id, "--json")
    assert result.returncode == 0, result.stderr
    messages: list[dict[str, object]] = json.loads(result.stdout)["messages"]
    return messages


def test_ask_records_the_turn_with_model_host_usage_and_never_the_key(
    server: OpenAIServer, library_path: Path
) -> None:
    server.enqueue(
        sse_reply("Paris.", usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11})
    )
    env = {"OPENAI_API_KEY": TEST_KEY}
    result = invoke(
        "ask", "--base-url", server.url, "-m", "qwen", "-s", "terse", "Capital of France?", env=env
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"Paris.\n", b"")
    assert stat.S_IMODE(library_path.parent.stat().st_mode) == 0o700
    for written in library_path.parent.iterdir():  # the database, and its -wal and -shm files if still there
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, written

    [conversation] = listed()
    assert (conversation["model"], conversation["turns"], conversation["title"]) == (
        "qwen",
        1,
        "Capital of France?",
    )
    assert shown(str(conversation["id"])) == [
        {"role": "system", "content": "terse"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    db = sqlite3.connect(library_path)
    host = server.url.split("/")[2]
    assert db.execute(
        "SELECT model, backend, host, status, finish_reason, prompt_tokens, completion_tokens FROM turns"
    ).fetchall() == [("qwen", "openai", host, None, "stop", 9, 2)]
    db.close()
    for written in library_path.parent.iterdir():
        assert TEST_KEY.encode() not in written.read_bytes()


def test_an_answer_that_ends_early_is_recorded_as_failed(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("half an ans", finish_reason=None, done=False))
    result = invoke("ask", "--base-url", server.url, "go")
    assert result.returncode == 1
    [conversation] = listed()
    assert shown(str(conversation["id"]))[-1] == {
        "role": "assistant",
        "content": "half an ans",
        "status": "failed",
    }


def test_no_log_flag_and_config_setting_turn_recording_off(isolated_home: Path, library_path: Path) -> None:
    assert invoke("ask", "-b", "echo", "--no-log", "secret one").stdout == b"Echo: secret one\n"
    assert invoke("--no-log", "-b", "echo", input=b"secret two").stdout == b"Echo: secret two\n"
    write_config(isolated_home, "log = false\n")
    assert invoke("ask", "-b", "echo", "secret three").returncode == 0
    assert not library_path.exists() or listed() == []


def test_continue_and_cid_resume_and_send_the_earlier_messages(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("A1"), sse_reply("A2"), sse_reply("B1"), sse_reply("A3"))
    url = ["--base-url", server.url]
    assert invoke("ask", *url, "-s", "sys", "Q1").returncode == 0
    assert invoke("ask", *url, "-c", "Q2").returncode == 0
    assert server.bodies[1]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    assert invoke("ask", *url, "other topic").returncode == 0
    first = next(c for c in listed() if c["title"] == "Q1")
    prefix = str(first["id"])[:8]
    assert invoke(*url, "--cid", prefix, input=b"Q3").returncode == 0  # bare chatcli with piped stdin
    assert [m["content"] for m in server.bodies[3]["messages"]] == ["sys", "Q1", "A1", "Q2", "A2", "Q3"]
    assert {(c["title"], c["turns"]) for c in listed()} == {("Q1", 3), ("other topic", 1)}


def test_resume_errors_are_usage_errors_and_send_nothing(server: OpenAIServer, tmp_path: Path) -> None:
    empty = invoke("ask", "--base-url", server.url, "-c", "hi")
    assert empty.returncode == 2
    assert empty.stderr == b"chatcli: error: there is no conversation to continue yet; the library is empty\n"
    unknown = invoke("ask", "--base-url", server.url, "--cid", "abc123", "hi")
    assert unknown.returncode == 2 and b"no conversation abc123" in unknown.stderr
    chat = tmp_path / "c.json"
    chat.write_text("[]")
    both = invoke("ask", "--base-url", server.url, "--cid", "abc", "-l", str(chat), "hi")
    assert both.returncode == 2
    assert server.requests == []


WRITER = """
import io, sys
from pathlib import Path
from chatcli.backends.echo import EchoBackend
from chatcli.core.stream import BackendSettings
from chatcli.core.conversation import Conversation
from chatcli.storage.recorder import Recorder
from chatcli.render.plain import PlainRenderer
from chatcli.core.session import Session

recorder = Recorder(Path(sys.argv[1]), lambda message: sys.exit(message), backend="echo")
session = Session(EchoBackend(BackendSettings()), Conversation(), "m", observers=[recorder])
print("ready", flush=True)
sys.stdin.readline()  # both writers start together, and both create the library at once
for n in range(int(sys.argv[3])):
    session.turn(f"{sys.argv[2]} {n}", PlainRenderer(io.BytesIO()))
"""


@pytest.mark.e2e
def test_two_concurrent_writers_both_keep_every_turn(library_path: Path) -> None:
    turns = 200
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(library_path), name, str(turns)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("alpha", "beta")
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write(b"go\n")
        writer.stdin.flush()
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
    conversations = listed()
    assert sorted((c["title"], c["turns"]) for c in conversations) == [("alpha 0", turns), ("beta 0", turns)]
    for conversation in conversations:
        name = str(conversation["title"]).split()[0]
        users = [m["content"] for m in shown(str(conversation["id"])) if m["role"] == "user"]
        assert users == [f"{name} {n}" for n in range(turns)]


def test_export_then_import_round_trips_the_conversation_file(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(
        json.dumps(
            {
                "version": 1,
                "model": "gpt-x",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                    {"role": "assistant", "content": "hello", "status": "interrupted"},
                    {"role": "tool", "content": "42", "tool_call_id": "c1"},
                ],
            }
        )
    )
    imported = invoke("history", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    conversation_id = imported.stdout.decode().strip()
    exported = tmp_path / "exported.json"
    assert invoke("history", "export", conversation_id, str(exported)).returncode == 0
    assert json.loads(exported.read_text()) == json.loads(source.read_text())
    again = invoke("history", "export", conversation_id, str(exported))
    assert (
        again.returncode == 1 and again.stderr.count(b"\n") == 1
    )  # never overwrites a file it did not write

    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"role": "user", "content": "plain list"}]))
    assert invoke("history", "import", str(bare)).returncode == 0
    assert {c["title"] for c in listed()} == {"hi", "plain list"}


def test_corrupt_library_warns_in_one_line_and_the_answer_still_prints(library_path: Path) -> None:
    library_path.parent.mkdir(parents=True)
    garbage = os.urandom(8192)
    library_path.write_bytes(garbage)
    result = invoke("ask", "-b", "echo", "still here?")
    assert result.returncode == 0
    assert result.stdout == b"Echo: still here?\n"
    assert result.stderr.startswith(b"chatcli: warning: this turn was not recorded in the library: ")
    assert result.stderr.count(b"\n") == 1
    listing = invoke("history", "list")
    assert listing.returncode == 1 and listing.stderr.count(b"\n") == 1
    assert str(library_path).encode() in listing.stderr
    resumed = invoke("ask", "-b", "echo", "-c", "more")
    assert resumed.returncode == 1 and resumed.stdout == b""
    assert library_path.read_bytes() == garbage


def test_history_commands_on_a_pipe(library_path: Path) -> None:
    for prompt in ("first about zebras", "second about \x1b]52;c;aGk=\x07 penguins", "third about zebras"):
        assert invoke("ask", "-b", "echo", "-m", "m-" + prompt.split()[0], prompt).returncode == 0
    assert invoke("history", "path").stdout.decode().strip() == str(library_path)

    lines = invoke("history", "list").stdout.decode().splitlines()
    assert [line.split()[3:5] for line in lines] == [["m-third", "1"], ["m-second", "1"], ["m-first", "1"]]
    assert "second about ^[]52;c;aGk=^G penguins" in lines[1]
    assert len(invoke("history", "list", "-n", "2").stdout.splitlines()) == 2
    assert [c["title"] for c in json.loads(invoke("history", "list", "-m", "m-first", "--json").stdout)] == [
        "first about zebras"
    ]

    ids = {str(c["title"]).split()[0]: str(c["id"]) for c in listed()}
    raw = invoke("history", "show", ids["second"][:6])
    assert raw.stdout == (
        b"## user\n\nsecond about \x1b]52;c;aGk=\x07 penguins\n\n"
        b"## assistant\n\nEcho: second about \x1b]52;c;aGk=\x07 penguins\n"
    )

    found = invoke("history", "search", "zebra").stdout.decode().splitlines()
    assert len(found) == 4 and all(line.startswith((ids["first"], ids["third"])) for line in found)
    assert found[0].startswith(ids["third"]) and "\x1b" not in "".join(found)
    assert invoke("history", "search", "penguin").stdout.decode().count("^[]52") == 2
    nothing = invoke("history", "search", "giraffe")
    assert (nothing.returncode, nothing.stdout) == (1, b"")  # like grep

    refused = invoke("history", "rm", ids["first"])
    assert refused.returncode == 2 and b"--yes" in refused.stderr
    assert invoke("history", "rm", "--yes", ids["first"]).returncode == 0
    assert sorted(str(c["id"]) for c in listed()) == sorted([ids["second"], ids["third"]])
    assert invoke("history", "show", ids["first"]).returncode == 2


def test_on_a_terminal_show_renders_markdown_and_search_highlights(tmp_path: Path) -> None:
    source = tmp_path / "md.json"
    source.write_text(
        json.dumps(
            [
                {"role": "user", "content": "walrus facts"},
                {"role": "assistant", "content": "# Big Heading\n\n**tusks** and \x1b[2J escapes"},
            ]
        )
    )
    conversation_id = invoke("history", "import", str(source)).stdout.decode().strip()
    terminal = {"TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}

    show = invoke("history", "show", conversation_id, env=terminal, stdout_isatty=True)
    screen = show.stdout.decode()
    assert "Big Heading" in screen and "# Big Heading" not in screen and "**tusks**" not in screen
    assert "^[[2J" in screen and "\x1b[2J" not in screen

    search = invoke("history", "search", "walrus", env=terminal, stdout_isatty=True)
    assert "\x1b[1;33mwalrus\x1b[0m" in search.stdout.decode()


def chat(child: pexpect.spawn, *lines: str) -> None:
    """At a ready prompt: type each line and wait for its echo answer and the next prompt, then leave with Ctrl-D."""
    for line in lines:
        say(child, line, f"Echo: {line}")
    child.sendcontrol("d")
    assert exit_code(child) == 0


@pytest.mark.e2e
def test_repl_turns_are_recorded_and_continue_resumes_them() -> None:
    child = spawn_chatcli("-b", "echo")
    expect(child, TOOLBAR)
    chat(child, "first question", "second question")
    [conversation] = listed()
    assert conversation["turns"] == 2

    resumed = spawn_chatcli("-b", "echo", "-c")
    expect(resumed, "Ctrl-D exits")
    expect(resumed, "Echo: second question")  # the resumed conversation is shown before the first prompt
    expect(resumed, TOOLBAR)
    chat(resumed, "third question")
    [conversation] = listed()
    assert conversation["turns"] == 3
    assert [m["content"] for m in shown(str(conversation["id"])) if m["role"] == "user"] == [
        "first question",
        "second question",
        "third question",
    ]


def test_rm_asks_on_a_terminal_and_deletes_only_on_yes() -> None:
    assert invoke("ask", "-b", "echo", "to be deleted").returncode == 0
    [conversation] = listed()
    declined = invoke("history", "rm", str(conversation["id"])[:5], input=b"n\n", stdin_isatty=True)
    assert declined.returncode == 1 and len(listed()) == 1
    assert b"Delete 1 conversation? [y/N]" in declined.stderr and b"nothing deleted" in declined.stderr

    accepted = invoke("history", "rm", str(conversation["id"]), input=b"y\n", stdin_isatty=True)
    assert b"to be deleted" in accepted.stdout  # what is about to go is shown first
    assert b"[y/N]" in accepted.stderr
    assert accepted.returncode == 0 and listed() == []


@pytest.mark.e2e
def test_repl_load_id_continues_that_library_conversation() -> None:
    assert invoke("ask", "-b", "echo", "from the library").returncode == 0
    [conversation] = listed()
    conversation_id = str(conversation["id"])
    child = spawn_chatcli("-b", "echo")
    expect(child, TOOLBAR)
    say(child, f"/load {conversation_id[:6]}", f"loaded {conversation_id} from the library")
    say(child, "follow-up", "Echo: follow-up")
    say(child, "/save", f"the library keeps it as {conversation_id}")
    chat(child)
    [after] = listed()
    assert (after["id"], after["turns"]) == (conversation_id, 2)


@pytest.mark.e2e
def test_a_finished_ask_leaves_the_library_whole_without_a_write_ahead_log(library_path: Path) -> None:
    """chatcli leaves without the interpreter's teardown (os._exit), so it closes the library itself: SQLite folds
    the write-ahead log back into the file, and a backup that copies library.db alone holds every turn."""
    done = run_chatcli("ask", "-b", "echo", "keep me")
    assert done.returncode == 0 and done.stdout == b"Echo: keep me\n"
    assert library_path.is_file() and not library_path.with_name(library_path.name + "-wal").exists()
    with sqlite3.connect(f"file:{library_path}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (2,)
