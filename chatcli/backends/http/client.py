"""The one HTTP client every chat backend but echo is: a `ChatClient` over a `Wire` (wire.py), on httpx's client.

httpx builds each request and each redirect's next request (dropping the Authorization header on another
origin), decodes compressed bodies a piece at a time, and sends a base URL's `user:password@` as basic auth.
chatcli keeps what httpx does not do: which redirects are followed (the `follow_redirects` setting, loops, a
count; the key never leaves the base URL's host, whatever header carries it), retries visibly and only before
any answer piece (diagnosis.py), read budgets that only answer pieces renew and a byte cap before a response's
headers (transport.py), a cap on every body's decoded size, a cap on lines in a row that are not an answer
(keep-alive floods), and a short grace once the answer is finished. No body is read whole unless it is small:
an error body up to MAX_ERROR_BYTES, a whole answer, a model list or a small JSON answer up to MAX_BODY_BYTES.
"""

from __future__ import annotations

import http.cookiejar
import json
import math
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2

from chatcli.backends import KEY_VARIABLES, BackendName
from chatcli.backends.http.body import EncodedBody, encode_body
from chatcli.backends.http.diagnosis import (
    Diagnosis,
    StatusError,
    Wording,
    rejected_option,
    retry_plan,
    status_error,
)
from chatcli.backends.http.errors import MALFORMED, failure
from chatcli.backends.http.headers import common_headers
from chatcli.backends.http.sse import MAX_LINE_BYTES, LineTooLong, read_lines
from chatcli.backends.http.transport import (
    DEFAULT_PORTS,
    TRANSPORT_ERRORS,
    NoProgress,
    PhasedNetwork,
    PhasedTransport,
    proxy_for,
    tls_context,
)
from chatcli.backends.http.wire import Wire, api_root
from chatcli.backends.redact import shown_url
from chatcli.core.errors import BackendError
from chatcli.core.stream import AnswerStream, BackendSettings, ChatRequest, ModelEntry, StreamInfo

MAX_ERROR_BYTES = 64 * 1024  # read of an error body; its message shows 200 characters
MAX_BODY_BYTES = 16 * 1024 * 1024  # a whole (not streamed) answer, a model list, a small JSON answer
MAX_REDIRECTS = 5
NOT_THERE = (404, 405, 501)  # a server's answer to a path it does not serve
SMALL_SECONDS = 10.0  # the longest read of a small JSON answer (get_json, post_json), within --timeout
FINISH_GRACE = 2.0  # once the answer is finished, the longest wait for its usage and the end of the stream
MAX_HEAD_BYTES = 1024 * 1024  # read before a response's headers (interim 1xx responses included) end
MAX_IDLE_LINES = 100_000  # lines in a row without an answer piece
STREAM_TYPES = ("text/event-stream", "application/x-ndjson")  # the streams the wires read; others come whole
_REDIRECTS = (301, 302, 303, 307, 308)
_MIB = 1024 * 1024


class ChatClient:
    """A backend (the Backend protocol, and `list_models`) speaking `wire` to the settings' base URL."""

    def __init__(self, settings: BackendSettings, wire: Wire) -> None:
        self.name = wire.name
        url = settings.base_url or wire.default_base_url
        self._settings = settings
        self._wire = wire
        self._base = urlsplit(url)
        self._root = api_root(self._base.path, wire.api_prefix, wire.base_is_root)
        proxy = proxy_for(self._base.scheme, self._base.hostname or "", self._base.port, settings)
        self._diagnosis = Diagnosis(settings, url, _wording(wire), proxy)
        self.base_url = self._diagnosis.base_url  # for messages: without credentials or a query
        self._headers = {**common_headers(), **wire.headers(settings)}
        # The headers that carry the key (whatever the provider calls them), dropped on a redirect elsewhere.
        key = settings.api_key
        self._secret_headers = {"Authorization"} | {
            name for name, value in self._headers.items() if key and key in value
        }
        self._network = PhasedNetwork(settings.first_token_timeout)
        self._http = _http_client(settings, self._network)
        # The read timeout is the network's budget; these bound connecting and sending.
        self._timeouts = {
            "connect": settings.connect_timeout,
            "write": settings.first_token_timeout,
            "pool": settings.connect_timeout,
        }

    def stream(self, request: ChatRequest) -> AnswerStream:
        settings = self._settings
        self._start_turn()
        attempt = 0
        while True:
            body = encode_body(self._wire.body(request, stream=settings.stream))
            self._network.allow(settings.first_token_timeout)
            try:
                response = self._send("POST", self._wire.chat_path, body)
            except StatusError as error:
                if rejected_option(error, request.options) is None and self._adapted(error):
                    continue
                retry = self._status_retry(error, request, attempt)
            except TRANSPORT_ERRORS as error:
                retry = self._transport_retry(error, attempt)
            else:
                try:
                    return (yield from self._answer(response))
                finally:
                    response.close()  # early too (Ctrl-C, a grace that ran out): the server stops generating
            attempt += 1
            self._wait(*retry)

    def list_models(self) -> list[ModelEntry]:
        """The server's models (the wire's models path). Ids are the server's text."""
        self._start_turn()
        self._network.allow(self._settings.timeout)  # no model to wait for: the short timeout applies
        try:
            body = self._get_body("GET", self._wire.models_path, None)
        except StatusError as error:
            if error.status == 404:
                hint = _wording(self._wire).base_url_hint
                raise BackendError(f"{self.base_url} has no model list (404); {hint}") from None
            raise BackendError(self._diagnosis.describe(error, "")) from None
        except httpx2.ReadTimeout:
            raise BackendError(
                f"{self.base_url} sent no model list within {self._settings.timeout:g} s; raise --timeout"
            ) from None
        except TRANSPORT_ERRORS as error:
            raise BackendError(self._unreachable(error)) from None
        try:
            return self._wire.read_models(body)
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
            raise BackendError(f"{self.base_url} sent a model list chatcli cannot read") from None

    def get_json(self, path: str, *, beside_api: bool = False, timeout: float | None = None) -> Any:
        """GET a small JSON answer (`path` under the API root; `beside_api`: beside a trailing /v1, as
        llama.cpp's /props and Ollama's /api/version are) within a short timeout; BackendError for any failure."""
        return self._small_json("GET", path, None, beside_api, timeout)

    def post_json(
        self,
        path: str,
        body: Any,
        *,
        beside_api: bool = False,
        timeout: float | None = None,
        optional: bool = False,
    ) -> Any:
        """POST a small JSON body and read the small JSON answer, as get_json does; `optional`: None when the
        server has no such endpoint (404, 405 or 501) rather than an error."""
        return self._small_json("POST", path, encode_body(body), beside_api, timeout, optional)

    # -- sending ------------------------------------------------------------------------------------------

    def _start_turn(self) -> None:
        limit = self._settings.max_turn_seconds
        self._network.deadline = time.monotonic() + limit if limit else None

    def _adapted(self, error: StatusError) -> bool:
        adapt = getattr(self._wire, "adapt", None)
        return adapt is not None and bool(adapt(error))

    def _status_retry(self, error: StatusError, request: ChatRequest, attempt: int) -> tuple[float, str]:
        """The wait before retrying a request answered with an error status; BackendError when it is final."""
        rejected = rejected_option(error, request.options)
        retry = retry_plan(error, attempt) if rejected is None else None
        if retry is None:
            raise BackendError(self._diagnosis.describe(error, request.model, attempt + 1, request.options))
        return retry

    def _transport_retry(self, error: Exception, attempt: int) -> tuple[float, str]:
        """The wait before retrying a request that failed on the way; BackendError when it is final."""
        retry = retry_plan(error, attempt)
        if retry is None:
            raise BackendError(self._unreachable(error, attempt + 1)) from None
        return retry

    def _wait(self, seconds: float, why: str) -> None:
        if self._network.deadline is not None and time.monotonic() + seconds >= self._network.deadline:
            raise BackendError(self._diagnosis.turn_too_long())
        self._settings.notify(f"waiting {math.ceil(seconds)}s ({why})…")
        time.sleep(seconds)

    def _small_json(
        self,
        method: str,
        path: str,
        content: EncodedBody | None,
        beside_api: bool,
        timeout: float | None,
        optional: bool = False,
    ) -> Any:
        self._start_turn()
        self._network.allow(min(self._settings.timeout, timeout or SMALL_SECONDS))
        try:
            body = self._get_body(method, path, content, beside_api=beside_api)
        except StatusError as error:
            if optional and error.status in NOT_THERE:
                return None
            raise BackendError(self._diagnosis.describe(error, "")) from None
        except TRANSPORT_ERRORS as error:
            raise BackendError(self._unreachable(error)) from None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise BackendError(f"{self.base_url} sent {path} data chatcli cannot read") from None

    def _get_body(
        self, method: str, path: str, content: EncodedBody | None, *, beside_api: bool = False
    ) -> bytes:
        response = self._send(method, path, content, beside_api=beside_api)
        try:
            return self._read(response, MAX_BODY_BYTES, cut=False)
        finally:
            response.close()

    def _send(
        self, method: str, path: str, content: EncodedBody | None, *, beside_api: bool = False
    ) -> httpx2.Response:
        """Send a request to the API root + `path` (`beside_api`: beside the root's trailing /v1), following
        the redirects the settings allow. Returns the response with a 2xx status, its body still unread; any
        other status raises StatusError."""
        request = self._request(method, self._url(path, beside_api), content)
        visited = [str(request.url)]
        self._network.limit_bytes(MAX_HEAD_BYTES)
        while True:
            response = self._exchange(request)
            if response.status_code in _REDIRECTS and "location" in response.headers:
                response.close()
                request = self._redirected(request, response, visited)
                continue
            if not 200 <= response.status_code < 300:
                try:
                    prefix = self._read(response, MAX_ERROR_BYTES, cut=True)
                except (
                    BackendError
                ):  # an error body in a coding chatcli cannot decode: the status still tells
                    prefix = b""
                finally:
                    response.close()  # the rest of a long error body is never read
                headers = dict(response.headers.items())  # lower-case names
                raise status_error(response.status_code, headers, prefix, self._wire.error_text)
            self._network.limit_bytes(None)
            return response

    def _url(self, path: str, beside_api: bool) -> str:
        root = self._root.removesuffix("/v1") if beside_api else self._root
        url = self._base._replace(path=root + "/" + path, fragment="")
        if "Authorization" in self._headers:  # a key wins over the URL's user:password (basic auth)
            url = url._replace(netloc=url.netloc.rpartition("@")[2])
        return url.geturl()

    def _request(self, method: str, url: str, content: EncodedBody | None) -> httpx2.Request:
        headers = dict(self._headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(content.length)
        return httpx2.Request(
            method, url, headers=headers, content=content, extensions={"timeout": self._timeouts}
        )

    def _exchange(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return self._http.send(request, stream=True, follow_redirects=False)
        except NoProgress:
            raise BackendError(
                f"{self.base_url} sent more than {MAX_HEAD_BYTES // _MIB} MiB without a response "
                "(endless interim responses); chatcli stopped reading"
            ) from None

    def _redirected(
        self, request: httpx2.Request, response: httpx2.Response, visited: list[str]
    ) -> httpx2.Request:
        """The request a redirect calls for, as httpx built it, if chatcli's rules allow it; else BackendError."""
        status = response.status_code
        source = str(request.url)
        target = self._location(source, response.headers["location"], status)
        follow = response.next_request
        if follow is None:
            raise BackendError(self._diagnosis.unusable_redirect(status, response.headers["location"]))
        self._check_redirect(request.method, status, source, target, visited)
        if _origin(target) != _origin(source):  # the key goes to the base URL's host only
            for name in self._secret_headers:
                follow.headers.pop(name, None)
        visited.append(target)
        return follow

    def _location(self, url: str, location: str, status: int) -> str:
        """The absolute URL a redirect points to; BackendError for one chatcli cannot use."""
        try:
            target = urljoin(url, location)
            parts = urlsplit(target)
            usable = parts.scheme in DEFAULT_PORTS and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a bad IPv6 address or a port out of range
            usable = False
        if not usable:
            raise BackendError(self._diagnosis.unusable_redirect(status, location))
        return target

    def _check_redirect(self, method: str, status: int, source: str, target: str, visited: list[str]) -> None:
        mode = self._settings.follow_redirects
        same_host = _origin(source) == _origin(target)
        # A POST answered 301, 302 or 303 would be re-sent as a GET, which no chat endpoint answers.
        keeps_method = method == "GET" or status in (307, 308)
        if mode == "never" or not keeps_method or not (same_host or mode == "always"):
            raise BackendError(self._diagnosis.redirected(status, target))
        if target in visited:
            loop = " → ".join(shown_url(url) for url in [*visited[visited.index(target) :], target])
            raise BackendError(f"{self.base_url} redirects in a loop ({loop}); check the base URL")
        if len(visited) > MAX_REDIRECTS:
            raise BackendError(
                f"{self.base_url} redirected more than {MAX_REDIRECTS} times; check the base URL"
            )

    def _unreachable(self, error: Exception, attempts: int = 1) -> str:
        if isinstance(error, httpx2.TimeoutException) and self._network.out_of_turn_time():
            return self._diagnosis.turn_too_long()
        return self._diagnosis.unreachable(error, attempts)

    # -- reading ------------------------------------------------------------------------------------------

    def _answer(self, response: httpx2.Response) -> AnswerStream:
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith(STREAM_TYPES):
            return (
                yield from self._whole_answer(self._read(response, MAX_BODY_BYTES, cut=False), content_type)
            )
        info = StreamInfo()
        watch = _StreamEnd(info, self._diagnosis)
        lines = watch.lines(read_lines(self._decoded(response)), self._network)
        pieces = self._wire.read_stream(lines, info, self._settings.api_key, self._settings.notify)
        try:
            for piece in pieces:
                watch.progress(isinstance(piece, str))
                yield piece
                # Progress: the wait for the next piece starts now (the first piece ends the first-token wait).
                self._network.allow(self._settings.timeout)
        except httpx2.TimeoutException as error:
            if watch.finished:
                return info  # the answer is complete; the server just did not end the stream
            raise self._stalled(error, watch) from None
        except TRANSPORT_ERRORS as error:
            raise failure(self._diagnosis.lost(error, watch.started), watch.started) from None
        except LineTooLong:
            message = f"server sent a line longer than {MAX_LINE_BYTES // _MIB} MiB; stopped reading"
            raise failure(message, watch.got_text) from None
        except (AttributeError, TypeError, ValueError):  # JSON of the wrong shape
            raise failure(MALFORMED, watch.started) from None
        except BackendError as error:
            if watch.ended and not watch.got_text and info.finish_reason is None:
                raise BackendError(
                    "the server ended the stream without an answer; the prompt may exceed the model's context"
                ) from error
            raise
        return info

    def _stalled(self, error: httpx2.TimeoutException, watch: _StreamEnd) -> BackendError:
        if self._network.out_of_turn_time():
            return failure(self._diagnosis.turn_too_long(), watch.got_text)
        return failure(self._diagnosis.lost(error, watch.started), watch.started)

    def _whole_answer(self, body: bytes, content_type: str) -> AnswerStream:
        """A server that ignored `stream` (or was asked for the whole answer) still gets its answer shown."""
        info = StreamInfo()
        pieces = self._wire.read_whole(body, info)
        if pieces is None:
            kind = content_type.split(";")[0] or "no content type"
            raise BackendError(
                f"{self.base_url} answered with {kind} instead of an event stream; "
                f"is this {_wording(self._wire).endpoint}?"
            )
        yield from pieces
        return info

    def _read(self, response: httpx2.Response, limit: int, *, cut: bool) -> bytes:
        """The body, up to `limit` bytes once decoded: beyond it, the rest is dropped unread when `cut`, and
        refused otherwise."""
        parts: list[bytes] = []
        size = 0
        try:
            for part in self._decoded(response):
                parts.append(part)
                size += len(part)
                if size >= limit:
                    if cut:
                        break
                    raise BackendError(
                        f"{self.base_url} sent a response larger than {limit // _MIB} MiB; chatcli stopped reading it"
                    )
        except TRANSPORT_ERRORS:
            if not cut:
                raise  # an error body cut short still says what it can
        return b"".join(parts)[:limit]

    def _decoded(self, response: httpx2.Response) -> Iterator[bytes]:
        """The body's bytes as they arrive, decoded by httpx a piece at a time when the server compressed them
        anyway (httpx passes a coding it cannot decode through as it is: refused here in one line instead)."""
        codings = [
            coding
            for coding in map(str.strip, response.headers.get("content-encoding", "").lower().split(","))
            if coding and coding != "identity"
        ]
        for coding in codings:
            if not _decodable(coding):
                raise BackendError(
                    f"{self.base_url} sent a body compressed with {coding[:40]!r}, which chatcli did not ask "
                    "for and cannot decode"
                )
        if not codings:  # the usual body: nothing to decode, so none of iter_bytes' work on every piece
            yield from response.iter_raw()
            return
        try:
            yield from response.iter_bytes()
        except httpx2.DecodingError:
            raise BackendError(f"{self.base_url} sent a body whose compression is corrupt") from None


class _StreamEnd:
    """Watches the body's lines go by: once the answer has finished, the server gets only FINISH_GRACE seconds
    more to end the stream (and send the usage that may follow); notes whether the stream ended.
    MAX_IDLE_LINES lines in a row without an answer piece end the turn: whatever a server floods chatcli with
    (keep-alives, empty events), the work it causes is bounded."""

    def __init__(self, info: StreamInfo, diagnosis: Diagnosis) -> None:
        self.info = info
        self.started = False
        self.got_text = False
        self.ended = False
        self._idle_lines = 0
        self._in_grace = False
        self._diagnosis = diagnosis

    @property
    def finished(self) -> bool:
        return self.info.finish_reason is not None

    def progress(self, text: bool) -> None:
        """An answer piece arrived (`text`: a piece of its text)."""
        self._idle_lines = 0
        self.started = True
        self.got_text = self.got_text or text

    def lines(self, lines: Iterator[bytes], network: PhasedNetwork) -> Iterator[bytes]:
        for line in lines:
            self._idle_lines += 1
            if self._idle_lines > MAX_IDLE_LINES:
                raise failure(self._diagnosis.flooded(MAX_IDLE_LINES), self.got_text)
            yield line  # the wire decodes it before asking for the next
            if not self._in_grace and self.finished:
                self._in_grace = True
                network.allow(min(FINISH_GRACE, network.remaining()))
        self.ended = True


def _http_client(settings: BackendSettings, network: PhasedNetwork) -> httpx2.Client:
    """httpx's client over chatcli's transport. Redirects are followed by ChatClient (its rules, not httpx's);
    nothing comes from the process environment (the settings hold the proxies and certificates); and no
    cookie a server sets is ever sent back."""
    client = httpx2.Client(
        transport=PhasedTransport(settings, network, lambda: tls_context(settings.ca_bundle)),
        follow_redirects=False,
        trust_env=False,
    )
    client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return client


def _decodable(coding: str) -> bool:
    """Whether httpx decodes this content coding here: gzip and deflate always, br and zstd when a library for
    them is installed."""
    if coding in ("identity", "gzip", "deflate"):
        return True
    modules = {"br": ("brotli", "brotlicffi"), "zstd": ("compression.zstd", "backports.zstd")}.get(coding, ())
    return any(_installed(module) for module in modules)


def _installed(module: str) -> bool:
    import importlib.util  # only for a body in an unusual coding

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # "compression.zstd" before Python 3.14: no "compression" package
        return False


def _wording(wire: Wire) -> Wording:
    wording = getattr(wire, "wording", None)
    if isinstance(wording, Wording):
        return wording
    try:
        key_variable = KEY_VARIABLES.get(BackendName(wire.name))
    except ValueError:  # a wire of no registered backend (a test's)
        key_variable = None
    return Wording.of(wire.name, key_variable)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme)
