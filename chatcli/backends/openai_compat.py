"""Any OpenAI-compatible chat-completions server, through the openai SDK.

The only module that imports openai. The SDK builds and sends the request (auth, retries, error types);
the event stream itself is read line by line and decoded with `json.loads`, because building the SDK's
pydantic chunk object for every token costs several times more CPU than the whole rest of chatcli.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import openai

from chatcli.backends import AnswerStream, BackendSettings, ChatRequest, ModelEntry, Reasoning, Usage
from chatcli.conversation import api_messages
from chatcli.errors import BackendError, PartialAnswer
from chatcli.redact import short_reason

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # local servers need no key, but the SDK insists on one


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        self._key = settings.api_key
        self.base_url = settings.base_url or DEFAULT_BASE_URL
        self._client = openai.OpenAI(
            api_key=settings.api_key or NO_KEY,
            base_url=self.base_url,
            timeout=settings.timeout,
        )
        self.asks_for_usage = True  # off for the session once the server rejects `stream_options`

    def stream(self, request: ChatRequest) -> AnswerStream:
        params: dict[str, Any] = {"model": request.model, "messages": api_messages(request.messages), "stream": True}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if self.asks_for_usage:
            params["stream_options"] = {"include_usage": True}
        shown_text = False
        retry_without_usage = False
        try:
            with self._client.chat.completions.with_streaming_response.create(**params) as response:
                content_type = response.headers.get("content-type", "")
                if not content_type.startswith("text/event-stream"):
                    yield from self._whole_answer(response.text(), content_type, request)
                    return
                for piece in self._read_events(response.iter_lines(), request):
                    shown_text = shown_text or isinstance(piece, str)
                    yield piece
        except openai.APIError as error:
            if self.asks_for_usage and not shown_text and _rejects_stream_options(error):
                self.asks_for_usage = False
                retry_without_usage = True
            else:
                message = self._describe(error, request.model)
                raise (PartialAnswer(message) if shown_text else BackendError(message)) from None
        if retry_without_usage:
            yield from self.stream(request)

    def list_models(self) -> list[ModelEntry]:
        """GET /models: each model's id and, when the server says, its owner. Ids are the server's text."""
        try:
            page = self._client.models.list()
            entries = [ModelEntry(str(model.id), getattr(model, "owned_by", None)) for model in page]
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

    def _read_events(self, lines: Iterator[str], request: ChatRequest) -> Iterator[str | Reasoning]:
        info = request.info
        got_text = False
        for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, `: keep-alive` comments, `event:` and `id:` fields
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                raise self._failure("server sent malformed stream data", got_text) from None
            if not isinstance(chunk, dict):
                raise self._failure("server sent malformed stream data", got_text)
            if "error" in chunk:
                reason = _error_text(chunk["error"])
                raise self._failure(f"server reported an error mid-stream: {short_reason(reason, self._key)}", got_text)
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
            raise self._failure("the answer ended early: the server closed the stream before it finished", got_text)

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

    def _describe(self, error: openai.APIError, model: str) -> str:
        """One line saying what failed and what to do, never the key."""
        where = self.base_url
        if isinstance(error, openai.APITimeoutError):
            return f"timed out waiting for {where}; raise --timeout if the model is slow"
        if isinstance(error, openai.APIConnectionError):
            return f"cannot connect to {where} ({_connection_cause(error)})"
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            reason = short_reason(_status_text(error), self._key)
            if status in (401, 403):
                return f"authentication failed at {where} ({status}); check OPENAI_API_KEY"
            if status == 404:
                return (
                    f"not found at {where} (404) for model {model!r}: {reason}; "
                    "check the model name, and does the base URL end in /v1?"
                )
            if status == 429:
                return f"rate limited by {where} (429): {reason}"
            if status == 400 and "context" in reason.lower() and "length" in reason.lower():
                return f"the conversation is too long for model {model!r}: {reason}"
            return f"{where} answered {status}: {reason}"
        return short_reason(str(error), self._key)


def _rejects_stream_options(error: openai.APIError) -> bool:
    """A 400/422 that names `stream_options` or an unknown parameter: an older server without usage chunks."""
    if not isinstance(error, openai.APIStatusError) or error.status_code not in (400, 422):
        return False
    text = _status_text(error).lower()
    return any(hint in text for hint in _STREAM_OPTIONS_HINTS)


_STREAM_OPTIONS_HINTS = ("stream_options", "include_usage", "unknown parameter", "unrecognized", "extra inputs")


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
        if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
            return f"unknown host {urlsplit(str(getattr(error.request, 'url', ''))).hostname}"
        if "certificate" in text or "ssl" in text:
            return "TLS error: " + str(cause)[:120]
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return reason


def _parse_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
