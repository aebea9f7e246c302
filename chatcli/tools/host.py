"""The MCP sessions, through the official `mcp` SDK, on an asyncio loop in a thread of their own, so the rest
of chatcli stays synchronous. Each server's session lives in one task from start to close (the SDK's
context managers must be entered and left in the same task); calls are submitted to the loop and waited for.

Servers' stderr goes to one log file (0600, bounded: see server_log.py) in the user state directory, never to the
terminal. Stdio servers run through chatcli's own transport (stdio.py), which bounds what it reads.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Mapping
from concurrent.futures import Future
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult

from chatcli.core.redact import redact
from chatcli.tools.bounds import (
    MAX_SHOWN_ERROR,
    MAX_TOOL_PAGES,
    MAX_TOOLS,
    Refusals,
    check_tools,
    one_line,
    shorten,
)
from chatcli.tools.server_log import ServerLog
from chatcli.tools.spec import ServerSpec
from chatcli.tools.stdio import stdio_transport

START_TIMEOUT = 30.0  # seconds for a server to start and list its tools
CLOSE_TIMEOUT = 5.0  # seconds to let servers shut down at exit
CANCEL_GRACE = 2.0  # seconds to let a cancelled call send its cancellation notice
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(slots=True)
class ServerState:
    """A started (or failed) server: its tools, or why it is not available."""

    spec: ServerSpec
    tools: list[ToolInfo] = field(default_factory=list)
    error: str | None = None  # why it failed to start, or why it stopped
    refusals: Refusals = field(default_factory=Refusals)  # what was left out of its answers
    session: ClientSession | None = field(default=None, repr=False)
    stop: asyncio.Event | None = field(default=None, repr=False)
    task: asyncio.Future[None] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.error is None and self.session is not None


class ToolFailed(Exception):
    """A call did not produce a result: timed out, the server stopped, or the server reported an error."""

    def __init__(self, message: str, *, server_stopped: bool = False) -> None:
        super().__init__(message)
        self.server_stopped = server_stopped


class McpHost:
    """Starts servers, lists their tools, calls them; `close()` (also at exit) stops them all."""

    def __init__(self, log_path: Path, start_timeout: float = START_TIMEOUT) -> None:
        self.log_path = log_path
        self._start_timeout = start_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chatcli-mcp", daemon=True)
        self._thread.start()
        self._log = ServerLog(log_path)
        _log_sdk_warnings_to(self._log)
        self.servers: dict[str, ServerState] = {}
        self._closed = False
        atexit.register(self.close)

    def start(self, specs: list[ServerSpec]) -> list[ServerState]:
        """Start `specs` concurrently (those not started yet); each ends up with its tools or an error.

        Ctrl-C stops the start (`close()` then stops what did start) and re-raises."""
        new = [spec for spec in specs if spec.name not in self.servers]
        self._wait(self._start_all(new))
        return [self.servers[spec.name] for spec in specs]

    def call(self, server: str, tool: str, arguments: dict[str, Any], timeout: float) -> CallToolResult:
        """Call `tool`; Ctrl-C cancels it (the server is told) and re-raises. Raises ToolFailed."""
        state = self.servers[server]
        if not state.running or state.session is None:
            raise ToolFailed(f"server {server} is not running ({state.error})", server_stopped=True)
        try:
            return self._wait(state.session.call_tool(tool, arguments, read_timeout_seconds=timeout))
        except MCPError as error:
            if error.code == REQUEST_TIMEOUT:  # the SDK has sent notifications/cancelled
                raise ToolFailed(
                    f"no answer within {timeout:g} s (tool_timeout); the call was cancelled"
                ) from None
            if error.code == CONNECTION_CLOSED:
                why = state.refusals.failure
                state.error = f"it {why}" if why else f"it stopped while running {tool}; see {self.log_path}"
                raise ToolFailed(
                    f"server {server} stopped" + (f": it {why}" if why else ""), server_stopped=True
                ) from None
            message = shorten(one_line(error.message), MAX_SHOWN_ERROR)
            raise ToolFailed(redact(message, state.spec.secrets())) from None
        except (
            Exception
        ) as error:  # a result the SDK cannot read (malformed, or a kind chatcli does not ask for)
            raise ToolFailed(f"the server's answer could not be read ({type(error).__name__})") from None

    def close(self) -> None:
        """Stop every server (each gets its session closed and, for stdio, its process ended)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception, KeyboardInterrupt):
            self._wait(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()
        _log_sdk_warnings_to(None)
        self._log.close()
        atexit.unregister(self.close)

    def _wait(self, coroutine: Awaitable[T]) -> T:
        """Run `coroutine` on the loop and wait; Ctrl-C cancels it, lets it clean up briefly, and re-raises."""
        done = threading.Event()

        async def tracked() -> T:
            try:
                return await coroutine
            finally:
                done.set()

        future: Future[T] = asyncio.run_coroutine_threadsafe(tracked(), self._loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()  # anyio cancellation: the SDK sends notifications/cancelled for a call
            done.wait(CANCEL_GRACE)
            raise

    async def _start_all(self, specs: list[ServerSpec]) -> None:
        await asyncio.gather(*(self._start_one(spec) for spec in specs))

    async def _start_one(self, spec: ServerSpec) -> None:
        state = self.servers[spec.name] = ServerState(spec)  # registered at once, so close() can stop it
        ready: asyncio.Future[None] = self._loop.create_future()
        state.stop = asyncio.Event()
        ready.add_done_callback(_retrieved)
        state.task = asyncio.ensure_future(self._hold(state, ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), self._start_timeout)
        except TimeoutError:
            late = TimeoutError(f"did not start within {self._start_timeout:g} s")
            state.error = _describe(late, spec, self.log_path)
            state.task.cancel()
        except Exception as error:
            why = state.refusals.failure
            state.error = f"it {why}" if why else _describe(error, spec, self.log_path)

    async def _shutdown(self) -> None:
        """Close the open sessions; cancel the servers still starting (their processes are ended either way)."""
        tasks = []
        for state in self.servers.values():
            if state.task is None or state.stop is None:
                continue
            state.stop.set()
            if state.session is None:
                state.task.cancel()
            tasks.append(state.task)
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)

    async def _hold(self, state: ServerState, ready: asyncio.Future[None]) -> None:
        """Open the server's session, list its tools, then keep the session open until `stop`."""
        spec = state.spec
        assert state.stop is not None
        self._log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name} ({spec.transport})\n")
        self._log.flush()
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(spec))
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                state.tools = await _list_tools(session, state.refusals)
                state.session = session
                ready.set_result(None)
                await state.stop.wait()
        except (Exception, asyncio.CancelledError) as error:
            if not ready.done():
                ready.set_exception(error if isinstance(error, Exception) else TimeoutError())
            elif state.error is None and not state.stop.is_set():
                state.error = _describe(error, spec, self.log_path)
        finally:
            state.session = None  # closed

    def _transport(self, spec: ServerSpec) -> contextlib.AbstractAsyncContextManager[Any]:
        if spec.command is not None:
            return stdio_transport(spec, self._log, self.servers[spec.name].refusals)
        assert spec.url is not None
        from chatcli.tools.http import http_transport

        return http_transport(spec.url, dict(spec.headers), self.servers[spec.name].refusals)


async def _list_tools(session: ClientSession, refusals: Refusals) -> list[ToolInfo]:
    """The server's tools that pass `check_tools`, the first MAX_TOOLS of them; what was left out, in
    `refusals`."""
    from mcp.types import PaginatedRequestParams

    tools: list[ToolInfo] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        listed = [
            {"name": tool.name, "description": tool.description or "", "inputSchema": tool.input_schema or {}}
            for tool in page.tools
        ]
        kept, notes = check_tools(listed)
        refusals.notes += notes
        room = MAX_TOOLS - len(tools)
        tools += [ToolInfo(tool["name"], tool["description"], tool["inputSchema"]) for tool in kept[:room]]
        cursor = page.next_cursor
        if len(kept) > room or (cursor and len(tools) >= MAX_TOOLS):
            refusals.notes.append(
                f"left out the tools after the first {MAX_TOOLS} (at most {MAX_TOOLS} per server)"
            )
            return tools
        if not cursor:
            return tools
    refusals.notes.append(f"left out the tools after {MAX_TOOL_PAGES} pages of its tool list")
    return tools


def _describe(error: BaseException, spec: ServerSpec, log_path: Path) -> str:
    """One line: why a server failed, with no secret in it."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    see_log = f"; see {log_path}" if spec.command is not None else ""  # only stdio servers write to it
    if isinstance(error, TimeoutError) and str(error):
        reason = f"{error}{see_log}"
    elif isinstance(error, httpx2.ConnectError):
        reason = f"cannot connect to {spec.url}"
    elif isinstance(error, FileNotFoundError):
        reason = f"command not found: {spec.command}"
    elif isinstance(error, OSError) and error.strerror:
        reason = f"cannot start {spec.command or spec.url} ({error.strerror})"
    elif isinstance(error, MCPError):
        reason = f"{error.message}{see_log}"
    else:
        reason = f"{type(error).__name__}: {error}{see_log}" if str(error) else type(error).__name__
    return redact(" ".join(reason.split())[:300], spec.secrets())


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark a start's outcome as seen, so a start abandoned by Ctrl-C logs no "exception never retrieved"."""
    if not future.cancelled():
        future.exception()


def _log_sdk_warnings_to(log: ServerLog | None) -> None:
    """The SDK's (and asyncio's) warnings go to the log file (None: nowhere, once it is closed): the terminal
    shows chatcli's own lines only."""
    handler: logging.Handler = logging.StreamHandler(log) if log is not None else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("mcp", "asyncio", "httpx2"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
