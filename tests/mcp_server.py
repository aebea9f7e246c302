"""A small MCP server for the tool tests, written with the mcp SDK: `python tests/mcp_server.py` speaks stdio,
`python tests/mcp_server.py --http PORT` streamable HTTP on 127.0.0.1:PORT/mcp, answering 401 unless the
Authorization header is EXPECT_AUTH.

Tools: add, read_note, hang (never answers; records that it was cancelled), crash (the process exits),
escape (escape sequences and, with size, a result of that many bytes). NOTES_DIR holds the notes;
MCP_TEST_LOG, when set, is a file each event is appended to (calls, cancellations), for the tests to read.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp.server import MCPServer

server = MCPServer("chatcli-test")


def _log(event: str) -> None:
    if path := os.environ.get("MCP_TEST_LOG"):
        with open(path, "a") as log:
            log.write(event + "\n")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    _log(f"add {a} {b}")
    return str(a + b)


@server.tool()
def read_note(name: str) -> str:
    """Read a note by name."""
    _log(f"read_note {name}")
    return (Path(os.environ.get("NOTES_DIR", ".")) / name).read_text()


@server.tool()
async def hang() -> str:
    """Never answers (until cancelled)."""
    _log("hang started")
    try:
        await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class():
        _log("hang cancelled")
        raise
    return "unreachable"


@server.tool()
def crash() -> str:
    """Exit the server process at once."""
    _log("crash")
    sys.stderr.write("about to crash\n")
    os._exit(3)


@server.tool()
def escape(size: int = 0) -> str:
    """Text with terminal escape sequences; `size` more bytes of filler."""
    _log(f"escape {size}")
    return "\x1b]52;c;cHduZWQ=\x07\x1b[2Jred\x1b[31m!" + "x" * size


def _checking_authorization(app: Any) -> Any:
    async def checked(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            received = dict(scope["headers"]).get(b"authorization", b"").decode()
            if received != os.environ.get("EXPECT_AUTH"):
                _log("unauthorized")
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return checked


def _serve_http(port: int) -> None:
    import uvicorn

    app = _checking_authorization(server.streamable_http_app(host="127.0.0.1"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    sys.stderr.write("test server starting\n")
    if slow := os.environ.get("MCP_TEST_SLOW_START"):  # seconds to wait before speaking MCP
        _log("starting slowly")
        time.sleep(float(slow))
    _log(f"started with a token of {len(os.environ.get('TOKEN', ''))} characters")
    if sys.argv[1:2] == ["--http"]:
        _serve_http(int(sys.argv[2]))
    else:
        server.run("stdio")
