"""Fetching a web page for `-f URL` and `/file URL`: one GET with chatcli's User-Agent and no cookies, redirects
followed to any http(s) host up to MAX_REDIRECTS, everything within one wall-clock deadline, the body's decoded
size capped by what its type may be; every failure one line. What the page becomes is storage.web_pages'."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from chatcli import __version__
from chatcli.backends.openai.diagnosis import connection_cause
from chatcli.backends.openai.transport import proxy_for, tls_context
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.stream import BackendSettings

if TYPE_CHECKING:
    import httpx2

USER_AGENT = f"chatcli/{__version__}"
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.9,image/*;q=0.8,*/*;q=0.5"
# What one page's Content-Type allows its body: (the most decoded bytes, how to allow more), or a UsageError.
BodyLimit = Callable[[str | None], tuple[int, str]]


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # as given
    final_url: str  # after redirects
    content_type: str | None  # the header as sent
    body: bytes  # decoded (gzip, deflate)


def fetch_page(url: str, settings: BackendSettings, seconds: float, body_limit: BodyLimit) -> FetchedPage:
    """GET `url` and its redirects within `seconds` in all, through the proxies and certificates of `settings`.
    A failure to reach it or a status other than 2xx is a ChatError; a type or size refused, a UsageError."""
    import httpx2

    clients = _Clients(settings)
    deadline = time.monotonic() + seconds
    current = url
    seen = {url}
    try:
        for _ in range(MAX_REDIRECTS + 1):
            response = clients.send(_request(current, deadline, settings.connect_timeout), url)
            try:
                location = _redirect(response, current, url)
                if location is None:
                    _check_status(response, current)
                    header = response.headers.get("content-type")
                    limit, remedy = body_limit(header)
                    return FetchedPage(
                        url, current, header, _read(response, limit, remedy, deadline, current)
                    )
            finally:
                response.close()
            if location in seen:
                raise ChatError(f"cannot fetch {url}: it redirects in a loop (back to {location})")
            seen.add(location)
            current = location
        raise ChatError(f"cannot fetch {url}: more than {MAX_REDIRECTS} redirects")
    except httpx2.TimeoutException:
        raise ChatError(
            f"cannot fetch {url}: no complete answer within {seconds:g} s (fetch_timeout)"
        ) from None
    except httpx2.TransportError as error:
        host = httpx2.URL(current).host
        raise ChatError(f"cannot fetch {current}: {connection_cause(error, host)}") from None
    finally:
        clients.close()


def _request(url: str, deadline: float, connect_timeout: float) -> httpx2.Request:
    import httpx2

    left = max(deadline - time.monotonic(), 0.001)
    timeout = httpx2.Timeout(left, connect=min(connect_timeout, left))
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as error:
        raise UsageError(f"{url!r} is not a valid URL ({error})") from None
    if not parsed.host:
        raise UsageError(f"{url!r} is not a valid URL (no host)")
    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
    # A Request built here, not by the client: the client would add its cookie jar's cookies to it.
    return httpx2.Request("GET", parsed, headers=headers, extensions={"timeout": timeout.as_dict()})


def _redirect(response: httpx2.Response, current: str, url: str) -> str | None:
    """Where a redirect leads (absolute), or None when the response is not one."""
    import httpx2

    if response.status_code not in _REDIRECTS:
        return None
    location = response.headers.get("location")
    if not location:
        raise ChatError(f"cannot fetch {current}: {response.status_code} redirect without a Location")
    try:
        target = httpx2.URL(urljoin(current, location))
    except httpx2.InvalidURL:
        raise ChatError(f"cannot fetch {url}: it redirects to an invalid URL") from None
    if target.scheme not in ("http", "https"):
        shown = str(target)[:200]
        raise ChatError(f"cannot fetch {url}: it redirects to {shown}; only http and https are followed")
    return str(target)


def _check_status(response: httpx2.Response, url: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    raise ChatError(f"cannot fetch {url}: {status} {phrase}".rstrip())


def _read(response: httpx2.Response, limit: int, remedy: str, deadline: float, url: str) -> bytes:
    """The body, decoded, refused past `limit` bytes or past the deadline."""
    import httpx2

    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and "content-encoding" not in response.headers:
        raise UsageError(f"{url} is larger than {limit} bytes ({declared}); {remedy}")
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > limit:
            raise UsageError(f"{url} is larger than {limit} bytes; {remedy}")
        if time.monotonic() > deadline:
            raise httpx2.ReadTimeout("the fetch's time is spent")
    return bytes(body)


class _Clients:
    """One httpx client for each proxy (or none) a URL of the redirect chain calls for; the TLS context, slow
    to load, only when a URL or its proxy is https."""

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._clients: dict[tuple[str | None, bool], httpx2.Client] = {}
        self._tls: ssl.SSLContext | None = None

    def send(self, request: httpx2.Request, url: str) -> httpx2.Response:
        import httpx2

        target = request.url
        proxy = proxy_for(target.scheme, target.host, target.port, self._settings)
        secure = target.scheme == "https" or (proxy or "").startswith("https:")
        key = (proxy, secure)
        if key not in self._clients:
            if secure and self._tls is None:
                self._tls = tls_context(self._settings.ca_bundle)
            transport = httpx2.HTTPTransport(verify=self._tls or False, proxy=proxy, trust_env=False)
            self._clients[key] = httpx2.Client(transport=transport, trust_env=False, follow_redirects=False)
        try:
            return self._clients[key].send(request, stream=True)
        except httpx2.UnsupportedProtocol:
            raise UsageError(f"{url!r} is not a valid URL") from None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
