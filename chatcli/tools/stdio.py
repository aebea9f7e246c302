"""A stdio MCP server as chatcli runs it, for the SDK's ClientSession (which takes any pair of streams).

The SDK's own stdio client reads each line without limit and builds every message whole, and leaves a server's
children running once the server itself has exited. This transport reads at most MAX_MESSAGE_BYTES per message
(a longer one stops the server), refuses a result of more than MAX_CONTENT_BLOCKS blocks and keeps the first
MAX_TOOLS of a tool list before the SDK builds them, copies stderr into the bounded log, and runs the server in a
session of its own whose whole process group is ended when the transport closes or the server's own process
exits (a crash).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage
from mcp.types import INTERNAL_ERROR, jsonrpc_message_adapter

from chatcli.tools.bounds import (
    MAX_JSON_CONTAINERS,
    MAX_MESSAGE_BYTES,
    Refusals,
    first_tools,
    too_many_blocks,
)
from chatcli.tools.server_log import ServerLog
from chatcli.tools.spec import ServerSpec

READ_CHUNK = 64 * 1024
EXIT_GRACE = 2.0  # seconds for a server to exit once its stdin is closed, and again after SIGTERM
LEADER_POLL = 0.1  # seconds between looks at whether the server's own process still runs
GROUP_POLL = 0.01  # seconds between looks at whether the group has gone after SIGTERM
_PIPE_GONE = (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError)

Streams = tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]


class MessageRefused(Exception):
    """The server sent more than chatcli reads; the message is why, in words for the user."""


@contextlib.asynccontextmanager
async def stdio_transport(spec: ServerSpec, log: ServerLog, refusals: Refusals) -> AsyncIterator[Streams]:
    """Start `spec`'s command; the streams the session reads and writes; the server's group ended on exit."""
    assert spec.command is not None
    process = await anyio.open_process(
        [spec.command, *spec.args], env=get_default_environment() | dict(spec.env), start_new_session=True
    )
    # No await from here until the task group is entered: a cancellation in between would leak the process.
    incoming_writer, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, outgoing_reader = anyio.create_memory_object_stream[SessionMessage](0)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_read_stdout, process, incoming_writer, spec.name, log, refusals)
        tasks.start_soon(_write_stdin, process, outgoing_reader)
        tasks.start_soon(_copy_stderr, process, spec.name, log)
        tasks.start_soon(_end_with_leader, process)
        try:
            yield incoming, outgoing
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process)
            tasks.cancel_scope.cancel()


async def _read_stdout(
    process: Process,
    deliver: MemoryObjectSendStream[SessionMessage | Exception],
    name: str,
    log: ServerLog,
    refusals: Refusals,
) -> None:
    """Each line of stdout, bounded, to the session; the stream closed at the end (the session sees the server
    gone) or when the server sends more than chatcli reads (the server is stopped: its output is out of step)."""
    assert process.stdout is not None
    async with deliver:
        try:
            async for line in _lines(process.stdout, MAX_MESSAGE_BYTES):
                message = _parse(line, name, log, refusals)
                if message is not None:
                    await deliver.send(message)
        except MessageRefused as refused:
            refusals.failure = str(refused)
            log.write(f"[chatcli: {name} {refused}; it is stopped]\n")
            await _end_group(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the session is gone


async def _lines(stream: ByteReceiveStream, limit: int) -> AsyncIterator[bytearray]:
    """The lines of `stream`, without their newline; never more than `limit` bytes held for one line."""
    buffer = bytearray()
    while True:
        try:
            chunk = await stream.receive(READ_CHUNK)
        except _PIPE_GONE:
            return
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            _append(buffer, chunk[start:end], limit)
            yield buffer
            buffer = bytearray()
            start = end + 1
        _append(buffer, chunk[start:], limit)


def _append(buffer: bytearray, piece: bytes, limit: int) -> None:
    if len(buffer) + len(piece) > limit:
        raise MessageRefused(f"sent a message of more than {limit} bytes, the most chatcli reads")
    buffer += piece


def _parse(line: bytearray, name: str, log: ServerLog, refusals: Refusals) -> SessionMessage | None:
    """One line as a message for the session, bounded; None for a line that is not one (logged)."""
    if not line.strip():
        return None
    if (containers := line.count(b"{") + line.count(b"[")) > MAX_JSON_CONTAINERS:
        raise MessageRefused(
            f"sent a message of {containers} JSON objects and arrays, more than the {MAX_JSON_CONTAINERS} "
            "chatcli reads"
        )
    try:
        decoded = json.loads(line)
        if isinstance(decoded, dict):
            decoded = _bounded(decoded, refusals)
        return SessionMessage(jsonrpc_message_adapter.validate_python(decoded, by_name=False))
    except ValueError:  # not JSON, or not JSON-RPC
        log.stderr(name, b"[chatcli: not a JSON-RPC message: " + bytes(line[:200]) + b"]\n")
        return None


def _bounded(message: dict[str, Any], refusals: Refusals) -> dict[str, Any]:
    """`message` with a result of too many content blocks made an error, and a tool list cut to MAX_TOOLS."""
    if (why := too_many_blocks(message)) is not None and "id" in message:
        return {"jsonrpc": "2.0", "id": message["id"], "error": {"code": INTERNAL_ERROR, "message": why}}
    if (note := first_tools(message)) is not None:
        refusals.notes.append(note)
    return message


async def _write_stdin(process: Process, messages: MemoryObjectReceiveStream[SessionMessage]) -> None:
    assert process.stdin is not None
    async with messages:
        with contextlib.suppress(*_PIPE_GONE):  # the server is gone: the reader ends the session
            async for message in messages:
                text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await process.stdin.send(text.encode() + b"\n")


async def _copy_stderr(process: Process, name: str, log: ServerLog) -> None:
    """The server's stderr into the log (which keeps a bounded part); read to the end so the server never
    blocks on a full pipe."""
    assert process.stderr is not None
    with contextlib.suppress(*_PIPE_GONE):
        while True:
            log.stderr(name, await process.stderr.receive(READ_CHUNK))


async def _end_with_leader(process: Process) -> None:
    """When the server's own process exits (it crashed, or its stdin closed), end what it left in its group,
    and stop reading a stdout that a process outside the group may still hold open."""
    while process.returncode is None:
        await anyio.sleep(LEADER_POLL)
    await _end_group(process)
    assert process.stdout is not None
    with contextlib.suppress(*_PIPE_GONE):
        await process.stdout.aclose()


async def _stop(process: Process) -> None:
    """Close the server's stdin (MCP's way to ask it to exit), give it EXIT_GRACE, then end its group."""
    assert process.stdin is not None
    with contextlib.suppress(*_PIPE_GONE):
        await process.stdin.aclose()
    with anyio.move_on_after(EXIT_GRACE):
        while process.returncode is None:
            await anyio.sleep(GROUP_POLL)
    await _end_group(process)


async def _end_group(process: Process) -> None:
    """SIGTERM to the server's process group (its pid: it leads its own session), SIGKILL to what is left
    after EXIT_GRACE. The group outlives its leader while any child of the server runs."""
    if not _signal_group(process.pid, signal.SIGTERM):
        return
    with anyio.move_on_after(EXIT_GRACE):
        while _signal_group(process.pid, 0):
            await anyio.sleep(GROUP_POLL)
        return
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(group: int, signum: int) -> bool:
    """Send `signum` to the group; False when no process is left in it."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member that is not ours (or a zombie on some systems): the group is not proven gone
    return True
