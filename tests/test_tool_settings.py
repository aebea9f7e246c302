"""Tool settings and flags that are wrong: one line and exit 2 before any MCP server starts, so these run in this
process (tests/test_tools_e2e.py has the tools that run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inprocess import invoke
from tests.test_tools_e2e import configure


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[mcp.x]\ncommand = "a"\nurl = "http://h"\n',
            "[mcp.x] needs either command (a stdio server) or url",
        ),
        (
            '[mcp.x]\ncommand = "a"\nauto_approve = ["*"]\n',
            "[mcp.x] auto_approve names tools exactly; '*' looks like",
        ),
        ('[mcp.x]\ncommand = "a"\nenv = { A = 1 }\n', "[mcp.x] env must be a table of strings"),
        ('[mcp.x]\nurl = "ftp://h"\n', "[mcp.x] url must start with http:// or https://"),
        ('[mcp.a__b]\ncommand = "a"\n', "MCP server name 'a__b' must be letters, digits, - and single _"),
        ('[mcp.x]\ncommand = "a"\ncwd = "/"\n', "[mcp.x] unknown key 'cwd'"),
        ("max_tool_rounds = 0\n", "max_tool_rounds must be at least 1"),
    ],
)
def test_config_mistakes_are_one_line_before_anything_starts(
    isolated_home: Path, table: str, message: str
) -> None:
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(table)
    done = invoke("ask", "-b", "echo", "hi")
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("chatcli: error: ") and message in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tools", "nope"), "unknown MCP server 'nope' (from --tools); [mcp.NAME] servers in"),
        (
            ("--tools", "notes", "--yes-tools", "notes__*"),
            "--yes-tools takes exact tool names like notes__add",
        ),
        (("--tools", "notes", "--yes-tools", "add"), "--yes-tools takes exact tool names"),
        (("--yes-tools", "notes__add"), "--yes-tools needs --tools (or a tools setting)"),
    ],
)
def test_bad_tool_flags_are_one_line(isolated_home: Path, args: tuple[str, ...], message: str) -> None:
    configure(isolated_home)
    done = invoke("ask", "-b", "echo", *args, "hi")
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert message in line
