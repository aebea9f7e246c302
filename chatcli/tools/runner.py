"""The ToolRunner over MCP: offers the enabled servers' tools as OpenAI functions named `server__tool`, and
runs each call the model asks for, once approved: with a timeout, Ctrl-C cancelling it, its result capped.

The `mcp` SDK is imported (through chatcli.tools.host) only when the first tool-enabled turn starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatcli.core.errors import ChatError
from chatcli.core.redact import redact
from chatcli.core.stream import ToolCall
from chatcli.tools.approval import DIM, Approver, PendingCall
from chatcli.tools.bounds import one_line, shorten
from chatcli.tools.spec import SEPARATOR, ServerSpec, ToolLimits

if TYPE_CHECKING:
    from chatcli.tools.host import McpHost, ServerState

DECLINED = "declined: the user did not allow this call"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64  # OpenAI's limit for a function name


@dataclass(frozen=True, slots=True)
class OfferedTool:
    server: str
    tool: str
    definition: Mapping[str, Any]


def offered_name(server: str, tool: str, taken: set[str]) -> str:
    """`server__tool`, in the characters and length OpenAI allows, unique among `taken`."""
    base = _NAME_CHARS.sub("_", f"{server}{SEPARATOR}{tool}")[:MAX_NAME]
    name, number = base, 2
    while name in taken:
        suffix = f"_{number}"
        name, number = base[: MAX_NAME - len(suffix)] + suffix, number + 1
    return name


def cap(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, with a note of what was cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", "ignore")
    return f"{kept}\n[chatcli: result cut to {limit} of {len(data)} bytes (max_tool_result_bytes)]"


def result_text(result: Any) -> str:
    """An MCP CallToolResult as text for the model: its text blocks, other blocks described, errors marked."""
    parts: list[str] = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {block.mime_type}, {len(block.data) * 3 // 4} bytes, not shown]")
        elif kind == "resource_link":
            parts.append(f"[resource: {block.uri}]")
        elif kind == "resource":
            parts.append(getattr(block.resource, "text", None) or f"[resource: {block.resource.uri}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    return f"error: {text}" if result.is_error else text


class ToolServerUnavailable(ChatError):
    """A server that was asked for explicitly (`ask --tools NAME`) did not start."""


class McpToolRunner:
    """Implements chatcli.core.tools.ToolRunner for the servers in `specs` (started at the first turn).

    With `required`, a server that fails to start ends the turn before anything is sent (ToolServerUnavailable);
    otherwise it is reported in one line and the others' tools are offered."""

    def __init__(
        self,
        specs: Sequence[ServerSpec],
        limits: ToolLimits,
        approver: Approver,
        notify: Callable[[str], None],
        log_path: Path,
        resolve_secret: Callable[[str, str], str],
        *,
        required: bool = False,
        waiting: Callable[[str], AbstractContextManager[object]] = lambda label: nullcontext(),
    ) -> None:
        self.specs = list(specs)
        self.required = required
        self._resolve_secret = resolve_secret  # runs an `env`/`headers` `*_cmd` (once, at start)
        self.limits = limits
        self.max_rounds = limits.max_rounds
        self.approver = approver
        self._notify = notify
        self._log_path = log_path
        self._waiting = (
            waiting  # shows that something runs (a spinner on a terminal) while servers start or work
        )
        self._host: McpHost | None = None
        self._offered: dict[str, OfferedTool] = {}
        for spec in self.specs:
            approver.always |= {f"{spec.name}{SEPARATOR}{tool}" for tool in spec.auto_approve}

    def start(self) -> list[ServerState]:
        """Start the servers not started yet; say in one line each which failed and why."""
        if self._host is None:
            from chatcli.tools.host import START_TIMEOUT, McpHost

            self.specs = [spec.with_secrets(self._resolve_secret) for spec in self.specs]
            self._host = McpHost(self._log_path, max(self.limits.timeout, START_TIMEOUT))
        starting = ", ".join(spec.name for spec in self.specs)
        try:
            with self._waiting(f"starting MCP server{'s' if len(self.specs) != 1 else ''} {starting}"):
                states = self._host.start(self.specs)
        except KeyboardInterrupt:
            self.close()  # stops what did start; the next turn starts afresh
            raise
        taken: set[str] = set()
        self._offered = {}
        for state in states:
            if not state.running:
                continue
            for tool in state.tools:
                name = offered_name(state.spec.name, tool.name, taken)
                taken.add(name)
                self._offered[name] = OfferedTool(state.spec.name, tool.name, _definition(name, tool))
        return states

    def definitions(self) -> Sequence[Mapping[str, Any]]:
        if self._host is None:
            for state in self.start():
                if state.error is not None:
                    unavailable = f"MCP server {state.spec.name} is not available: {state.error}"
                    if self.required:
                        raise ToolServerUnavailable(unavailable)
                    self._notify(unavailable)
                for note in state.refusals.notes:
                    self._notify(f"MCP server {state.spec.name}: {note}")
        return [offered.definition for offered in self._offered.values()]

    def run(self, call: ToolCall) -> str:
        offered = self._offered.get(call.name)
        if offered is None:
            return f"error: there is no tool named {call.name!r}"
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as error:
            return f"error: the arguments are not valid JSON ({error}); the call was not run"
        if not isinstance(arguments, dict):
            return "error: the arguments must be a JSON object; the call was not run"
        approved = self.approver.approve(PendingCall(offered.server, offered.tool, call.name, arguments))
        if approved is None:
            return DECLINED
        result = self._call(offered, approved)
        if approved != arguments:
            return f"[the user changed the arguments to {json.dumps(approved, ensure_ascii=False)}]\n{result}"
        return result

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None
            self._offered = {}

    def _call(self, offered: OfferedTool, arguments: dict[str, Any]) -> str:
        from chatcli.tools.host import ToolFailed

        assert self._host is not None
        try:
            with self._waiting(f"running {offered.server} · {offered.tool}"):
                result = self._host.call(offered.server, offered.tool, arguments, self.limits.timeout)
        except ToolFailed as error:
            if error.server_stopped:
                self._offered = {k: v for k, v in self._offered.items() if v.server != offered.server}
                self._notify(f"MCP {error}; its tools are no longer offered (see {self._log_path})")
            else:
                self._notify(one_line(f"tool {offered.server} · {offered.tool} failed: {error}"))
            return f"error: {error}"
        text = redact(result_text(result), self._secrets(offered.server))
        self.approver.say(f"→ {_summary(text)}", DIM)
        return cap(text, self.limits.max_result_bytes)

    def _secrets(self, server: str) -> list[str]:
        return next((spec.secrets() for spec in self.specs if spec.name == server), [])


def _definition(name: str, tool: Any) -> dict[str, Any]:
    schema = dict(tool.input_schema) or {"type": "object", "properties": {}}
    return {
        "type": "function",
        "function": {"name": name, "description": tool.description, "parameters": schema},
    }


def _summary(text: str, width: int = 100) -> str:
    """The first line of a result, shortened, on one line (a lone CR or a tab shown as such), with its size."""
    first = text.strip().split("\n", 1)[0]
    shown = one_line(shorten(first, width))
    lines = text.count("\n") + 1
    more = f" ({len(text.encode())} bytes, {lines} lines)" if lines > 1 or len(first) > width else ""
    return shown + more
