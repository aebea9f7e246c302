"""What the config file says about one MCP server (`[mcp.NAME]`, parsed here) and how tool use is limited. No I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chatcli.core.errors import UsageError

SEPARATOR = "__"  # between server and tool in the names the model sees: notes__add
SERVER_NAME = re.compile(r"[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*")  # no "__": it separates server and tool
_PATTERN = re.compile(r"[*?\[\]]")
KEYS = ("command", "args", "env", "url", "headers", "auto_approve")
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


def parse_server(name: str, table: Any) -> ServerSpec:
    """One [mcp.NAME] table: `command` (+ `args`, `env`) for stdio, or `url` (+ `headers`) for HTTP. Every
    mistake is a UsageError naming the table and the key."""
    if not SERVER_NAME.fullmatch(name):
        raise UsageError(f"MCP server name {name!r} must be letters, digits, - and single _")
    where = f"[mcp.{name}]"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table")
    _check_transport(where, table)
    args = _strings(where, table, "args")
    approved = _strings(where, table, "auto_approve")
    if wild := [tool for tool in approved if _PATTERN.search(tool)]:
        raise UsageError(f"{where} auto_approve names tools exactly; {wild[0]!r} looks like a pattern")
    tables = {key: _string_table(where, table, key) for key in ("env", "headers")}
    commands = {
        (key, entry.removesuffix("_cmd")): text
        for key, entries in tables.items()
        for entry, text in entries.items()
        if entry.endswith("_cmd")
    }
    plain = {
        key: {entry: text for entry, text in entries.items() if not entry.endswith("_cmd")}
        for key, entries in tables.items()
    }
    return ServerSpec(
        name,
        table.get("command"),
        tuple(args),
        plain["env"],
        table.get("url"),
        plain["headers"],
        commands,
        tuple(approved),
    )


def _check_transport(where: str, table: dict[str, Any]) -> None:
    """Known keys only, and exactly one of `command` and `url`, each with the keys that apply to it."""
    for key in table:
        if key not in KEYS:
            raise UsageError(f"{where} unknown key {key!r}; known keys: {', '.join(KEYS)}")
    if ("command" in table) == ("url" in table):
        raise UsageError(f"{where} needs either command (a stdio server) or url (a streamable HTTP server)")
    for key in ("command", "url"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise UsageError(f"{where} {key} must be a non-empty string")
    if "url" in table and not table["url"].startswith(("http://", "https://")):
        raise UsageError(f"{where} url must start with http:// or https://")
    if "command" not in table and ("args" in table or "env" in table):
        raise UsageError(f"{where} args and env apply to a command; a url server takes headers")
    if "url" not in table and "headers" in table:
        raise UsageError(f"{where} headers apply to a url; a command server takes env")


def _strings(where: str, table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"{where} {key} must be an array of strings")
    return value


def _string_table(where: str, table: dict[str, Any], key: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise UsageError(
            f'{where} {key} must be a table of strings (NAME = "value", or NAME_cmd = "a command")'
        )
    return value


def chosen_servers(
    servers: Mapping[str, ServerSpec], names: str, source: str, where: str
) -> list[ServerSpec]:
    """The servers that `names` (comma-separated, from `source`) chooses among those defined in `where`."""
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    if not chosen:
        raise UsageError(f"{source} names no MCP server")
    for name in chosen:
        if name not in servers:
            defined = ", ".join(sorted(servers)) or "none"
            raise UsageError(
                f"unknown MCP server {name!r} (from {source}); [mcp.NAME] servers in {where}: {defined}"
            )
    return [servers[name] for name in dict.fromkeys(chosen)]


def exact_tool_names(names: str | None) -> set[str]:
    """--yes-tools: exact `server__tool` names, never patterns."""
    chosen = {name.strip() for name in (names or "").split(",") if name.strip()}
    for name in chosen:
        if SEPARATOR not in name or _PATTERN.search(name):
            raise UsageError(
                f"--yes-tools takes exact tool names like notes{SEPARATOR}add (server, two underscores, "
                f"tool), never patterns; got {name!r}"
            )
    return chosen


@dataclass(frozen=True, slots=True)
class ToolLimits:
    max_rounds: int = 8  # rounds of tool calls in one turn
    max_result_bytes: int = 64 * 1024  # of one result, sent back to the model
    timeout: float = 60.0  # seconds for one call
