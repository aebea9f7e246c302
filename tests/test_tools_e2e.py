"""End-to-end tool use: chatcli's `ask` (in this process; the commands that must be a process of their own run
the installed chatcli), a real MCP server process (tests/mcp_server.py: stdio answered as the SDK's server
answers, streamable HTTP by the SDK's server itself) and the local SSE server scripted to stream tool calls."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_chatcli
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, Reply, chunk, json_reply, sse_event, sse_reply, tool_calls_reply
from tests.rss import measure_chatcli
from tests.test_imports import heavy_modules_loaded

pytestmark = pytest.mark.e2e

MCP_SERVER = Path(__file__).with_name("mcp_server.py")
ENV_SECRET = "env-secret-7c1e9a55"
HEADER_SECRET = "header-secret-3b8d2f11"


def configure(home: Path, extra: str = "", env: str = "") -> Path:
    """A config file with the test MCP server as [mcp.notes]; returns the file the server logs events to."""
    notes, events = home / "notes", home / "events.log"
    notes.mkdir(exist_ok=True)
    (notes / "todo").write_text("buy milk\n")
    config = home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"""
[mcp.notes]
command = {json.dumps(sys.executable)}
args = [{json.dumps(str(MCP_SERVER))}]
env = {{ NOTES_DIR = {json.dumps(str(notes))}, MCP_TEST_LOG = {json.dumps(str(events))}{env} }}
{extra}
"""
    )
    return events


def state_log(home: Path) -> Path:
    return home / ".local" / "state" / "chatcli" / "mcp.log"


def events_of(path: Path, waiting_for: str | None = None) -> list[str]:
    """The test server's events; waits (a bounded while) for `waiting_for` to be logged by the server process."""
    for _ in range(600):
        lines = path.read_text().splitlines() if path.exists() else []
        if waiting_for is None or waiting_for in lines:
            return lines
        time.sleep(0.05)
    return lines


def ask(server: OpenAIServer, *args: str, input: bytes = b"") -> Any:
    """`chatcli ask` in this process: the MCP servers are real processes; a new chatcli process for each test
    would add its start-up (mcp's imports) and nothing these tests check."""
    return invoke("ask", "--base-url", server.url, *args, input=input)


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [message for message in body["messages"] if message["role"] == "tool"]


def test_parallel_calls_streamed_in_pieces_run_and_their_results_go_back(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home)
    server.enqueue(
        tool_calls_reply(
            ("call_a", "notes__add", '{"a": 2, "b": 3}'),
            ("call_b", "notes__read_note", '{"name": "todo"}'),
            text="Let me look.",
        ),
        sse_reply("2+3 is 5; you must buy milk."),
    )
    done = ask(server, "--tools", "notes", "--yes-tools", "notes__add,notes__read_note", "help me")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Let me look.\n2+3 is 5; you must buy milk.\n"
    first, second = server.bodies
    assert [tool["function"]["name"] for tool in first["tools"]] == [
        "notes__add",
        "notes__read_note",
        "notes__hang",
        "notes__crash",
        "notes__escape",
    ]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]
    asking = second["messages"][1]
    assert asking["role"] == "assistant" and asking["content"] == "Let me look."
    assert [call["function"]["arguments"] for call in asking["tool_calls"]] == [
        '{"a": 2, "b": 3}',
        '{"name": "todo"}',
    ]
    assert tool_messages(second) == [
        {"role": "tool", "tool_call_id": "call_a", "content": "5"},
        {"role": "tool", "tool_call_id": "call_b", "content": "buy milk\n"},
    ]
    assert "add 2 3" in events_of(events) and "read_note todo" in events_of(events)
    assert b"test server starting" not in done.stderr  # the server's stderr goes to the log
    assert "test server starting" in state_log(isolated_home).read_text()
    assert oct(state_log(isolated_home).stat().st_mode & 0o777) == "0o600"


def test_json_output_holds_the_final_answer_and_the_usage_of_every_round(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    first = tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 1}'))
    first.body.insert(-1, sse_event({**chunk(), "choices": [], "usage": usage}))
    server.enqueue(first, sse_reply("Two.", usage=usage))
    done = ask(server, "--tools", "notes", "--yes-tools", "notes__add", "--json", "sum")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["content"] == "Two." and output["finish_reason"] == "stop"
    assert output["usage"] == {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}


def test_without_tools_nothing_starts_and_no_tools_key_is_sent(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home)
    done = ask(server, "hi")
    assert done.returncode == 0
    assert "tools" not in server.bodies[0]
    assert not events.exists() and not state_log(isolated_home).exists()


def test_tool_calls_in_an_answer_to_a_request_without_tools_end_the_turn_in_one_line(
    server: OpenAIServer, isolated_home: Path
) -> None:
    server.enqueue(tool_calls_reply(*[(f"c{n}", "notes__add", "{" + " " * 4000 + "}") for n in range(128)]))
    done = ask(server, "hi")
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().strip() == (
        "chatcli: error: the server sent a tool call, but chatcli offered no tools"
    )
    assert server.wait_for_disconnect()  # chatcli stopped reading at the first piece


def test_piped_ask_refuses_an_unapproved_call_in_one_line(server: OpenAIServer, isolated_home: Path) -> None:
    events = configure(isolated_home)
    server.enqueue(tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 1}')))
    done = ask(server, "--tools", "notes", "add", input=b"")
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        "chatcli: error: the model called tool notes__add, which needs approval and there is no terminal to ask "
        "on; allow it with --yes-tools notes__add"
    ]
    assert "add 1 1" not in events_of(events)
    assert len(server.bodies) == 1


def test_a_hanging_tool_times_out_and_the_server_is_told_to_cancel(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home, "")
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.write_text("tool_timeout = 1\n" + config.read_text())
    server.enqueue(tool_calls_reply(("c1", "notes__hang", "{}")), sse_reply("It hung."))
    done = ask(server, "--tools", "notes", "--yes-tools", "notes__hang", "go")
    assert done.returncode == 0, done.stderr
    assert b"It hung." in done.stdout
    [result] = tool_messages(server.bodies[1])
    assert result["content"] == "error: no answer within 1 s (tool_timeout); the call was cancelled"
    assert "hang cancelled" in events_of(events, waiting_for="hang cancelled")
    assert b"notes \xc2\xb7 hang failed: no answer within 1 s" in done.stderr


def test_a_crashing_server_is_reported_and_the_conversation_goes_on_without_it(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    server.enqueue(tool_calls_reply(("c1", "notes__crash", "{}")), sse_reply("The tool crashed."))
    done = ask(server, "--tools", "notes", "--yes-tools", "notes__crash", "go")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"The tool crashed.\n"
    [result] = tool_messages(server.bodies[1])
    assert result["content"] == "error: server notes stopped"
    assert "tools" not in server.bodies[1]  # offered no more
    assert b"MCP server notes stopped; its tools are no longer offered" in done.stderr
    assert "about to crash" in state_log(isolated_home).read_text()


def test_a_huge_result_is_capped_with_a_note_before_it_goes_back(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    server.enqueue(tool_calls_reply(("c1", "notes__escape", '{"size": 1000000}')), sse_reply("ok"))
    done = ask(server, "--tools", "notes", "--yes-tools", "notes__escape", "go")
    assert done.returncode == 0, done.stderr
    [result] = tool_messages(server.bodies[1])
    content = result["content"]
    assert content.startswith("\x1b]52;c;cHduZWQ=\x07")  # the model gets the data as it is
    kept, note = content.rsplit("\n", 1)
    assert len(kept.encode()) == 64 * 1024
    total = len("\x1b]52;c;cHduZWQ=\x07\x1b[2Jred\x1b[31m!") + 1_000_000
    assert note == f"[chatcli: result cut to 65536 of {total} bytes (max_tool_result_bytes)]"


def test_secrets_in_env_and_headers_never_appear_in_output_logs_or_files(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    events = configure(
        isolated_home,
        f'[mcp.web]\nurl = "http://127.0.0.1:9/mcp"\nheaders = {{ Authorization = "Bearer {HEADER_SECRET}" }}\n',
        env=f', SECRET = "{ENV_SECRET}", TOKEN_cmd = "echo token-from-a-command"',
    )
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.write_text('tools = "notes,web"\n' + config.read_text())  # a setting: a failed server is a warning
    server.enqueue(tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 2}')), sse_reply("3"))
    saved = tmp_path / "chat.json"
    done = ask(server, "--yes-tools", "notes__add", "-o", str(saved), "go")
    assert done.returncode == 0, done.stderr
    assert b"MCP server web is not available" in done.stderr
    listing = invoke("mcp", "list")
    assert listing.returncode == 1
    assert "started with a token of 20 characters" in events_of(events)  # TOKEN_cmd ran, its value passed
    library = isolated_home / ".local" / "share" / "chatcli" / "library.db"
    written = [path.read_bytes() for path in (saved, library, state_log(isolated_home))]
    for secret in (ENV_SECRET, HEADER_SECRET, "token-from-a-command"):
        for output in (done.stdout, done.stderr, listing.stdout, listing.stderr, *written):
            assert secret.encode() not in output
        assert secret not in json.dumps(server.bodies)


def test_a_tool_conversation_is_kept_resumed_with_a_valid_history_and_shown_compactly(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    configure(isolated_home)
    server.enqueue(tool_calls_reply(("call_1", "notes__add", '{"a": 20, "b": 22}')), sse_reply("It is 42."))
    saved = tmp_path / "chat.json"
    assert (
        ask(server, "--tools", "notes", "--yes-tools", "notes__add", "-o", str(saved), "sum").returncode == 0
    )
    messages = json.loads(saved.read_text())["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["tool_calls"][0]["id"] == "call_1" and messages[2]["tool_call_id"] == "call_1"

    server.enqueue(sse_reply("Still 42."))
    resumed = ask(server, "-c", "and now?")
    assert resumed.returncode == 0, resumed.stderr
    sent = server.bodies[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[1]["tool_calls"] == messages[1]["tool_calls"] and sent[2]["tool_call_id"] == "call_1"
    assert "tools" not in server.bodies[-1]

    shown = invoke("history", "show", _latest_id(isolated_home))
    text = shown.stdout.decode()
    assert 'calls notes__add {"a": 20, "b": 22}' in text and "## tool\n\nresult: 42" in text


@pytest.mark.parametrize("tools", [(), ("--tools", "notes")])
def test_reasoning_stays_apart_from_the_answer_with_tools_on_as_off(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path, tools: tuple[str, ...]
) -> None:
    configure(isolated_home)
    separate = chunk(reasoning_content="Weighing it.")
    server.enqueue(
        Reply(
            body=[sse_event(separate), *sse_reply("<think>Let me reason…</think>", "The sea is large.").body]
        )
    )
    saved = tmp_path / "a.json"
    done = ask(server, *tools, "-o", str(saved), "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"The sea is large.\n"
    answer = json.loads(saved.read_text())["messages"][-1]
    assert answer["content"] == "The sea is large."
    assert answer["reasoning"] == "Weighing it.Let me reason…"


def _latest_id(home: Path) -> str:
    db = sqlite3.connect(home / ".local" / "share" / "chatcli" / "library.db")
    try:
        row = db.execute("SELECT id FROM conversations ORDER BY updated_at DESC LIMIT 1").fetchone()
    finally:
        db.close()
    return str(row[0])


def test_mcp_list_shows_tools_and_one_line_per_failed_server(isolated_home: Path) -> None:
    configure(isolated_home, '[mcp.missing]\ncommand = "/nonexistent/mcp-server"\n')
    done = run_chatcli("mcp", "list")
    assert done.returncode == 1
    assert done.stdout.decode().splitlines() == [
        "notes (stdio): 5 tools",
        "  add(a: integer, b: integer)  Add two integers.",
        "  read_note(name: string)  Read a note by name.",
        "  hang()  Never answers (until cancelled).",
        "  crash()  Exit the server process at once.",
        "  escape(size?: integer)  Text with terminal escape sequences; `size` more bytes of filler.",
        "missing: failed to start: command not found: /nonexistent/mcp-server",
    ]
    assert done.stderr == b""


def test_auto_approve_runs_named_tools_and_the_round_limit_ends_the_turn_in_one_line(
    server: OpenAIServer, isolated_home: Path
) -> None:
    events = configure(isolated_home, 'auto_approve = ["add"]\n')
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.write_text("max_tool_rounds = 1\n" + config.read_text())
    server.enqueue(
        tool_calls_reply(("c1", "notes__add", '{"a": 1, "b": 1}')),
        tool_calls_reply(("c2", "notes__add", '{"a": 2, "b": 2}')),
    )
    done = ask(server, "--tools", "notes", "again and again")
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines() == [
        "chatcli: warning: stopped after 1 round of tool calls (max_tool_rounds); ask to continue"
    ]
    assert "add 1 1" in events_of(events) and "add 2 2" not in events_of(events)
    assert len(server.bodies) == 2


def test_whole_answers_without_streaming_carry_tool_calls_too(
    server: OpenAIServer, isolated_home: Path
) -> None:
    configure(isolated_home)
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "notes__add", "arguments": '{"a": 5, "b": 6}'},
    }
    asking = {"role": "assistant", "content": None, "tool_calls": [call]}
    server.enqueue(
        json_reply(200, {"choices": [{"message": asking, "finish_reason": "tool_calls"}]}),
        json_reply(
            200, {"choices": [{"message": {"role": "assistant", "content": "11"}, "finish_reason": "stop"}]}
        ),
    )
    done = ask(server, "--no-stream", "--tools", "notes", "--yes-tools", "notes__add", "sum")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"11\n"
    assert tool_messages(server.bodies[1]) == [{"role": "tool", "tool_call_id": "c1", "content": "11"}]


def test_a_profile_tools_setting_enables_them(server: OpenAIServer, isolated_home: Path) -> None:
    configure(isolated_home, '[profiles.work]\ntools = "notes"\n')
    done = ask(server, "-p", "work", "hi")
    assert done.returncode == 0, done.stderr
    assert len(server.bodies[0]["tools"]) == 5


@pytest.fixture
def http_mcp_server(isolated_home: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """The test MCP server on streamable HTTP, wanting `Authorization: Bearer HEADER_SECRET`; its URL and log.
    Marked `json_response`, it answers in JSON bodies."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events = isolated_home / "http-events.log"
    env = {**os.environ, "MCP_TEST_LOG": str(events), "EXPECT_AUTH": f"Bearer {HEADER_SECRET}"}
    if request.node.get_closest_marker("json_response"):
        env["MCP_TEST_JSON_RESPONSE"] = "1"
    process = subprocess.Popen(
        [sys.executable, str(MCP_SERVER), "--http", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(400):  # until it listens (a bounded wait)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", events
    finally:
        process.terminate()
        process.wait(10)


def test_a_streamable_http_server_gets_its_headers_and_its_tools_run(
    server: OpenAIServer, isolated_home: Path, http_mcp_server: tuple[str, Path]
) -> None:
    url, events = http_mcp_server
    configure(
        isolated_home,
        f'[mcp.web]\nurl = "{url}"\nheaders = {{ Authorization_cmd = "echo Bearer {HEADER_SECRET}" }}\n'
        f'[mcp.wrong]\nurl = "{url}"\nheaders = {{ Authorization = "Bearer {ENV_SECRET}" }}\n',
    )
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.write_text('tools = "web,wrong"\n' + config.read_text())  # a setting: a failed server is a warning
    server.enqueue(tool_calls_reply(("c1", "web__add", '{"a": 40, "b": 2}')), sse_reply("42"))
    done = ask(server, "--yes-tools", "web__add", "go")
    assert done.returncode == 0, done.stderr
    assert tool_messages(server.bodies[1]) == [{"role": "tool", "tool_call_id": "c1", "content": "42"}]
    assert "add 40 2" in events_of(events) and "unauthorized" in events_of(events)
    [refused] = [line for line in done.stderr.decode().splitlines() if "wrong" in line]
    assert refused == "chatcli: MCP server wrong is not available: Server returned an error response"
    assert ENV_SECRET not in done.stderr.decode() and HEADER_SECRET not in done.stderr.decode()


def test_mcp_is_imported_only_when_a_turn_offers_tools(isolated_home: Path) -> None:
    configure(isolated_home)
    without, done = heavy_modules_loaded("ask", "-b", "echo", stdin=b"hi\n")
    assert done.returncode == 0 and "mcp" not in without
    with_tools, done = heavy_modules_loaded("ask", "-b", "echo", "--tools", "notes", stdin=b"hi\n")
    assert done.returncode == 0 and done.stdout == b"Echo: hi\n"
    assert "mcp" in with_tools


@pytest.mark.json_response
def test_a_flooding_answer_over_http_is_refused_while_it_is_read(
    server: OpenAIServer, isolated_home: Path, http_mcp_server: tuple[str, Path]
) -> None:
    url, _ = http_mcp_server
    configure(
        isolated_home, f'[mcp.web]\nurl = "{url}"\nheaders = {{ Authorization = "Bearer {HEADER_SECRET}" }}\n'
    )
    server.enqueue(tool_calls_reply(("c1", "web__flood", '{"blocks": 30000}')), sse_reply("flooded"))
    done = measure_chatcli(
        "ask", "--base-url", server.url, "--tools", "web", "--yes-tools", "web__flood", "go"
    )
    assert done.returncode == 0, done.stderr
    assert done.peak_mib < 150  # README's memory promise
    why = (
        "Failed to parse JSON response: sent a response of more than 20000 JSON objects and arrays, the most"
    )
    assert [message["content"] for message in tool_messages(server.bodies[1])] == [
        f"error: {why} chatcli reads"
    ]  # the SDK's words, then chatcli's
    assert done.stderr.decode().splitlines() == [f"chatcli: tool web · flood failed: {why} chatcli reads"]
