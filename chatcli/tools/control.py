"""`/tools on|off|list` in the REPL: switching the session's tools and describing the servers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatcli.core.session import Session
from chatcli.tools.bounds import one_line
from chatcli.tools.runner import McpToolRunner
from chatcli.tools.spec import SEPARATOR


class ToolControl:
    """Turns the session's tools on (a runner for the chosen servers) and off (their servers stopped).

    `make_runner(names)` builds a runner for comma-separated server names (None: the configured default)
    and raises UsageError for an unknown name."""

    def __init__(
        self,
        session: Session,
        runner: McpToolRunner | None,
        make_runner: Callable[[str | None], McpToolRunner | None],
        configured: Sequence[str],
    ) -> None:
        self._session = session
        self._runner = runner
        self._make_runner = make_runner
        self._configured = list(configured)

    def on(self, names: str) -> str:
        if not self._configured:
            return "no MCP servers configured; add an [mcp.NAME] table to the config file"
        if names or self._runner is None:
            self.off()
            self._runner = self._make_runner(names or None)
        self._session.tools = self._runner
        assert self._runner is not None
        return "tools on: " + ", ".join(spec.name for spec in self._runner.specs) + " (each call asks first)"

    def off(self) -> str:
        self._session.tools = None
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        return "tools off"

    def lines(self) -> list[str]:
        """One line per configured server (and one per tool left out); with tools on, the servers are started
        and their tools listed."""
        if not self._configured:
            return ["no MCP servers configured; add an [mcp.NAME] table to the config file"]
        if self._session.tools is None or self._runner is None:
            return [f"tools off; configured servers: {', '.join(self._configured)} (/tools on [NAME,…])"]
        lines = []
        for state in self._runner.start():
            if state.error is not None:
                lines.append(f"{state.spec.name}: not available: {state.error}")
                continue
            names = ", ".join(f"{state.spec.name}{SEPARATOR}{tool.name}" for tool in state.tools)
            lines.append(f"{state.spec.name}: {names or 'no tools'}")
            lines += [f"{state.spec.name}: {note}" for note in state.refusals.notes]
        return [one_line(line) for line in lines]

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
