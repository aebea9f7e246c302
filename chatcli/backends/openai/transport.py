"""HTTP connections (httpcore, the layer under httpx): read time budgets that only real progress renews,
proxies, and TLS.

Reads are timed in the network stream because an answer needs several read timeouts where HTTP libraries
fix one per response: a long wait for the first token (local models may think for minutes), a short one
between chunks (a stalled stream is noticed quickly), a short grace after the last chunk. A budget is wall-clock
time from the moment chatcli starts waiting for the next piece of the answer, and bytes alone do not renew it:
a server sending keep-alive comments or empty events, slowly or as fast as it can, makes no progress; the
client renews it when an answer piece arrives. Until a response's headers arrive, what may be read is also
bounded in bytes, so endless interim (1xx) responses cannot keep chatcli busy. An optional turn deadline
(`max_turn_seconds`) caps everything.

Proxies and trusted certificates come from BackendSettings, never from the process environment; the TLS
context (loading the certificate store is slow) is built only for a connection that needs one.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore2

from chatcli.core.errors import UsageError
from chatcli.core.stream import BackendSettings

# Requests go one at a time per backend (one answer streams at a time), so one budget suffices.


class NoProgress(httpcore2.ReadError):
    """The server sent more bytes than the limit allows without the response chatcli waits for."""


class PhasedNetwork(httpcore2.NetworkBackend):
    """Every read of every connection made through it waits at most until the budget given by `allow` runs
    out (wall-clock) and never past `deadline` (a time.monotonic() value, or None); with `limit_bytes`, reads
    raise NoProgress once they have read that many bytes."""

    def __init__(self, budget: float) -> None:
        self.deadline: float | None = None
        self._until = time.monotonic() + budget
        self._bytes_left: int | None = None
        self._inner = httpcore2.SyncBackend()

    def allow(self, seconds: float) -> None:
        """From now on, reads may go on for `seconds` in all before one raises ReadTimeout."""
        self._until = time.monotonic() + seconds

    def limit_bytes(self, limit: int | None) -> None:
        """From now on, reads may read `limit` bytes in all (None: no limit) before one raises NoProgress."""
        self._bytes_left = limit

    def remaining(self) -> float:
        end = self._until if self.deadline is None else min(self._until, self.deadline)
        return end - time.monotonic()

    def out_of_turn_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        timeout = self.capped(timeout)
        return PhasedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options), self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        return PhasedStream(self._inner.connect_unix_socket(path, self.capped(timeout), socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def read(self, stream: httpcore2.NetworkStream, max_bytes: int) -> bytes:
        limit = self.remaining()
        if limit <= 0:
            raise httpcore2.ReadTimeout("the read time budget is spent")
        data = stream.read(max_bytes, limit)
        if self._bytes_left is not None:
            self._bytes_left -= len(data)
            if self._bytes_left < 0:
                raise NoProgress("the server sent too much without a response")
        return data

    def capped(self, timeout: float | None) -> float | None:
        if self.deadline is None:
            return timeout
        left = max(self.deadline - time.monotonic(), 0.001)
        return left if timeout is None else min(timeout, left)


class PhasedStream(httpcore2.NetworkStream):
    __slots__ = ("_inner", "_network")

    def __init__(self, inner: httpcore2.NetworkStream, network: PhasedNetwork) -> None:
        self._inner = inner
        self._network = network

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._network.read(self._inner, max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._network.capped(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._network.capped(timeout))
        return PhasedStream(inner, self._network)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


# Everything httpcore raises for a request that failed on the way (its exceptions share no base class).
TRANSPORT_ERRORS = (
    httpcore2.TimeoutException,
    httpcore2.NetworkError,
    httpcore2.ProtocolError,
    httpcore2.ProxyError,
    httpcore2.UnsupportedProtocol,
)
DEFAULT_PORTS = {"http": 80, "https": 443}


class Connections:
    """Sends each request directly or through the proxy its URL calls for, over connections that read
    through one PhasedNetwork. A connection pool per proxy, and the TLS context, are made on first use."""

    def __init__(self, settings: BackendSettings, network: httpcore2.NetworkBackend) -> None:
        self._settings = settings
        self._network = network
        self._pools: dict[tuple[str | None, bool], httpcore2.ConnectionPool] = {}
        self._tls: ssl.SSLContext | None = None

    def send(self, request: httpcore2.Request) -> httpcore2.Response:
        """The response, its body still unread: iterate `response.stream`, then close it."""
        url = request.url
        scheme = url.scheme.decode("ascii")
        proxy = proxy_for(scheme, url.host.decode("ascii"), url.port, self._settings)
        secure = scheme == "https" or (proxy or "").startswith("https:")
        key = (proxy, secure)
        if key not in self._pools:
            self._pools[key] = self._pool(proxy, self.tls_context() if secure else None)
        return self._pools[key].handle_request(request)

    def _pool(self, proxy: str | None, tls: ssl.SSLContext | None) -> httpcore2.ConnectionPool:
        if proxy is None:
            return httpcore2.ConnectionPool(ssl_context=tls, network_backend=self._network)
        parts = urlsplit(proxy)
        auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
        return httpcore2.HTTPProxy(
            proxy_url=parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl(),
            proxy_auth=auth,
            ssl_context=tls,
            proxy_ssl_context=tls if parts.scheme == "https" else None,
            network_backend=self._network,
        )

    def tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context(self._settings.ca_bundle)
        return self._tls

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificate verification against `ca_bundle` (a PEM file or a hashed directory) or, without one, the
    system's store (httpcore's default: the platform's trust store on macOS and Windows)."""
    if ca_bundle is None:
        return httpcore2.default_ssl_context()
    try:
        if os.path.isdir(ca_bundle):
            return ssl.create_default_context(capath=ca_bundle)
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or "not a PEM file"
        raise UsageError(
            f"cannot load the certificates in ca_bundle {ca_bundle!r} ({reason}); "
            "check the ca_bundle setting or SSL_CERT_FILE"
        ) from None


# -- proxies ------------------------------------------------------------------------------------------------


def proxy_for(scheme: str, host: str, port: int | None, settings: BackendSettings) -> str | None:
    """The proxy for a URL: the `proxy` setting ("" for none) or else the environment's `https_proxy`,
    `http_proxy` or `all_proxy` (as copied into settings.proxy_environment); `no_proxy` names hosts that
    are reached directly."""
    environment = settings.proxy_environment
    if settings.proxy is not None:
        proxy = settings.proxy
    else:
        proxy = environment.get(f"{scheme}_proxy") or environment.get("all_proxy") or ""
    if not proxy or bypasses_proxy(host, port, environment.get("no_proxy", "")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether `no_proxy` (curl's rules: `*`, host names matching themselves and their sub-domains, with or
    without a leading dot, `host:port`, IP addresses and CIDR networks) names this host."""
    host = host.lower().strip("[]")
    for entry in (part.strip().lower() for part in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = name.strip("[]").removeprefix("*").removeprefix(".")
        if host == name or host.endswith("." + name) or _in_network(host, name):
            return True
    return False


def _has_port(entry: str) -> bool:
    """`host:8080` or `[::1]:8080`, but not a bare IPv6 address."""
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1 and entry.rpartition(":")[2].isdigit()


def _in_network(host: str, entry: str) -> bool:
    import ipaddress  # only when no_proxy is set

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
