"""What a failed request means, in one line that says what to do; and whether to retry it.

Each provider's error JSON is read by its wire (`Wire.error_text`); `error_message` reads the shapes
OpenAI-compatible servers send (OpenAI's and llama.cpp's `{"error": {"message", "type", "code"}}`, vLLM's
`{"object": "error", "message", …}`, Ollama's `{"error": "text"}`, FastAPI's `{"detail": …}`), and any body a
wire does not know, HTML pages from proxies and plain text are read here too.
"""

from __future__ import annotations

import json
import math
import re
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx2

from chatcli.backends.redact import short_reason, shown_url
from chatcli.core.stream import BackendSettings

RETRY_DELAYS = (1.0, 2.0)  # waits before the retries of a request that failed before any answer
MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait gets an error instead
HEADER_LIMIT_KIB = 100  # httpcore's cap on a response's status line and headers
_GENERIC_TITLES = {"", "error", "error response", "error page"}


class StatusError(Exception):
    """A response with an error status: the status, the headers, and the start of the body (parsed JSON,
    or text)."""

    def __init__(
        self, status: int, headers: Mapping[str, str], body: Any, message: str | None = None
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body
        self.message = message  # the provider's own message, as its wire read it from the body

    @property
    def detail(self) -> Any:
        """The error object: `body["error"]` when there is one, else the whole body."""
        if isinstance(self.body, dict):
            return self.body.get("error", self.body)
        return self.body

    def field(self, name: str) -> str | None:
        detail = self.detail
        value = detail.get(name) if isinstance(detail, dict) else None
        return value if isinstance(value, str) else None


def status_error(
    status: int,
    headers: Mapping[str, str],
    prefix: bytes,
    error_text: Callable[[Any], str | None] | None = None,
) -> StatusError:
    """A StatusError from the first bytes of an error response's body (a cut-off JSON body stays text), its
    message read by `error_text` (a wire's; by default the shapes `error_message` knows)."""
    text = prefix.decode("utf-8", "replace")
    try:
        body: Any = json.loads(text)
    except (ValueError, RecursionError):
        return StatusError(status, headers, text.strip())
    try:
        message = (error_text or error_message)(body)
    except (AttributeError, KeyError, TypeError, ValueError):
        message = None  # an error body of a shape the wire does not expect says what status_text finds
    return StatusError(status, headers, body, message)


@dataclass(frozen=True, slots=True)
class Wording:
    """How the messages name what a backend talks to: the key's variable, and the server it should be. A wire
    may have its own as the optional hook `wording`; `Wording.of(name, …)` is the default."""

    key_variable: str  # "OPENAI_API_KEY"
    endpoint: str  # "an OpenAI-compatible endpoint"
    server: str  # "an OpenAI-compatible server"
    port: str  # "OpenAI-compatible port"
    base_url_hint: str = "check the base URL"  # for a 404: "does the base URL end in /v1?"

    @classmethod
    def of(cls, name: str, key_variable: str | None) -> Wording:
        return cls(
            key_variable or "the api_key setting",
            f"a {name} API endpoint",
            f"a {name} API server",
            f"{name} API port",
        )


class Diagnosis:
    """Turns errors into one-line messages naming the server (never its credentials) and never the key."""

    def __init__(
        self, settings: BackendSettings, base_url: str, wording: Wording, proxy: str | None = None
    ) -> None:
        self.base_url = shown_url(base_url)
        self._settings = settings
        self._key = settings.api_key
        self._wording = wording
        self._proxy = shown_url(proxy) if proxy else None  # the proxy requests to base_url go through

    def describe(
        self, error: StatusError, model: str, attempts: int = 1, options: Collection[str] = ()
    ) -> str:
        """One line saying what an error status means and what to do, never the key; `options` are the
        request's extra keys (-O, [options], /set)."""
        where = self.base_url
        status = error.status
        reason = short_reason(status_text(error), self._key) or "no reason given"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if status in (401, 403):
            return (
                f"authentication failed at {where} ({status}: {reason}); "
                f"check {self._wording.key_variable} or api_key_cmd"
            )
        if status == 404:
            return (
                f"not found at {where} (404) for model {model!r}: {reason}; "
                f"check the model name (chatcli models lists them), and {self._wording.base_url_hint}"
            )
        if status == 429:
            return self._rate_limited(error, reason, tries)
        if rejects_images(status, reason):
            return (
                f"model {model!r} at {where} does not accept images ({status}: {reason}); "
                "use a vision model, or send the text without the images"
            )
        if status in (400, 413, 422) and context_exceeded(error, reason):
            return (
                f"the conversation is too long for model {model!r} ({reason}); "
                "start a new conversation or use a model with a longer context"
            )
        if (option := rejected_option(error, options)) is not None:
            return (
                f"{where} does not accept the request option {option!r} ({status}: {reason}); "
                "remove it (-O, [options], /set, or --schema for response_format)"
            )
        if status in (501, 505):
            return (
                f"{where} does not support this request ({status}: {reason}); is it {self._wording.server}?"
            )
        if status >= 500:
            return f"server error at {where} ({status}{tries}: {reason}); try again later"
        return f"{where} answered {status}: {reason}"

    def unreachable(self, error: Exception, attempts: int = 1) -> str:
        """What a transport error before any response means."""
        where = self.base_url
        if self._proxy is not None and isinstance(error, httpx2.ConnectError | httpx2.ConnectTimeout):
            cause = connection_cause(error, urlsplit(self._proxy).hostname)
            return (
                f"cannot connect to the proxy {self._proxy} ({cause}) on the way to {where}; "
                "check the proxy setting or HTTPS_PROXY / HTTP_PROXY"
            )
        if isinstance(error, httpx2.ConnectTimeout | httpx2.PoolTimeout):
            return (
                f"cannot connect to {where} (no answer within {self._settings.connect_timeout:g} s); "
                "check the base URL and the network (connect_timeout in the config)"
            )
        if isinstance(error, httpx2.TimeoutException):
            return self.first_token_late()
        if isinstance(error, httpx2.ProxyError):
            reason = short_reason(str(error), self._key) or "no reason given"
            return f"the proxy did not connect chatcli to {where} ({reason}); check the proxy setting or HTTPS_PROXY"
        if isinstance(error, httpx2.RemoteProtocolError):
            return self._protocol_error(error, attempts)
        cause = connection_cause(error, urlsplit(self.base_url).hostname)
        hint = "check the base URL" if cause.startswith(("unknown host", "TLS")) else "is the server running?"
        return f"cannot connect to {where} ({cause}); {hint}"

    def _protocol_error(self, error: httpx2.RemoteProtocolError, attempts: int) -> str:
        where = self.base_url
        text = str(error)
        if "without sending a response" in text:
            tries = f" ({attempts} attempts)" if attempts > 1 else ""
            return (
                f"{where} accepted the connection and closed it without answering{tries}; "
                f"is the server healthy, and is this its {self._wording.port}?"
            )
        if "buffer too long" in text:
            return (
                f"{where} sent response headers larger than {HEADER_LIMIT_KIB} KiB; "
                f"is this {self._wording.endpoint}?"
            )
        reason = short_reason(text, self._key) or "no reason given"
        return f"{where} did not answer in HTTP ({reason}); is this {self._wording.endpoint}?"

    def first_token_late(self) -> str:
        return (
            f"no answer from {self.base_url} within {self._settings.first_token_timeout:g} s; "
            "a slow model may need a larger first_token_timeout in the config"
        )

    def _rate_limited(self, error: StatusError, reason: str, tries: str) -> str:
        if quota_exhausted(error):
            return f"quota exhausted at {self.base_url} (429: {reason}); check the account's plan and billing"
        after = retry_after(error.headers)
        advice = "wait a little and try again"
        if after is not None and after >= 1:
            advice = f"the server asks to wait {duration(after)}"
        return f"rate limited by {self.base_url} (429{tries}: {reason}); {advice}"

    def turn_too_long(self) -> str:
        return (
            f"the turn took longer than max_turn_seconds ({self._settings.max_turn_seconds:g} s); "
            "raise it in the config for longer answers"
        )

    def lost(self, error: Exception, started: bool) -> str:
        """What a transport error while reading the answer means."""
        if isinstance(error, httpx2.TimeoutException):
            if not started:
                return self.first_token_late()
            return (
                f"the answer stalled: no data from {self.base_url} for {self._settings.timeout:g} s; "
                "raise --timeout for a slow server"
            )
        reason = short_reason(str(error), self._key) or type(error).__name__
        return f"the answer ended early: the connection to {self.base_url} was lost ({reason})"

    def flooded(self, lines: int) -> str:
        count = f"{lines:,}".replace(",", " ")
        return (
            f"{self.base_url} sent {count} lines in a row without any answer (keep-alives or empty events); "
            "chatcli stopped reading"
        )

    def unusable_redirect(self, status: int, location: str) -> str:
        shown = short_reason(location.partition("?")[0], self._key)  # a query may hold a key
        return (
            f"{self.base_url} redirects to {shown!r} ({status}), which is not a usable http(s) address; "
            "check the base URL"
        )

    def redirected(self, status: int, location: str) -> str:
        return (
            f"{self.base_url} redirects to {shown_url(location)} ({status}), which chatcli does not follow "
            f'(follow_redirects = "{self._settings.follow_redirects}"); set the base URL to the new address'
        )


def rejects_images(status: int, text: str) -> bool:
    """A server or model that takes no images: a 400/422 naming images or vision (OpenAI, vLLM, Ollama), or
    llama.cpp's "image input is not supported" (a server started without a vision projector)."""
    lowered = text.lower()
    if "image input is not supported" in lowered:
        return True
    return status in (400, 422) and any(hint in lowered for hint in _IMAGE_HINTS)


_IMAGE_HINTS = (
    "image input",
    "image_url",
    "support image",
    "support images",
    "vision",
    "multimodal",
    "multi-modal",
)


def rejected_option(error: StatusError, options: Collection[str]) -> str | None:
    """The extra request option an error names (its `param`, or the option's name in its message), if any: a
    400 or 422, or a server error (llama-cpp-python answers an unsupported `response_format` with a 500), which
    retrying would only repeat."""
    if error.status not in (400, 422) and error.status < 500:
        return None
    param = error.field("param")
    text = status_text(error)
    return next((key for key in options if key == param or re.search(rf"\b{re.escape(key)}\b", text)), None)


def retry_plan(error: StatusError | Exception, attempt: int) -> tuple[float, str] | None:
    """How long to wait before retrying a request that failed before any answer, and why; None: do not."""
    if attempt >= len(RETRY_DELAYS):
        return None
    if isinstance(error, StatusError):
        status = error.status
        if status == 429 and not quota_exhausted(error):
            why = "rate limited"
        elif status in (408, 500, 502, 503, 504, 529):
            why = f"server error {status}"
        else:
            return None
        after = retry_after(error.headers)
        if after is None:
            return RETRY_DELAYS[attempt], why
        return (after, why) if after <= MAX_RETRY_AFTER else None
    if isinstance(error, httpx2.RemoteProtocolError) and "without sending a response" in str(error):
        return RETRY_DELAYS[attempt], "the server closed the connection"  # a stale keep-alive connection
    return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `Retry-After-Ms` or `Retry-After` (seconds or an HTTP date), None when absent or unreadable."""
    if (milliseconds := headers.get("retry-after-ms")) is not None:
        try:
            seconds = float(milliseconds) / 1000
            if not math.isnan(seconds):
                return max(seconds, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # slow to import, and only for the rare HTTP-date form

        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(seconds, 0.0) if not math.isnan(seconds) else None


def duration(seconds: float) -> str:
    """A wait as people say it: `42 s`, `3600 s`, and anything beyond a day as `more than a day`."""
    return f"{seconds:.0f} s" if seconds < 86_400 else "more than a day"


def quota_exhausted(error: StatusError) -> bool:
    """OpenAI's 429 for an account out of credit: waiting will not help."""
    return "insufficient_quota" in (error.field("code"), error.field("type"))


def context_exceeded(error: StatusError, reason: str) -> bool:
    text = reason.lower()
    return error.field("code") == "context_length_exceeded" or any(
        hint in text
        for hint in (
            "context length",
            "context_length",
            "context size",
            "context window",
            "prompt is too long",
        )
    )  # the last: Anthropic's "prompt is too long: 210000 tokens > 200000 maximum"


def status_text(error: StatusError) -> str:
    """The server's own words for an error: its message as the wire read it, or in any of the shapes above, an
    HTML page's title, or the standard phrase for the status when the body says nothing."""
    if error.message:
        return error.message
    detail = error.detail
    if isinstance(detail, dict):
        return error_message(detail) or str(detail)
    if isinstance(detail, str) and detail:
        return (html_title(detail) or _phrase(error.status)) if _looks_like_html(detail) else detail
    if detail not in (None, ""):
        return str(detail)
    return _phrase(error.status)


def error_message(body: Any) -> str | None:
    """The message of an error body of the shapes OpenAI-compatible servers send (see above)."""
    detail = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(detail, str):
        return detail or None  # Ollama's {"error": "text"}
    if not isinstance(detail, dict):
        return None
    message = detail.get("message") or detail.get("detail") or detail.get("msg")
    if isinstance(message, list):  # FastAPI's validation errors: [{"loc": …, "msg": …}, …]
        return "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in message
        )
    return str(message) if message else None


def _looks_like_html(text: str) -> bool:
    return text.lstrip()[:1] == "<" and ">" in text


def html_title(page: str) -> str:
    """The title (or first heading) of an HTML error page, unless it is a generic "Error response"."""
    head = page[:4096]  # a title comes early; a hostile page of endless `<title>`s must not cost seconds
    for tag in ("title", "h1"):
        found = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", head, re.IGNORECASE | re.DOTALL)
        if found:
            title = short_reason(found[1], None)
            if title.lower().rstrip(".") not in _GENERIC_TITLES:
                return title
    return ""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def connection_cause(error: BaseException, host: str | None) -> str:
    """Walk the exception chain to the OS-level reason (refused, name not known, TLS…)."""
    cause: BaseException | None = error
    seen = 0
    while cause is not None and seen < 10:
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if "reset by peer" in text:
            return "connection reset by the server"
        if (
            "name or service not known" in text
            or "nodename nor servname" in text
            or "name resolution" in text
        ):
            return f"unknown host {host}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            if cause.reason == "WRONG_VERSION_NUMBER":
                return "TLS handshake failed: the server does not speak TLS; http:// rather than https://?"
            return f"TLS error: {cause.reason or str(cause)[:120]}"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return "connection error"
