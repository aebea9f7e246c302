"""`chatcli mcp list`: start each configured MCP server, list its tools, say which failed and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.lazy_commands import sub_command_app
from chatcli.render.sanitize import sanitize

mcp_app = sub_command_app("mcp")


@mcp_app.command("list", cls=HelpCommand)
@with_exit_status
def list_command(context: typer.Context) -> int:
    """Start each configured server and list its tools: name, description and arguments.

    A server that fails to start gets one line saying why; its stderr is in the log file named there."""
    env = environment(context)
    from chatcli.cli import wiring
    from chatcli.cli.options import ChatOptions

    resolved = wiring.resolve_settings(env, ChatOptions())
    servers = resolved.config.mcp
    if not servers:
        echo(env, f"no MCP servers configured; add an [mcp.NAME] table to {resolved.path}")
        return 0
    runner = wiring.new_tool_runner(env, resolved, ChatOptions(), ",".join(servers))
    assert runner is not None
    failed = 0
    try:
        for state in runner.start():
            if state.error is not None:
                failed += 1
                echo(env, sanitize(f"{state.spec.name}: failed to start: {state.error}"))
                continue
            echo(env, sanitize(f"{state.spec.name} ({state.spec.transport}): {len(state.tools)} tools"))
            for tool in state.tools:
                echo(
                    env,
                    shown_line(
                        f"  {tool.name}({schema_summary(tool.input_schema)})  {shown(tool.description)}"
                    ),
                )
            for note in state.refusals.notes:
                echo(env, shown_line(f"{state.spec.name}: {note}"))
    finally:
        runner.close()
    return 1 if failed else 0


def shown(description: str) -> str:
    """A tool's description on one line: its line breaks and runs of spaces (a docstring's layout) as one space,
    shortened to MAX_SHOWN_DESCRIPTION characters."""
    from chatcli.tools.bounds import MAX_SHOWN_DESCRIPTION, shorten

    return shorten(" ".join(description.split()), MAX_SHOWN_DESCRIPTION)


def shown_line(text: str) -> str:
    """A line of a server's text for the terminal: every control character visible, tab and newline too."""
    from chatcli.tools.bounds import one_line

    return sanitize(one_line(text))


def schema_summary(schema: Mapping[str, Any]) -> str:
    """A tool's arguments on one line: `a: integer, b?: string` (? marks the optional ones)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return ""
    required = schema.get("required")
    required = required if isinstance(required, list) else []
    parts = []
    for name, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        kind = "|".join(map(str, kind)) if isinstance(kind, list) else str(kind)
        parts.append(f"{name}{'' if name in required else '?'}: {kind}")
    return ", ".join(parts)
