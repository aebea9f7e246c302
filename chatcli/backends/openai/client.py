"""Any OpenAI-compatible chat-completions server, through the openai SDK.

The only module that imports openai. The SDK builds and sends the request (auth, error types); chatcli
retries itself, visibly and only before any answer text, and reads with separate connect, first-token and
between-chunk timeouts (backends/network.py). The event stream itself is read line by line and decoded
with `json.loads`, because building the SDK's pydantic chunk object for every token costs several times
more CPU than the whole rest of chatcli.
"""

from __future__ import annotations

import email.utils
import json
import math
import ssl
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai

from chatcli.backends.openai.transport import PhasedNetwork, phased_transport
from chatcli.backends.redact import short_reason
from chatcli.core.conversation import api_messages
from chatcli.core.errors import BackendError, PartialAnswer
from chatcli.core.stream import AnswerStream, BackendSettings, ChatRequest, ModelEntry, Reasoning, Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # local servers need no key, but the SDK insists on one
RETRY_DELAYS = (1.0, 2.0)  # waits before the retries of a request that failed before any answer
MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait gets an error instead


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        self._key = settings.api_key
        url = settings.base_url or DEFAULT_BASE_URL
        self.base_url = _shown_url(
            url
        )  # for messages: without a user:password or query that may hold secrets
        self._settings = settings
        self._network = PhasedNetwork(settings.first_token_timeout)
        self._client = openai.OpenAI(
            api_key=settings.api_key or NO_KEY,
            base_url=url,
            # `read` here only applies through a proxy; direct connections read through self._network.
            timeout=httpx2.Timeout(settings.first_token_timeout, connect=settings.connect_timeout),
            max_retries=0,  # chatcli retries itself: visibly, never after text, never on an exhausted quota
            http_client=openai.DefaultHttpxClient(transport=phased_transport(self._network)),
        )
        self.asks_for_usage = True  # off for the session once the server rejects `stream_options`

    def stream(self, request: ChatRequest) -> AnswerStream:
        streaming = self._settings.stream
        params: dict[str, Any] = {
            "model": request.model,
            "messages": api_messages(request.messages),
            "stream": streaming,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if self.asks_for_usage and streaming:
            params["stream_options"] = {"include_usage": True}
        attempt = 0
        while True:
            if not self.asks_for_usage:
                params.pop("stream_options", None)
            self._network.read_timeout = self._settings.first_token_timeout
            started = False
            try:
                with self._client.chat.completions.with_streaming_response.create(**params) as response:
                    content_type = response.headers.get("content-type", "")
                    if not content_type.startswith("text/event-stream"):
                        yield from self._whole_answer(response.text(), content_type, request)
                        return
                    events = self._read_events(_lines(response.iter_bytes()), request)
                    try:
                        for piece in events:
                            # The answer has started: from now on a stall is measured by the idle timeout,
                            # and a failure is never retried (text reached the user).
                            self._network.read_timeout = self._settings.timeout
                            started = True
                            yield piece
                            break
                        yield from events
                    except (AttributeError, TypeError, ValueError):  # JSON of the wrong shape
                        raise self._failure("server sent malformed stream data", started) from None
                return
            except openai.APIError as error:
                if started:
                    raise PartialAnswer(self._describe(error, request.model)) from None
                if self.asks_for_usage and _rejects_stream_options(error):
                    self.asks_for_usage = False
                    continue
                retry = _retry_plan(error, attempt)
                if retry is None:
                    raise BackendError(self._describe(error, request.model, attempt + 1)) from None
            except (
                httpx2.TransportError
            ) as error:  # the SDK does not wrap errors raised while reading the body
                raise self._failure(self._lost(error, started), started) from None
            wait, why = retry
            attempt += 1
            self._settings.notify(f"waiting {math.ceil(wait)}s ({why})…")
            time.sleep(wait)

    def list_models(self) -> list[ModelEntry]:
        """GET /models: each model's id and, when the server says, its owner. Ids are the server's text."""
        self._network.read_timeout = self._settings.timeout  # no model to wait for: the short timeout applies
        try:
            page = self._client.models.list()
            entries = [_model_entry(model) for model in page if isinstance(getattr(model, "id", None), str)]
        except openai.APIStatusError as error:
            if error.status_code == 404:
                raise BackendError(
                    f"{self.base_url} has no model list (404); does the base URL end in /v1?"
                ) from None
            raise BackendError(self._describe(error, "")) from None
        except openai.APIError as error:
            raise BackendError(self._describe(error, "")) from None
        except (AttributeError, TypeError, ValueError):
            raise BackendError(f"{self.base_url} sent a model list chatcli cannot read") from None
        return entries

    def _read_events(self, lines: Iterator[bytes], request: ChatRequest) -> Iterator[str | Reasoning]:
        info = request.info
        got_text = False
        for line in lines:
            if not line.startswith(b"data:"):
                continue  # blank separators, `: keep-alive` comments, `event:` and `id:` fields
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            try:
                chunk = _JSON.decode(data.decode())
            except ValueError:
                raise self._failure("server sent malformed stream data", got_text) from None
            if not isinstance(chunk, dict):
                raise self._failure("server sent malformed stream data", got_text)
            if "error" in chunk:
                reason = _error_text(chunk["error"])
                raise self._failure(
                    f"server reported an error mid-stream: {short_reason(reason, self._key)}", got_text
                )
            if usage := chunk.get("usage"):
                info.usage = _parse_usage(usage)
            if model := chunk.get("model"):
                info.model = model
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if reasoning := delta.get("reasoning_content") or delta.get("reasoning"):
                    yield Reasoning(reasoning)
                if content := delta.get("content"):
                    got_text = True
                    yield content
                if finish := choice.get("finish_reason"):
                    info.finish_reason = finish
        if info.finish_reason is None:
            raise self._failure(
                "the answer ended early: the server closed the stream before it finished", got_text
            )

    def _whole_answer(self, body: str, content_type: str, request: ChatRequest) -> Iterator[str]:
        """A server that ignored `stream` and sent the whole completion as JSON still gets its answer shown."""
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            kind = content_type.split(";")[0] or "no content type"
            raise BackendError(
                f"{self.base_url} answered with {kind} instead of an event stream; "
                "is this an OpenAI-compatible endpoint?"
            ) from None
        request.info.finish_reason = choice.get("finish_reason") or "stop"
        if usage := data.get("usage"):
            request.info.usage = _parse_usage(usage)
        if content:
            yield content

    @staticmethod
    def _failure(message: str, got_text: bool) -> BackendError:
        return PartialAnswer(message) if got_text else BackendError(message)

    def _describe(self, error: openai.APIError, model: str, attempts: int = 1) -> str:
        """One line saying what failed and what to do, never the key."""
        where = self.base_url
        if isinstance(error, openai.APITimeoutError):
            if isinstance(error.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout):
                return (
                    f"cannot connect to {where} (no answer within {self._settings.connect_timeout:g} s); "
                    "check the base URL and the network (connect_timeout in the config)"
                )
            return self._first_token_late()
        if isinstance(error, openai.APIConnectionError):
            cause = _connection_cause(error)
            hint = (
                "check the base URL"
                if cause.startswith(("unknown host", "TLS"))
                else "is the server running?"
            )
            return f"cannot connect to {where} ({cause}); {hint}"
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            reason = short_reason(_status_text(error), self._key) or "no reason given"
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            if status in (401, 403):
                return f"authentication failed at {where} ({status}: {reason}); check OPENAI_API_KEY or api_key_cmd"
            if status == 404:
                return (
                    f"not found at {where} (404) for model {model!r}: {reason}; "
                    "check the model name (chatcli models lists them), and does the base URL end in /v1?"
                )
            if status == 429 and _quota_exhausted(error):
                return f"quota exhausted at {where} (429: {reason}); check the account's plan and billing"
            if status == 429:
                after = _retry_after(error.response.headers)
                asked = after is not None and after >= 1
                advice = f"the server asks to wait {after:.0f} s" if asked else "wait a little and try again"
                return f"rate limited by {where} (429{tries}: {reason}); {advice}"
            if status in (400, 413, 422) and _context_exceeded(error, reason):
                return (
                    f"the conversation is too long for model {model!r} ({reason}); "
                    "start a new conversation or use a model with a longer context"
                )
            if status >= 500:
                return f"server error at {where} ({status}{tries}: {reason}); try again later"
            return f"{where} answered {status}: {reason}"
        return short_reason(str(error), self._key)

    def _first_token_late(self) -> str:
        return (
            f"no answer from {self.base_url} within {self._settings.first_token_timeout:g} s; "
            "a slow model may need a larger first_token_timeout in the config"
        )

    def _lost(self, error: httpx2.TransportError, started: bool) -> str:
        """What a transport error while reading the answer means."""
        if isinstance(error, httpx2.TimeoutException):
            if not started:
                return self._first_token_late()
            return (
                f"the answer stalled: no data from {self.base_url} for {self._settings.timeout:g} s; "
                "raise --timeout for a slow server"
            )
        reason = short_reason(str(error), self._key) or type(error).__name__
        return f"the answer ended early: the connection to {self.base_url} was lost ({reason})"


_JSON = (
    json.JSONDecoder()
)  # json.loads without its per-call checks; bytes are decoded first (faster than loads(bytes))


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream, each with its end (`\n`, `\r\n` or `\r`), the last one possibly without.

    Cheaper per token than httpx's text and line decoders; a line split across chunks is joined once."""
    partial: list[bytes] = []
    for chunk in chunks:
        lines = chunk.splitlines(keepends=True)
        if not lines:
            continue
        if partial:
            partial.append(lines[0])
            if not lines[0].endswith((b"\n", b"\r")):
                continue  # still inside the same line
            lines[0] = b"".join(partial)
            partial = []
        if not lines[-1].endswith((b"\n", b"\r")):
            partial.append(lines.pop())
        yield from lines
    if partial:
        yield b"".join(partial)


def _model_entry(model: Any) -> ModelEntry:
    owner = getattr(model, "owned_by", None)
    return ModelEntry(model.id, owner if isinstance(owner, str) else None)


def _rejects_stream_options(error: openai.APIError) -> bool:
    """A 400/422 that names `stream_options` or an unknown parameter: an older server without usage chunks."""
    if not isinstance(error, openai.APIStatusError) or error.status_code not in (400, 422):
        return False
    text = _status_text(error).lower()
    return any(hint in text for hint in _STREAM_OPTIONS_HINTS)


_STREAM_OPTIONS_HINTS = (
    "stream_options",
    "include_usage",
    "unknown parameter",
    "unrecognized",
    "extra inputs",
)


def _shown_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    port = parts.netloc.rpartition(":")[2] if parts.netloc.rpartition(":")[2].isdigit() else ""
    return parts._replace(netloc=f"{netloc}:{port}" if port else netloc, query="", fragment="").geturl()


def _retry_plan(error: openai.APIError, attempt: int) -> tuple[float, str] | None:
    """How long to wait before retrying a request that failed before any answer, and why; None: do not."""
    if attempt >= len(RETRY_DELAYS):
        return None
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 429 and not _quota_exhausted(error):
            why = "rate limited"
        elif status in (408, 500, 502, 503, 504, 529):
            why = f"server error {status}"
        else:
            return None
        after = _retry_after(error.response.headers)
        if after is None:
            return RETRY_DELAYS[attempt], why
        return (after, why) if after <= MAX_RETRY_AFTER else None
    if type(error) is openai.APIConnectionError and isinstance(error.__cause__, httpx2.RemoteProtocolError):
        return RETRY_DELAYS[attempt], "the server closed the connection"  # a stale keep-alive connection
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
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


def _quota_exhausted(error: openai.APIStatusError) -> bool:
    """OpenAI's 429 for an account out of credit: waiting will not help."""
    return "insufficient_quota" in (error.code, error.type)


def _context_exceeded(error: openai.APIStatusError, reason: str) -> bool:
    text = reason.lower()
    return error.code == "context_length_exceeded" or any(
        hint in text for hint in ("context length", "context_length", "context size", "context window")
    )


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _status_text(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        return _error_text(inner)
    if isinstance(body, str) and body:
        return body  # the SDK keeps a body that is not JSON (an HTML error page) as text
    return error.message


def _connection_cause(error: openai.APIConnectionError) -> str:
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


def _parse_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
