"""What the config file says about one MCP server (`[mcp.NAME]`) and how tool use is limited. No I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

SEPARATOR = "__"  # between server and tool in the names the model sees: notes__add
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASS|AUTH|CREDENTIAL|COOKIE|SESSION", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A stdio server (`command`, `args`, `env`) or a streamable HTTP one (`url`, `headers`).

    `secret_commands` maps ("env" or "headers", NAME) to a command whose first output line is that value
    (`NAME_cmd = "…"`). Secrets (see `secrets()`) are never shown, logged or saved."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    secret_commands: Mapping[tuple[str, str], str] = field(default_factory=dict, repr=False)
    auto_approve: tuple[str, ...] = ()  # tool names (as the server calls them) that run without asking
    env_from_commands: frozenset[str] = frozenset()  # env names whose values a `*_cmd` gave

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"

    def secrets(self) -> list[str]:
        """The values that must never appear in output, logs or files: every header, and the env values that
        came from a command or whose names say they are secret (a path in NOTES_DIR is not). Values shorter
        than 4 characters are too common to remove from text."""
        env = [
            value
            for name, value in self.env.items()
            if name in self.env_from_commands or _SECRET.search(name)
        ]
        return [value for value in (*env, *self.headers.values()) if len(value) >= 4]

    def with_secrets(self, run: Callable[[str, str], str]) -> ServerSpec:
        """This spec with each `*_cmd` value filled in by `run(command, what)`."""
        env, headers = dict(self.env), dict(self.headers)
        for (table, key), command in self.secret_commands.items():
            (env if table == "env" else headers)[key] = run(command, f"[mcp.{self.name}] {table}.{key}_cmd")
        from_commands = frozenset(key for table, key in self.secret_commands if table == "env")
        return replace(self, env=env, headers=headers, secret_commands={}, env_from_commands=from_commands)


@dataclass(frozen=True, slots=True)
class ToolLimits:
    max_rounds: int = 8  # rounds of tool calls in one turn
    max_result_bytes: int = 64 * 1024  # of one result, sent back to the model
    timeout: float = 60.0  # seconds for one call
