"""A hostile MCP server (tests/mcp_server.py with its MCP_TEST_* behaviours) against chatcli: it can neither imitate
the approval prompt, nor exhaust memory or disk, nor leave processes behind. Memory and processes are checked on
the installed chatcli; what is shown, sent and logged, in this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CHATCLI, run_chatcli
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply, tool_calls_reply
from tests.rss import measure_chatcli
from tests.test_tools_e2e import MCP_SERVER, configure, events_of, state_log, tool_messages

pytestmark = pytest.mark.e2e

HOSTILE = ', MCP_TEST_HOSTILE = "1"'
NAME_RULE = "a tool name must be [A-Za-z0-9_-]{1,64}"
SPOOF_REFUSED = f"notes: left out tool 'x^J^Jtool trusted · read_note': {NAME_RULE}"
MEMORY_PROMISE_MIB = 150  # README: chatcli's peak


def ask(server: OpenAIServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The installed chatcli as its own process: what a hostile server does to a process, its exit included."""
    return run_chatcli("ask", "--base-url", server.url, *args, timeout=60)


def test_mcp_list_refuses_a_name_that_imitates_a_line_and_shows_every_string_on_one_line(
    isolated_home: Path,
) -> None:
    configure(isolated_home, env=HOSTILE)
    done = invoke("mcp", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "notes (stdio): 7 tools"
    assert lines[6:] == [
        "  multi(a^Jb?: string)  First line. Second line indented^[[2J.",
        "  flood(blocks?: integer)  Floods.",
        SPOOF_REFUSED,
    ]
    assert not any(line.startswith("tool trusted") for line in lines)


def test_ask_offers_only_the_tools_with_valid_names_and_says_in_one_line_what_it_left_out(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home, env=HOSTILE)
    done = invoke("ask", "--base-url", server.url, "--tools", "notes", "hi")
    assert done.returncode == 0, done.stderr
    names = [tool["function"]["name"] for tool in server.bodies[0]["tools"]]
    assert names[5:] == ["notes__multi", "notes__flood"]
    assert done.stderr.decode().splitlines() == [f"chatcli: MCP server {SPOOF_REFUSED}"]


def test_tool_lists_are_cut_to_128_tools_and_64_kib_definitions_with_a_line_each(isolated_home: Path) -> None:
    command = f"command = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(MCP_SERVER))}]\n"
    configure(
        isolated_home,
        f'[mcp.many]\n{command}env = {{ MCP_TEST_TOOLS = "1003" }}\n'
        f'[mcp.big]\n{command}env = {{ MCP_TEST_BIG_DESCRIPTION = "{3 * 1024 * 1024}" }}\n',
    )
    done = measure_chatcli("mcp", "list", keep_stdout=True)
    assert done.returncode == 0, done.stderr
    assert done.peak_mib < MEMORY_PROMISE_MIB
    listing = done.stdout.decode().splitlines()
    assert "many (stdio): 128 tools" in listing
    assert "many: left out 880 tools after the first 128 (at most 128 per server)" in listing
    assert "big (stdio): 5 tools" in listing
    [big] = [line for line in listing if line.startswith("big: left out")]
    assert big.startswith("big: left out tool big: its definition has 3145") and big.endswith(
        "more than 65536"
    )
    assert max(len(line) for line in listing) < 300  # descriptions are shortened


@pytest.mark.parametrize(
    ("arguments", "result"),
    [
        (
            {"blocks": 300_000},  # about 8 MB
            "error: server notes stopped: it sent a message of more than 4194304 bytes, the most chatcli reads",
        ),
        (
            {"text": 12 * 1024 * 1024},
            "error: server notes stopped: it sent a message of more than 4194304 bytes, the most chatcli reads",
        ),
        (
            {"blocks": 150_000},
            "error: server notes stopped: it sent a message of 150003 JSON objects and arrays, more than the "
            "100000 chatcli reads",
        ),
        ({"blocks": 5000}, "error: the result has 5000 content blocks; chatcli reads at most 1000"),
    ],
)
def test_a_flooding_result_keeps_chatcli_within_its_memory_and_fails_in_one_line(
    server: OpenAIServer, isolated_home: Path, arguments: dict[str, int], result: str
) -> None:
    configure(isolated_home, env=HOSTILE)
    server.enqueue(tool_calls_reply(("c1", "notes__flood", json.dumps(arguments))), sse_reply("flooded"))
    done = measure_chatcli(
        "ask", "--base-url", server.url, "--tools", "notes", "--yes-tools", "notes__flood", "go"
    )
    assert done.returncode == 0, done.stderr
    assert done.peak_mib < MEMORY_PROMISE_MIB
    assert [message["content"] for message in tool_messages(server.bodies[1])] == [result]
    [spoof, line] = done.stderr.decode().splitlines()
    assert spoof == f"chatcli: MCP server {SPOOF_REFUSED}"
    assert line.startswith(
        ("chatcli: MCP server notes stopped: it sent", "chatcli: tool notes · flood failed")
    )


def test_a_server_flooding_its_stderr_fills_a_bounded_log_with_markers_and_an_old_log_is_rotated(
    server: OpenAIServer, isolated_home: Path
) -> None:
    flood = 20 * 1024 * 1024
    configure(isolated_home, env=f', MCP_TEST_STDERR_BYTES = "{flood}"')
    log = state_log(isolated_home)
    log.parent.mkdir(parents=True)
    log.write_bytes(b"old\n" * (5 * 1024 * 1024 // 4))  # past the rotation size
    done = invoke("ask", "--base-url", server.url, "--tools", "notes", "hi")
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert len(text) < 1024 * 1024 + 4096
    assert "[chatcli: notes's stderr beyond 1048576 bytes this run is dropped]" in text
    written = len("test server starting\n") + flood
    assert f"[chatcli: {written - 1024 * 1024} bytes of notes's stderr were dropped]" in text
    assert log.with_name("mcp.log.1").read_bytes().startswith(b"old\n")


def gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie waiting for init to reap it counts as ended), within a bounded wait."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def ended(pid: int) -> bool:
    """Whether `pid` has ended; if not, it is ended now, so no test leaves it behind."""
    if gone(pid):
        return True
    os.kill(pid, signal.SIGKILL)
    return False


def child_of(events: Path) -> int:
    [line] = [line for line in events_of(events, waiting_for=None) if line.startswith("child ")]
    return int(line.split()[1])


@pytest.mark.parametrize("tool", ["add", "crash"])
def test_a_servers_children_end_with_chatcli_and_with_the_server(
    server: OpenAIServer, isolated_home: Path, tool: str
) -> None:
    events = configure(isolated_home, env=', MCP_TEST_CHILD = "1"')
    server.enqueue(tool_calls_reply(("c1", f"notes__{tool}", '{"a": 1, "b": 2}')), sse_reply("done"))
    done = ask(server, "--tools", "notes", "--yes-tools", f"notes__{tool}", "go")
    assert done.returncode == 0, done.stderr
    assert ended(child_of(events))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_servers_children_end_when_chatcli_is_stopped_by_a_signal(
    server: OpenAIServer, isolated_home: Path, signum: signal.Signals
) -> None:
    events = configure(isolated_home, env=', MCP_TEST_CHILD = "1"')
    server.enqueue(tool_calls_reply(("c1", "notes__hang", "{}")))
    process = subprocess.Popen(
        [CHATCLI, "ask", "--base-url", server.url, "--tools", "notes", "--yes-tools", "notes__hang", "go"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert "hang started" in events_of(events, waiting_for="hang started")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert ended(child_of(events))


def test_ask_ends_in_one_line_before_sending_when_a_server_named_by_tools_cannot_start(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home, '[mcp.missing]\ncommand = "/nonexistent/mcp-server"\n')
    done = invoke("ask", "--base-url", server.url, "--tools", "notes,missing", "hi")
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        "chatcli: error: MCP server missing is not available: command not found: /nonexistent/mcp-server"
    ]
    assert done.stdout == b"" and server.bodies == []
