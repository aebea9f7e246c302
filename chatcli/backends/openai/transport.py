"""HTTP connections whose read timeout can change while a response streams: long until the first token
(local models may think for minutes), short between chunks (a stalled stream is noticed quickly).

httpx fixes one read timeout per response, so the switch happens one level down, in the httpcore network
stream: every read waits `PhasedNetwork.read_timeout`, whatever timeout httpx passes.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

# Requests go one at a time per backend (one answer streams at a time), so one read timeout suffices.


class PhasedNetwork(httpcore2.NetworkBackend):
    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        return PhasedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options), self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        return PhasedStream(self._inner.connect_unix_socket(path, timeout, socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PhasedStream(httpcore2.NetworkStream):
    __slots__ = ("_inner", "_network")

    def __init__(self, inner: httpcore2.NetworkStream, network: PhasedNetwork) -> None:
        self._inner = inner
        self._network = network

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._network.read_timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        return PhasedStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._network)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def phased_transport(network: PhasedNetwork, **options: Any) -> httpx2.HTTPTransport:
    """An httpx transport whose connections (direct or through a proxy) read through `network`.

    httpx has no public hook for the network backend, so this sets the private `_pool._network_backend`;
    a version of httpx without them fails here, at once and loudly (the tests build one), rather than
    silently losing the first-token timeout."""
    transport = httpx2.HTTPTransport(**options)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore2.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError(
            f"httpx2 {httpx2.__version__} keeps its connection pool elsewhere; chatcli needs a version it supports"
        )
    pool._network_backend = network
    return transport
