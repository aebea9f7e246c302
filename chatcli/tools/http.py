"""A streamable HTTP MCP server as chatcli reaches it: the SDK's client over an httpx client of chatcli's, which
sends the configured headers and bounds what a response to a request may hold.

The SDK reads a JSON answer whole and builds it with pydantic before chatcli sees it, so the bound is applied
while the body is read: at most MAX_MESSAGE_BYTES and MAX_HTTP_JSON_CONTAINERS objects and arrays per response to
a POST (each MCP request is one POST). The event stream a server may hold open (a GET) lives as long as the
session, so it is bounded per event instead, by the SDK's own `max_sse_event_size`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2

from chatcli.tools.bounds import MAX_HTTP_JSON_CONTAINERS, MAX_MESSAGE_BYTES, Refusals

# The SDK's own defaults for the streamable HTTP client it would make: a server may hold the event stream open
# between messages, so reads wait longer than connecting.
MCP_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


class ResponseTooLarge(httpx2.StreamError):
    """A response held more than chatcli reads; the SDK reports it for the request it answered."""


class _BoundedBody(httpx2.AsyncByteStream):
    """A response's body, read until it holds more than chatcli reads (said in `refusals.failure`)."""

    def __init__(self, body: httpx2.AsyncByteStream, refusals: Refusals) -> None:
        self._body = body
        self._refusals = refusals

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = containers = 0
        async for chunk in self._body:
            size += len(chunk)
            containers += chunk.count(b"{") + chunk.count(b"[")
            if size > MAX_MESSAGE_BYTES:
                raise _refused(
                    self._refusals,
                    f"sent a response of more than {MAX_MESSAGE_BYTES} bytes, the most chatcli reads",
                )
            if containers > MAX_HTTP_JSON_CONTAINERS:
                raise _refused(
                    self._refusals,
                    f"sent a response of more than {MAX_HTTP_JSON_CONTAINERS} JSON objects and arrays, the most "
                    "chatcli reads",
                )
            yield chunk

    async def aclose(self) -> None:
        await self._body.aclose()


def _refused(refusals: Refusals, why: str) -> ResponseTooLarge:
    """The error that stops reading; `why` kept for the host's one line if the SDK reports a closed connection."""
    refusals.failure = why
    return ResponseTooLarge(why)


def _bounding(refusals: Refusals) -> Callable[[httpx2.Response], Awaitable[None]]:
    """A response hook: the body of a response to a POST, not read yet, is read through `_BoundedBody` (a hook
    sees every response, through a proxy too)."""

    async def bound(response: httpx2.Response) -> None:
        if response.request.method == "POST" and isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = _BoundedBody(response.stream, refusals)

    return bound


@contextlib.asynccontextmanager
async def http_transport(
    url: str, headers: dict[str, str], refusals: Refusals
) -> AsyncIterator[tuple[Any, Any]]:
    """The session's streams to the server at `url`, `headers` sent with each request."""
    from mcp.client.streamable_http import streamable_http_client

    client = httpx2.AsyncClient(
        headers=headers, timeout=MCP_HTTP_TIMEOUT, event_hooks={"response": [_bounding(refusals)]}
    )
    async with client, streamable_http_client(url, http_client=client) as streams:
        yield streams[0], streams[1]
