"""What a failed request means, in one line that says what to do; and whether to retry it."""

from __future__ import annotations

import email.utils
import math
import re
import ssl
import time
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

import httpx2
import openai

from chatcli.backends.openai.events import error_text
from chatcli.backends.redact import short_reason, shown_url
from chatcli.core.stream import BackendSettings

RETRY_DELAYS = (1.0, 2.0)  # waits before the retries of a request that failed before any answer
MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait gets an error instead


class Diagnosis:
    """Turns errors into one-line messages naming the server (never its credentials) and never the key."""

    def __init__(self, settings: BackendSettings, base_url: str) -> None:
        self.base_url = shown_url(base_url)
        self._settings = settings
        self._key = settings.api_key

    def describe(
        self, error: openai.APIError, model: str, attempts: int = 1, options: Collection[str] = ()
    ) -> str:
        """One line saying what failed and what to do, never the key; `options` are the request's extra keys."""
        where = self.base_url
        if isinstance(error, openai.APITimeoutError):
            if isinstance(error.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout):
                return (
                    f"cannot connect to {where} (no answer within {self._settings.connect_timeout:g} s); "
                    "check the base URL and the network (connect_timeout in the config)"
                )
            return self.first_token_late()
        if isinstance(error, openai.APIConnectionError):
            cause = connection_cause(error)
            hint = (
                "check the base URL"
                if cause.startswith(("unknown host", "TLS"))
                else "is the server running?"
            )
            return f"cannot connect to {where} ({cause}); {hint}"
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            reason = short_reason(status_text(error), self._key) or "no reason given"
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            if status in (401, 403):
                return f"authentication failed at {where} ({status}: {reason}); check OPENAI_API_KEY or api_key_cmd"
            if status == 404:
                return (
                    f"not found at {where} (404) for model {model!r}: {reason}; "
                    "check the model name (chatcli models lists them), and does the base URL end in /v1?"
                )
            if status == 429 and quota_exhausted(error):
                return f"quota exhausted at {where} (429: {reason}); check the account's plan and billing"
            if status == 429:
                after = retry_after(error.response.headers)
                asked = after is not None and after >= 1
                advice = f"the server asks to wait {after:.0f} s" if asked else "wait a little and try again"
                return f"rate limited by {where} (429{tries}: {reason}); {advice}"
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
            if status >= 500:
                return f"server error at {where} ({status}{tries}: {reason}); try again later"
            if (option := rejected_option(error, options)) is not None:
                return (
                    f"{where} does not accept the request option {option!r} ({status}: {reason}); "
                    "remove it (-O, [options], /set, or --schema for response_format)"
                )
            return f"{where} answered {status}: {reason}"
        return short_reason(str(error), self._key)

    def first_token_late(self) -> str:
        return (
            f"no answer from {self.base_url} within {self._settings.first_token_timeout:g} s; "
            "a slow model may need a larger first_token_timeout in the config"
        )

    def lost(self, error: httpx2.TransportError, started: bool) -> str:
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


def rejects_stream_options(error: openai.APIError) -> bool:
    """A 400/422 that names `stream_options` or an unknown parameter: an older server without usage chunks."""
    if not isinstance(error, openai.APIStatusError) or error.status_code not in (400, 422):
        return False
    text = status_text(error).lower()
    return any(hint in text for hint in _STREAM_OPTIONS_HINTS)


_STREAM_OPTIONS_HINTS = (
    "stream_options",
    "include_usage",
    "unknown parameter",
    "unrecognized",
    "extra inputs",
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


def rejected_option(error: openai.APIError, options: Collection[str]) -> str | None:
    """The extra request option a 400/422 names (its `param`, or the option's name in its message), if any."""
    if not isinstance(error, openai.APIStatusError) or error.status_code not in (400, 422):
        return None
    body = error.body.get("error", error.body) if isinstance(error.body, dict) else None
    param = body.get("param") if isinstance(body, dict) else None
    text = status_text(error)
    return next((key for key in options if key == param or re.search(rf"\b{re.escape(key)}\b", text)), None)


def retry_plan(error: openai.APIError, attempt: int) -> tuple[float, str] | None:
    """How long to wait before retrying a request that failed before any answer, and why; None: do not."""
    if attempt >= len(RETRY_DELAYS):
        return None
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 429 and not quota_exhausted(error):
            why = "rate limited"
        elif status in (408, 500, 502, 503, 504, 529):
            why = f"server error {status}"
        else:
            return None
        after = retry_after(error.response.headers)
        if after is None:
            return RETRY_DELAYS[attempt], why
        return (after, why) if after <= MAX_RETRY_AFTER else None
    if type(error) is openai.APIConnectionError and isinstance(error.__cause__, httpx2.RemoteProtocolError):
        return RETRY_DELAYS[attempt], "the server closed the connection"  # a stale keep-alive connection
    return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `Retry-After-Ms` or `Retry-After` (seconds or an HTTP date), None when absent or unreadable."""
    if (milliseconds := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if not math.isnan(seconds) else None


def quota_exhausted(error: openai.APIStatusError) -> bool:
    """OpenAI's 429 for an account out of credit: waiting will not help."""
    return "insufficient_quota" in (error.code, error.type)


def context_exceeded(error: openai.APIStatusError, reason: str) -> bool:
    text = reason.lower()
    return error.code == "context_length_exceeded" or any(
        hint in text for hint in ("context length", "context_length", "context size", "context window")
    )


def status_text(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        return error_text(inner)
    if isinstance(body, str) and body:
        return body  # the SDK keeps a body that is not JSON (an HTML error page) as text
    return error.message


def connection_cause(error: openai.APIConnectionError) -> str:
    """Walk the exception chain to the OS-level reason (refused, name not known, TLS…)."""
    cause: BaseException | None = error
    reason = "connection error"
    seen = 0
    while cause is not None and seen < 10:
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if (
            "name or service not known" in text
            or "nodename nor servname" in text
            or "name resolution" in text
        ):
            return f"unknown host {urlsplit(str(getattr(error.request, 'url', ''))).hostname}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            if cause.reason == "WRONG_VERSION_NUMBER":
                return "TLS handshake failed: the server does not speak TLS; http:// rather than https://?"
            return f"TLS error: {cause.reason or str(cause)[:120]}"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return reason
