"""The OpenAI-compatible backend: one request path for answers and the model list, on httpcore (the HTTP
layer of httpx, which the openai SDK is built on; httpx itself would add its import time and nothing used).

chatcli builds the request itself (request.py: the body and every header), follows redirects only as far as
the `follow_redirects` setting allows, retries visibly and only before any answer text (diagnosis.py), and
reads with time budgets that only real progress renews (transport.py). The event stream is read line by
line and decoded with `json` (events.py). No body is read whole unless it is small: an error body is read
up to MAX_ERROR_BYTES, a whole answer or a model list up to MAX_BODY_BYTES; compressed bodies, which
chatcli never asks for, are inflated a piece at a time. The openai SDK is not used at run time: importing
it costs more than a second, and the tests use it as the oracle instead (tests/test_conformance.py).
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import httpcore2

from chatcli.backends.openai.diagnosis import (
    Diagnosis,
    StatusError,
    rejected_option,
    rejects_stream_options,
    retry_plan,
    status_error,
)
from chatcli.backends.openai.events import failure, read_completion, read_events, read_lines
from chatcli.backends.openai.request import EncodedBody, chat_body, encode_body, request_headers
from chatcli.backends.openai.token_count import LlamaCppTokenCount
from chatcli.backends.openai.transport import (
    DEFAULT_PORTS,
    TRANSPORT_ERRORS,
    Connections,
    NoProgress,
    PhasedNetwork,
    proxy_for,
)
from chatcli.backends.redact import shown_url
from chatcli.core.context import OLLAMA_DEFAULT_WINDOW, ContextWindow
from chatcli.core.errors import BackendError
from chatcli.core.stream import AnswerStream, BackendSettings, ChatRequest, ModelEntry, StreamInfo

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OFFICIAL_HOST = "api.openai.com"  # has no token counter to ask
NOT_THERE = (404, 405, 501)  # a server's answer to a path it does not serve
MAX_ERROR_BYTES = 64 * 1024  # read of an error body; its message shows 200 characters
MAX_BODY_BYTES = 16 * 1024 * 1024  # a whole (not streamed) answer, a model list
INFLATE_PIECE = 64 * 1024  # the most a compressed body expands at a time
MAX_REDIRECTS = 5
WINDOW_SECONDS = 5.0  # the longest read of each answer about the context window: a gauge is not worth a wait
FINISH_GRACE = 2.0  # once the answer is finished, the longest wait for its usage and the end of the stream
MAX_HEAD_BYTES = 1024 * 1024  # read before a response's headers (interim 1xx responses included) end
MAX_IDLE_LINES = 100_000  # event-stream lines in a row without an answer piece
_REDIRECTS = (301, 302, 303, 307, 308)
_MIB = 1024 * 1024


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        url = settings.base_url or DEFAULT_BASE_URL
        self._settings = settings
        self._key = settings.api_key
        self._base = urlsplit(url)
        proxy = proxy_for(self._base.scheme, self._base.hostname or "", self._base.port, settings)
        self._diagnosis = Diagnosis(settings, url, proxy)
        self.base_url = self._diagnosis.base_url  # for messages: without credentials or a query
        self._headers = request_headers(settings)
        if self._base.username is not None and "Authorization" not in self._headers:
            self._headers["Authorization"] = _basic_auth(self._base)  # http://user:password@host/v1
        self._network = PhasedNetwork(settings.first_token_timeout)
        self._connections = Connections(settings, self._network)
        # The read timeout is the network's budget; these bound connecting and sending.
        self._timeouts = {
            "connect": settings.connect_timeout,
            "write": settings.first_token_timeout,
            "pool": settings.connect_timeout,
        }
        self.asks_for_usage = True  # off for the session once the server rejects `stream_options`
        self._token_count = LlamaCppTokenCount()

    def stream(self, request: ChatRequest) -> AnswerStream:
        settings = self._settings
        self._start_turn()
        attempt = 0
        while True:
            body = chat_body(request, stream=settings.stream, include_usage=self.asks_for_usage)
            self._network.allow(settings.first_token_timeout)
            try:
                response = self._send("POST", "chat/completions", encode_body(body))
            except StatusError as error:
                rejected = rejected_option(error, request.options)
                if self.asks_for_usage and rejected is None and rejects_stream_options(error):
                    self.asks_for_usage = False
                    continue
                retry = retry_plan(error, attempt) if rejected is None else None
                if retry is None:
                    raise BackendError(
                        self._diagnosis.describe(error, request.model, attempt + 1, request.options)
                    ) from None
            except TRANSPORT_ERRORS as error:
                retry = retry_plan(error, attempt)
                if retry is None:
                    raise BackendError(self._unreachable(error, attempt + 1)) from None
            else:
                try:
                    return (yield from self._answer(response))
                finally:
                    response.close()  # early too (Ctrl-C, a grace that ran out): the server stops generating
            wait, why = retry
            if self._network.deadline is not None and time.monotonic() + wait >= self._network.deadline:
                raise BackendError(self._diagnosis.turn_too_long())
            attempt += 1
            settings.notify(f"waiting {math.ceil(wait)}s ({why})…")
            time.sleep(wait)

    def list_models(self) -> list[ModelEntry]:
        """GET /models: each model's id and, when the server says, its owner. Ids are the server's text."""
        self._start_turn()
        self._network.allow(self._settings.timeout)  # no model to wait for: the short timeout applies
        try:
            response = self._send("GET", "models", None)
            try:
                body = self._read_whole(response)
            finally:
                response.close()
        except StatusError as error:
            if error.status == 404:
                raise BackendError(
                    f"{self.base_url} has no model list (404); does the base URL end in /v1?"
                ) from None
            raise BackendError(self._diagnosis.describe(error, "")) from None
        except httpcore2.ReadTimeout:
            raise BackendError(
                f"{self.base_url} sent no model list within {self._settings.timeout:g} s; raise --timeout"
            ) from None
        except TRANSPORT_ERRORS as error:
            raise BackendError(self._unreachable(error)) from None
        try:
            listing = json.loads(body)
            models = listing["data"] if isinstance(listing, dict) else listing
            return [_model_entry(model) for model in models if isinstance(model.get("id"), str)]
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
            raise BackendError(f"{self.base_url} sent a model list chatcli cannot read") from None

    def context_window(self, model: str) -> ContextWindow | None:
        """The context window `model` runs with, where the server says: vLLM's and OpenRouter's model list
        (`max_model_len`, `context_length`), llama.cpp's /props (`n_ctx`), and for Ollama, whose /v1 ignores
        `num_ctx`, the context it loaded the model with (/api/ps), else its default. None when no server says, or when asking fails: the gauge is never worth an
        error. Asked on connections of its own: the chat may be streaming an answer meanwhile (the REPL asks in
        a background thread), and a backend's read budgets belong to one request at a time."""
        return OpenAIBackend(self._settings).ask_context_window(model)

    def ask_context_window(self, model: str) -> ContextWindow | None:
        for ask in (self._window_in_model_list, self._llama_cpp_window, self._ollama_window):
            try:
                window = ask(model)
            except (BackendError, StatusError, *TRANSPORT_ERRORS):
                window = None
            except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
                window = None  # JSON of another shape: this server does not say
            if window is not None:
                return window
        return None

    def _window_in_model_list(self, model: str) -> ContextWindow | None:
        listing = json.loads(self._get_small("models"))
        entries = listing["data"] if isinstance(listing, dict) else listing
        entry = next((entry for entry in entries if isinstance(entry, dict) and entry.get("id") == model), {})
        for key, server in (("max_model_len", "vLLM"), ("context_length", "OpenRouter")):
            if _token_count(entry.get(key)):
                return ContextWindow(entry[key], server)
        return None

    def _llama_cpp_window(self, _: str) -> ContextWindow | None:
        props = json.loads(self._get_small("props", beside_api=True))
        tokens = props["default_generation_settings"]["n_ctx"]
        return ContextWindow(tokens, "llama.cpp") if _token_count(tokens) else None

    def _ollama_window(self, model: str) -> ContextWindow | None:
        """The context the model is loaded with, else Ollama's default, guessed."""
        version = json.loads(self._get_small("api/version", beside_api=True))
        if "version" not in version:
            return None
        return self._ollama_loaded_window(model) or ContextWindow(
            OLLAMA_DEFAULT_WINDOW, "Ollama", guessed=True
        )

    def _ollama_loaded_window(self, model: str) -> ContextWindow | None:
        """/api/ps's `context_length` of the model, once it is loaded (None before, or from an older Ollama)."""
        names = {model, f"{model}:latest"}
        try:
            loaded = json.loads(self._get_small("api/ps", beside_api=True))["models"]
            tokens = next(
                (
                    entry.get("context_length")
                    for entry in loaded
                    if isinstance(entry, dict) and names & {entry.get("name"), entry.get("model")}
                ),
                None,
            )
        except (BackendError, StatusError, *TRANSPORT_ERRORS):
            return None
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
            return None
        return ContextWindow(tokens, "Ollama") if _token_count(tokens) else None

    def count_prompt_tokens(self, request: ChatRequest) -> int | None:
        """The server's count of `request`'s prompt (llama.cpp's counters, token_count.py); None from a server
        that cannot say. The official API has no counter, so it is not asked."""
        if self._base.hostname == OFFICIAL_HOST:
            return None
        body = chat_body(request, stream=False, include_usage=False)
        return self._token_count.count(request, body, self._post_small)

    def _post_small(self, path: str, body: Mapping[str, Any], beside_api: bool) -> Any:
        """POST a small JSON body and return the JSON answer, within the short timeout; None when the server has
        no such endpoint."""
        self._start_turn()
        self._network.allow(min(self._settings.timeout, WINDOW_SECONDS))
        try:
            response = self._send("POST", path, encode_body(dict(body)), beside_api=beside_api)
        except StatusError as error:
            if error.status in NOT_THERE:
                return None
            raise
        try:
            return json.loads(self._read_whole(response))
        finally:
            response.close()

    def _get_small(self, path: str, *, beside_api: bool = False) -> bytes:
        """GET a small JSON body within the short timeout; `beside_api`: beside the base URL's /v1, not in it."""
        self._start_turn()
        self._network.allow(min(self._settings.timeout, WINDOW_SECONDS))
        response = self._send("GET", path, None, beside_api=beside_api)
        try:
            return self._read_whole(response)
        finally:
            response.close()

    # -- sending ------------------------------------------------------------------------------------------

    def _start_turn(self) -> None:
        limit = self._settings.max_turn_seconds
        self._network.deadline = time.monotonic() + limit if limit else None

    def _send(
        self, method: str, path: str, content: EncodedBody | None, *, beside_api: bool = False
    ) -> Response:
        """Send a request to the base URL + `path` (`beside_api`: beside its trailing /v1), following the
        redirects the settings allow. Returns the response with a 2xx status, its body still unread; any other
        status raises StatusError."""
        base = self._base
        api_path = base.path.rstrip("/")
        if beside_api:
            api_path = api_path.removesuffix("/v1")
        url = base._replace(path=api_path + "/" + path, fragment="").geturl()
        headers = dict(self._headers)
        headers["Accept"] = "application/json"  # what the SDK sent, for streams too
        if content is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(content.length)
        visited = [url]
        self._network.limit_bytes(MAX_HEAD_BYTES)
        while True:
            target = urlsplit(url)
            headers["Host"] = target.netloc.rpartition("@")[2]
            response = self._request(
                method, target._replace(netloc=headers["Host"]).geturl(), headers, content
            )
            status = response.status
            header = _headers(response)
            if status in _REDIRECTS and "location" in header:
                response.close()
                location = self._location(url, header["location"], status)
                self._check_redirect(method, status, url, location, visited)
                if _origin(location)[1] != _origin(url)[1]:  # the key goes to the base URL's host only
                    headers.pop("Authorization", None)
                visited.append(url := location)
                continue
            if not 200 <= status < 300:
                try:
                    prefix = self._read(response, header, MAX_ERROR_BYTES, cut=True)
                finally:
                    response.close()  # the rest of a long error body is never read
                raise status_error(status, header, prefix)
            self._network.limit_bytes(None)
            return Response(response, header)

    def _request(
        self, method: str, url: str, headers: Mapping[str, str], content: EncodedBody | None
    ) -> httpcore2.Response:
        request = httpcore2.Request(
            method,
            url,
            headers=list(headers.items()),
            content=content,
            extensions={"timeout": self._timeouts},
        )
        try:
            return self._connections.send(request)
        except NoProgress:
            raise BackendError(
                f"{self.base_url} sent more than {MAX_HEAD_BYTES // _MIB} MiB without a response "
                "(endless interim responses); chatcli stopped reading"
            ) from None

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
        if isinstance(error, httpcore2.TimeoutException) and self._network.out_of_turn_time():
            return self._diagnosis.turn_too_long()
        return self._diagnosis.unreachable(error, attempts)

    # -- reading ------------------------------------------------------------------------------------------

    def _answer(self, response: Response) -> AnswerStream:
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            return (yield from self._whole_answer(self._read_whole(response), content_type))
        info = StreamInfo()
        watch = _StreamEnd(info, self._diagnosis)
        events = read_events(
            watch.lines(read_lines(self._inflated(response.raw, response.headers)), self._network),
            info,
            self._key,
            self._settings.notify,
        )
        started = False
        try:
            for piece in events:
                started = True
                watch.progress(isinstance(piece, str))
                yield piece
                # Progress: the wait for the next piece starts now (the first piece ends the first-token wait).
                self._network.allow(self._settings.timeout)
        except httpcore2.TimeoutException as error:
            if watch.finished:
                return info  # the answer is complete; the server just did not end the stream
            if self._network.out_of_turn_time():
                raise failure(self._diagnosis.turn_too_long(), watch.got_text) from None
            raise failure(self._diagnosis.lost(error, started), started) from None
        except TRANSPORT_ERRORS as error:
            raise failure(self._diagnosis.lost(error, started), started) from None
        except (AttributeError, TypeError, ValueError):  # JSON of the wrong shape
            raise failure("server sent malformed stream data", started) from None
        except BackendError as error:
            if watch.ended and not watch.got_text and info.finish_reason is None:
                raise BackendError(
                    "the server ended the stream without an answer; the prompt may exceed the model's context"
                ) from error
            raise
        return info

    def _whole_answer(self, body: bytes, content_type: str) -> AnswerStream:
        """A server that ignored `stream` and sent the whole completion as JSON still gets its answer shown."""
        info = StreamInfo()
        answer = read_completion(body.decode("utf-8", "replace"), info, self._settings.notify)
        if answer is None:
            kind = content_type.split(";")[0] or "no content type"
            raise BackendError(
                f"{self.base_url} answered with {kind} instead of an event stream; "
                "is this an OpenAI-compatible endpoint?"
            )
        content, calls = answer
        if content:
            yield content
        yield from calls
        return info

    def _read_whole(self, response: Response) -> bytes:
        return self._read(response.raw, response.headers, MAX_BODY_BYTES, cut=False)

    def _read(
        self, response: httpcore2.Response, headers: Mapping[str, str], limit: int, *, cut: bool
    ) -> bytes:
        """The body, up to `limit` bytes once inflated: beyond it, the rest is dropped unread when `cut`, and
        refused otherwise."""
        parts: list[bytes] = []
        size = 0
        try:
            for part in self._inflated(response, headers):
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

    def _inflated(self, response: httpcore2.Response, headers: Mapping[str, str]) -> Iterator[bytes]:
        """The body's bytes as they arrive, inflated a piece at a time when the server compressed them anyway."""
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity"):
            yield from response.iter_stream()
            return
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise BackendError(
                f"{self.base_url} sent a body compressed with {encoding[:40]!r}, which chatcli did not ask for"
            )
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, told apart by their headers
        try:
            for data in response.iter_stream():
                while data:
                    yield inflater.decompress(data, INFLATE_PIECE)
                    data = inflater.unconsumed_tail
        except zlib.error:
            raise BackendError(f"{self.base_url} sent a body whose compression is corrupt") from None


class _StreamEnd:
    """Watches for the end of the event stream as its lines go by: once a choice has finished, the server gets
    only FINISH_GRACE seconds more to end the stream (and send the usage chunk chatcli asked for); notes
    whether the stream ended. MAX_IDLE_LINES lines in a row without an answer piece end the turn: whatever
    a server floods chatcli with (keep-alives, empty events), the work it causes is bounded."""

    def __init__(self, info: StreamInfo, diagnosis: Diagnosis) -> None:
        self.info = info
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
        self.got_text = self.got_text or text

    def lines(self, lines: Iterator[bytes], network: PhasedNetwork) -> Iterator[bytes]:
        for line in lines:
            self._idle_lines += 1
            if self._idle_lines > MAX_IDLE_LINES:
                raise failure(self._diagnosis.flooded(MAX_IDLE_LINES), self.got_text)
            yield line  # read_events decodes it before asking for the next
            if not self._in_grace and self.finished:
                self._in_grace = True
                network.allow(min(FINISH_GRACE, network.remaining()))
        self.ended = True


@dataclass(frozen=True, slots=True)
class Response:
    """A response with a 2xx status, its body still to be read; `headers` has lower-case names."""

    raw: httpcore2.Response
    headers: Mapping[str, str]

    def close(self) -> None:
        self.raw.close()


def _headers(response: httpcore2.Response) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in response.headers}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme)


def _basic_auth(url: SplitResult) -> str:
    import base64

    credentials = f"{unquote(url.username or '')}:{unquote(url.password or '')}"
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


def _token_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _model_entry(model: dict[str, Any]) -> ModelEntry:
    owner = model.get("owned_by")
    return ModelEntry(model["id"], owner if isinstance(owner, str) else None)
