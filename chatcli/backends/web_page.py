"""Fetching a web page for `-f URL` and `/file URL`: one GET with chatcli's User-Agent and no cookies, redirects
followed to any http(s) host up to MAX_REDIRECTS, everything within one wall-clock deadline, the body's decoded
size capped by what its type may be; every failure one line. What the page becomes is storage.web_pages'.

It goes through the HTTP layer the model's requests use (backends.http.transport): the same proxies and
certificates, and a PhasedNetwork whose deadline bounds every connect and read, so a server that sends nothing,
or a byte now and then, is given up on at the deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from chatcli.backends.http.diagnosis import connection_cause
from chatcli.backends.http.headers import USER_AGENT
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.stream import BackendSettings

if TYPE_CHECKING:
    import httpx2

    from chatcli.backends.http.transport import PhasedNetwork

MAX_REDIRECTS = 5
MAX_HEAD_BYTES = 1024 * 1024  # read before a response's headers (interim 1xx responses included) end
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
    A failure to reach it or a status other than 2xx is a ChatError; a bad URL, a type or size refused, a
    UsageError."""
    import httpx2

    from chatcli.backends.http.transport import NoProgress

    fetch = _Fetch(url, settings, seconds)
    try:
        return fetch.follow(body_limit)
    except httpx2.TimeoutException:
        raise ChatError(
            f"cannot fetch {url}: no complete answer within {seconds:g} s (fetch_timeout)"
        ) from None
    except NoProgress:
        raise ChatError(
            f"cannot fetch {fetch.current}: more than 1 MiB came before the response's headers"
        ) from None
    except httpx2.UnsupportedProtocol:
        raise UsageError(f"{fetch.current!r} is not a valid URL") from None
    except httpx2.TransportError as error:
        host = httpx2.URL(fetch.current).host
        raise ChatError(f"cannot fetch {fetch.current}: {connection_cause(error, host)}") from None
    finally:
        fetch.close()


class _Fetch:
    """One page's fetch: httpx's client over the HTTP layer's transport, every connect and read ending by the
    deadline. Requests are built here, never by the client, which would add its cookie jar's cookies."""

    def __init__(self, url: str, settings: BackendSettings, seconds: float) -> None:
        import httpx2

        from chatcli.backends.http.transport import PhasedNetwork, PhasedTransport, tls_context

        self.url = self.current = url
        self._settings = settings
        self._seconds = seconds
        self._network: PhasedNetwork = PhasedNetwork(seconds)
        self._network.deadline = time.monotonic() + seconds
        transport = PhasedTransport(settings, self._network, lambda: tls_context(settings.ca_bundle))
        self._client = httpx2.Client(transport=transport, follow_redirects=False, trust_env=False)

    def follow(self, body_limit: BodyLimit) -> FetchedPage:
        seen = {self.url}
        for _ in range(MAX_REDIRECTS + 1):
            self._network.limit_bytes(MAX_HEAD_BYTES)
            response = self._client.send(self._request(self.current), stream=True)
            self._network.limit_bytes(None)
            try:
                location = _redirect(response, self.current, self.url)
                if location is None:
                    _check_status(response, self.current)
                    header = response.headers.get("content-type")
                    limit, remedy = body_limit(header)
                    body = _read(response, limit, remedy, self.current)
                    return FetchedPage(self.url, self.current, header, body)
            finally:
                response.close()
            if location in seen:
                raise ChatError(f"cannot fetch {self.url}: it redirects in a loop (back to {location})")
            seen.add(location)
            self.current = location
        raise ChatError(f"cannot fetch {self.url}: more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str) -> httpx2.Request:
        import httpx2

        # The network's deadline cuts both short; these only keep httpx from adding its own.
        timeout = httpx2.Timeout(self._seconds, connect=self._settings.connect_timeout)
        try:
            parsed = httpx2.URL(url)
        except httpx2.InvalidURL as error:
            raise UsageError(f"{url!r} is not a valid URL ({error})") from None
        if not parsed.host:
            raise UsageError(f"{url!r} is not a valid URL (no host)")
        headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
        return httpx2.Request("GET", parsed, headers=headers, extensions={"timeout": timeout.as_dict()})

    def close(self) -> None:
        self._client.close()


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


def _read(response: httpx2.Response, limit: int, remedy: str, url: str) -> bytes:
    """The body, decoded (httpx inflates gzip and deflate as it goes), refused past `limit` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and "content-encoding" not in response.headers:
        raise UsageError(f"{url} is larger than {limit} bytes ({declared}); {remedy}")
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > limit:
            raise UsageError(f"{url} is larger than {limit} bytes; {remedy}")
    return bytes(body)
