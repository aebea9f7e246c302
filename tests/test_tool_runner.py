"""The MCP side's pure parts, in-process: names offered to the model, results as text and capped, secrets,
approval without a terminal, argument display, schema summaries, the checks of what a server sends, the bounded
log."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcli.cli.mcp import schema_summary
from chatcli.core.redact import redact
from chatcli.render.sanitize import sanitize
from chatcli.tools.approval import Approver, PendingCall, ToolRefused, shown_arguments
from chatcli.tools.runner import cap, offered_name, result_text
from chatcli.tools.spec import ServerSpec


def test_offered_names_are_server__tool_in_the_allowed_characters_and_unique() -> None:
    taken: set[str] = set()
    first = offered_name("files", "read.file", taken)
    taken.add(first)
    assert first == "files__read_file"
    assert offered_name("files", "read file", taken) == "files__read_file_2"
    long = offered_name("s", "t" * 100, set())
    assert long == "s__" + "t" * 61 and len(long) == 64


def test_cap_cuts_at_a_character_boundary_and_says_what_was_cut() -> None:
    assert cap("short", 10) == "short"
    assert cap("ééé", 5) == "éé\n[chatcli: result cut to 5 of 6 bytes (max_tool_result_bytes)]"


def test_results_become_text_with_errors_marked_and_other_blocks_described() -> None:
    from mcp.types import CallToolResult, ImageContent, TextContent  # 0.6 s of CPU: only where it is used

    result = CallToolResult(
        content=[
            TextContent(type="text", text="line"),
            ImageContent(type="image", data="AAAA", mime_type="image/png"),
        ],
        is_error=True,
    )
    assert result_text(result) == "error: line\n[image: image/png, 3 bytes, not shown]"
    structured = CallToolResult(content=[], structured_content={"sum": 3})
    assert result_text(structured) == '{"sum": 3}'


def test_secrets_are_headers_command_values_and_env_values_named_like_secrets() -> None:
    spec = ServerSpec(
        "s",
        "cmd",
        env={"NOTES_DIR": "/home/me/notes", "API_TOKEN": "tok-123456"},
        secret_commands={("env", "PASSWORD_FILE"): "x", ("env", "PLAIN"): "y"},
    )
    resolved = spec.with_secrets(lambda command, what: f"value-of-{command}-{what.split()[-1]}")
    assert resolved.env["PLAIN"] == "value-of-y-env.PLAIN_cmd"
    assert sorted(resolved.secrets()) == sorted(
        ["tok-123456", "value-of-x-env.PASSWORD_FILE_cmd", "value-of-y-env.PLAIN_cmd"]
    )
    assert "tok-123456" not in repr(resolved)
    http = ServerSpec("h", url="https://x", headers={"X-Anything": "abcdef"})
    assert redact("got abcdef back", http.secrets()) == "got [redacted] back"


def test_without_a_terminal_an_unapproved_call_is_refused_and_a_pre_approved_one_runs() -> None:
    approver = Approver({"notes__add"}, None, None, styled=False, sanitize=sanitize)
    assert approver.approve(PendingCall("notes", "add", "notes__add", {"a": 1})) == {"a": 1}
    with pytest.raises(ToolRefused, match=r"allow it with --yes-tools notes__read_note$"):
        approver.approve(PendingCall("notes", "read_note", "notes__read_note", {}))


def test_arguments_are_shown_sanitised_and_truncated_past_20_lines() -> None:
    shown = shown_arguments({"text": "\x1b[2J", **{f"k{i}": i for i in range(25)}}, sanitize)
    lines = shown.splitlines()
    assert lines[1] == '    "text": "\\u001b[2J",'
    assert len(lines) == 21 and lines[-1] == "  … (8 more lines)"
    assert shown_arguments({"bidi": "\u202e"}, sanitize).splitlines()[1] == '    "bidi": "<U+202E>"'


def test_schema_summaries_mark_optional_arguments() -> None:
    schema = {
        "properties": {"a": {"type": "integer"}, "b": {"type": ["string", "null"]}, "c": {}},
        "required": ["a"],
    }
    assert schema_summary(schema) == "a: integer, b?: string|null, c?: any"
    assert schema_summary({}) == ""


def test_server_text_is_made_one_line_and_tool_definitions_are_checked() -> None:
    from chatcli.tools.bounds import check_tools, first_tools, one_line, too_many_blocks

    assert sanitize(one_line("a\r\n\tb\x1b")) == "a^M^J^Ib^["
    kept, notes = check_tools(
        [
            {"name": "ok-name_1", "description": "", "inputSchema": {}},
            {"name": "x\ntool trusted", "description": "", "inputSchema": {}},
            {"name": "a" * 65, "description": "", "inputSchema": {}},
            {"name": "big", "description": "d" * 70_000, "inputSchema": {}},
        ]
    )
    assert [tool["name"] for tool in kept] == ["ok-name_1"]
    assert notes[0] == "left out tool 'x^Jtool trusted': a tool name must be [A-Za-z0-9_-]{1,64}"
    assert notes[1].startswith("left out tool 'aaaa") and notes[2].startswith(
        "left out tool big: its definition"
    )
    listing = {"id": 1, "result": {"tools": [{"name": f"t{n}"} for n in range(130)]}}
    assert first_tools(listing) == "left out 2 tools after the first 128 (at most 128 per server)"
    assert len(listing["result"]["tools"]) == 128
    result = {"id": 2, "result": {"content": [{}] * 1001}}
    assert too_many_blocks(result) == "the result has 1001 content blocks; chatcli reads at most 1000"
    assert too_many_blocks({"id": 3, "result": {"content": [{}] * 1000}}) is None


def test_the_server_log_keeps_a_bounded_part_of_each_servers_stderr(tmp_path: Path) -> None:
    from chatcli.tools.server_log import SERVER_BYTES, ServerLog

    log = ServerLog(tmp_path / "mcp.log")
    log.stderr("a", b"x" * (SERVER_BYTES - 1))
    log.stderr("a", b"yz" * 10)
    log.stderr("b", b"from b\n")
    log.write("a line of chatcli's\n")
    log.close()
    text = (tmp_path / "mcp.log").read_text()
    assert text.count("x") == SERVER_BYTES - 1 and "yz" not in text and "y" in text
    assert "from b\n" in text and "a line of chatcli's\n" in text
    assert f"[chatcli: a's stderr beyond {SERVER_BYTES} bytes this run is dropped]" in text
    assert text.endswith("\n[chatcli: 19 bytes of a's stderr were dropped]\n")
    assert oct((tmp_path / "mcp.log").stat().st_mode & 0o777) == "0o600"
