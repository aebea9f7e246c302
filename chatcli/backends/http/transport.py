"""The connections under httpx's client: read time budgets that only real progress renews, the proxy each
URL calls for, and TLS.

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

import contextlib
import os
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore2
import httpx2

from chatcli.core.errors import UsageError
from chatcli.core.stream import BackendSettings

# Requests go one at a time per backend (one answer streams at a time), so one budget suffices.


class NoProgress(httpx2.ReadError):
    """The server sent more bytes than the limit allows without the response chatcli waits for (an httpx
    error, so it passes through httpcore and the transport's error mapping as it is)."""


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


DEFAULT_PORTS = {"http": 80, "https": 443}
# Everything a request can fail with on the way (httpx's errors, mapped from httpcore's by PhasedTransport).
TRANSPORT_ERRORS = (httpx2.TransportError,)
# httpcore's errors and the httpx errors they become, most specific first (httpx's HTTPTransport keeps its
# own table private, so chatcli's transport has its own).
_MAPPED_ERRORS: tuple[tuple[type[Exception], type[httpx2.TransportError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.ProxyError, httpx2.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx2.Request) -> Iterator[None]:
    """httpcore's errors as the httpx errors they are, the original kept as the cause (its OS-level reason)."""
    try:
        yield
    except tuple(core for core, _ in _MAPPED_ERRORS) as error:
        mapped = next(ours for core, ours in _MAPPED_ERRORS if isinstance(error, core))
        raise mapped(str(error), request=request) from error


class PhasedTransport(httpx2.BaseTransport):
    """httpx's transport for chatcli: httpcore's connection pools (direct, or through the proxy the URL calls
    for) reading through one PhasedNetwork.

    Why not httpx's HTTPTransport: it takes no network backend, and the read budget that only answer pieces
    renew, the turn deadline and the byte cap before a response's headers live in the network backend
    (httpx's timeouts are per read, renewed by any byte). Why chatcli chooses the proxy: `no_proxy`'s curl rules
    (CIDR networks, ports, leading dots) are more than httpx's mount patterns express. A pool per proxy, and
    the TLS context (loading the certificate store is slow), are made on first use."""

    def __init__(
        self,
        settings: BackendSettings,
        network: httpcore2.NetworkBackend,
        verify: Callable[[], ssl.SSLContext],
    ) -> None:
        self._settings = settings
        self._network = network
        self._verify = verify
        self._pools: dict[tuple[str | None, bool], httpcore2.ConnectionPool] = {}

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        proxy = proxy_for(url.scheme, url.host, url.port, self._settings)
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            response = self.pool_for(proxy, url.scheme == "https").handle_request(core_request)
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseBody(response, request),
            extensions=response.extensions,
        )

    def pool_for(self, proxy: str | None, secure_target: bool) -> httpcore2.ConnectionPool:
        secure = secure_target or (proxy or "").startswith("https:")
        key = (proxy, secure)
        if key not in self._pools:
            tls = self._verify() if secure else None
            self._pools[key] = self.new_pool(proxy, tls)
        return self._pools[key]

    def new_pool(self, proxy: str | None, tls: ssl.SSLContext | None) -> httpcore2.ConnectionPool:
        if proxy is None:
            return httpcore2.ConnectionPool(ssl_context=tls, network_backend=self._network)
        parsed = httpx2.Proxy(proxy)  # httpx's reading of a proxy URL: its address, and user:password as auth
        return httpcore2.HTTPProxy(
            proxy_url=httpcore2.URL(
                scheme=parsed.url.raw_scheme,
                host=parsed.url.raw_host,
                port=parsed.url.port,
                target=parsed.url.raw_path,
            ),
            proxy_auth=parsed.raw_auth,
            ssl_context=tls,
            proxy_ssl_context=tls if parsed.url.scheme == "https" else None,
            network_backend=self._network,
        )

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class _ResponseBody(httpx2.SyncByteStream):
    """A response body as httpx reads it: httpcore's stream, its errors as httpx's."""

    def __init__(self, response: httpcore2.Response, request: httpx2.Request) -> None:
        self._response = response
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors(self._request):
            yield from self._response.iter_stream()

    def close(self) -> None:
        with _httpx_errors(self._request):
            self._response.close()


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificate verification against `ca_bundle` (a PEM file or a hashed directory) or, without one, the
    system's store (httpx's default context; SSL_CERT_FILE and SSL_CERT_DIR reach chatcli as ca_bundle)."""
    if ca_bundle is None:
        return httpx2.create_ssl_context(trust_env=False)
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
