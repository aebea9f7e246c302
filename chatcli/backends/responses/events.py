"""Reading a Responses API answer: the events of a stream (or a whole response) to answer pieces and a StreamInfo.

OpenAI's documented stream is followed; what llama.cpp's server leaves out (`sequence_number`, `output_index`,
`content_index`, deltas for what a done event carries whole) is tolerated. Every field read is type-checked: a
wrong shape fails the turn as "malformed stream data"; usage is only informative, a bad one is dropped with a
warning. Each event's JSON is decoded once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chatcli.backends.http.errors import MALFORMED, failure
from chatcli.backends.http.stream_data import (
    Malformed,
    ServerError,
    checked_text,
    decode_object,
    guarded,
    ignore,
)
from chatcli.backends.openai.events import BAD_USAGE, MAX_TOKEN_COUNT, error_text
from chatcli.backends.redact import short_reason
from chatcli.core.stream import Piece, ProviderItem, Reasoning, StreamInfo, ToolCallPiece, Usage

BACKEND = "responses"
TEXT_DELTA = "response.output_text.delta"
# `incomplete_details.reason` as chatcli's finish reasons (core.turn says what each means)
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_ANSWERED = {"completed", "incomplete"}


def read_events(
    datas: Iterator[bytes], info: StreamInfo, key: str | None, warn: Callable[[str], None] = ignore
) -> Iterator[Piece]:
    """The answer's pieces from the stream's event data (one JSON object each); its finish reason, usage and
    model to `info`. An error event, malformed data or a stream that ends before `response.completed` (or
    `response.incomplete`) raises BackendError, PartialAnswer once text came."""
    return guarded(_event_pieces(datas, ResponseReader(info, key, warn), info), info, key)


def _event_pieces(datas: Iterator[bytes], reader: ResponseReader, info: StreamInfo) -> Iterator[Piece]:
    for data in datas:
        event = decode_object(data)
        if event.get("type") == TEXT_DELTA:  # the common case, kept cheap
            reader.streamed_text = True
            if delta := _text(event, "delta"):
                yield delta
            continue
        yield from reader.event(event)
        if info.finish_reason is not None:
            return


def read_response(
    body: bytes, info: StreamInfo, key: str | None = None, warn: Callable[[str], None] = ignore
) -> list[Piece] | None:
    """The pieces of a whole (non-streamed) response, `info` filled; None when `body` is no response object."""
    try:
        response = decode_object(body)
    except (Malformed, RecursionError):
        return None
    if type(response.get("output")) is not list:
        return None
    reader = ResponseReader(info, key, warn)
    try:
        pieces = [
            piece
            for index, item in enumerate(response["output"])
            for piece in reader.item_done(item, index, whole=True)
        ]
        reader.finish(response, response.get("status"))
    except ServerError as error:
        raise failure(f"server reported an error: {error}", False) from None
    except (Malformed, RecursionError):
        raise failure(MALFORMED.replace("stream ", ""), False) from None
    return pieces


class ResponseReader:
    """One answer's events as they come: which function call each arguments delta belongs to, what was
    streamed already (so a done event adds only what was not), and how the response ended."""

    def __init__(self, info: StreamInfo, key: str | None, warn: Callable[[str], None]) -> None:
        self.info = info
        self.streamed_text = False  # output text came as deltas: a message's done event repeats it
        self._key = key
        self._warn = warn
        self._calls: dict[str, int] = {}  # a function_call item's id and "@output_index" -> its call index
        self._call_count = 0
        # the latest call, for arguments deltas that name no item (llama.cpp's do; others may not)
        self._last_call: int | None = None
        self._streamed_calls: set[int] = set()  # calls whose arguments came as deltas
        self._handlers: dict[str, Callable[[dict[str, Any]], Iterator[Piece]]] = {
            "response.refusal.delta": self._refusal,
            "response.reasoning_summary_text.delta": self._reasoning,
            "response.reasoning_text.delta": self._reasoning,
            "response.reasoning_summary_part.added": self._summary_part,
            "response.function_call_arguments.delta": self._arguments,
            "response.output_item.added": self._item_added,
            "response.output_item.done": self._item_done,
        }

    def event(self, event: dict[str, Any]) -> Iterator[Piece]:
        """The pieces one event adds; the events that say how the response goes fill `info`."""
        kind = event.get("type")
        if type(kind) is not str:
            raise Malformed
        if handler := self._handlers.get(kind):
            yield from handler(event)
        elif kind == "error":
            raise ServerError(self._reason(event.get("error") or event))
        elif kind.startswith("response.") and "response" in event:
            response = _object(event["response"])
            if kind in ("response.completed", "response.incomplete", "response.failed"):
                self.finish(response, response.get("status") or kind.removeprefix("response."))
            elif model := response.get("model"):
                self.info.model = checked_text(model)

    def _refusal(self, event: dict[str, Any]) -> Iterator[Piece]:
        self.streamed_text = True
        if delta := _text(event, "delta"):
            yield delta

    def _reasoning(self, event: dict[str, Any]) -> Iterator[Piece]:
        if delta := _text(event, "delta"):
            yield Reasoning(delta)

    def _summary_part(self, event: dict[str, Any]) -> Iterator[Piece]:
        if _count(event.get("summary_index", 0)) > 0:
            yield Reasoning("\n\n")  # the summary's parts are paragraphs

    def finish(self, response: dict[str, Any], status: Any) -> None:
        """How the response ended (`status`), its usage and model, into `info`; ServerError when it failed."""
        if status not in _ANSWERED:
            error = response.get("error")
            if status == "failed" or error:
                raise ServerError(self._reason(error or "the response failed"))
            raise Malformed if type(status) is not str else ServerError(f"the response ended as {status!r}")
        if model := response.get("model"):
            self.info.model = checked_text(model)
        if (usage := response.get("usage")) is not None:
            self.info.usage = parse_usage(usage)
            if self.info.usage is None:
                self._warn(BAD_USAGE)
        if status == "incomplete":
            details = _object(response.get("incomplete_details") or {})
            reason = checked_text(details.get("reason") or "incomplete")
            self.info.finish_reason = INCOMPLETE_REASONS.get(reason, reason)
        else:
            self.info.finish_reason = "tool_calls" if self._call_count else "stop"

    def _reason(self, error: Any) -> str:
        """A server's error (an object or a string) as one redacted line: its message, else its code."""
        if isinstance(error, dict):
            error = error.get("message") or error.get("code") or error
        return short_reason(error_text(error), self._key)

    def _item_added(self, event: dict[str, Any]) -> Iterator[Piece]:
        item = _object(event.get("item"))
        if item.get("type") == "function_call":
            yield self._new_call(item, event.get("output_index"))

    def _new_call(self, item: dict[str, Any], output_index: Any) -> ToolCallPiece:
        """A function call's first piece (call_id as the id, name, any arguments the item already holds)."""
        index = self._last_call = self._call_count
        self._call_count += 1
        for key in _keys(item.get("id"), output_index):
            self._calls[key] = index
        arguments = _text(item, "arguments")
        if arguments:
            self._streamed_calls.add(index)
        return ToolCallPiece(index, _text(item, "call_id"), _text(item, "name"), arguments)

    def _call_index(self, item_id: Any, output_index: Any) -> int | None:
        for key in _keys(item_id, output_index):
            if key in self._calls:
                return self._calls[key]
        return None

    def _arguments(self, event: dict[str, Any]) -> Iterator[Piece]:
        index = self._call_index(event.get("item_id"), event.get("output_index"))
        if index is None:
            index = self._last_call
            if index is None:
                raise Malformed  # arguments of no call
        self._streamed_calls.add(index)
        if delta := _text(event, "delta"):
            yield ToolCallPiece(index, arguments=delta)

    def _item_done(self, event: dict[str, Any]) -> Iterator[Piece]:
        return self.item_done(event.get("item"), event.get("output_index"), whole=False)

    def item_done(self, item: Any, output_index: Any, *, whole: bool) -> Iterator[Piece]:
        """What a finished item adds: a reasoning item to keep (and its summary, for a whole response), a call
        or text that came without deltas."""
        item = _object(item)
        kind = item.get("type")
        if kind == "reasoning":
            if whole:
                yield from _summary(item)
            if _kept(item):
                yield ProviderItem(BACKEND, item)
        elif kind == "function_call":
            index = self._call_index(item.get("id"), output_index)
            if index is None:
                yield self._new_call(item, output_index)  # never announced: it comes whole
            elif index not in self._streamed_calls and (arguments := _text(item, "arguments")):
                self._streamed_calls.add(index)
                yield ToolCallPiece(index, arguments=arguments)
        elif kind == "message" and not self.streamed_text:
            yield from _message_text(item)


def _keys(item_id: Any, output_index: Any) -> list[str]:
    """What an item is known by in the events about it: its id, its position in the output."""
    keys = [] if item_id is None else [checked_text(item_id)]
    return keys if output_index is None else [*keys, f"@{_count(output_index)}"]


def _kept(item: dict[str, Any]) -> bool:
    """Whether a reasoning item can go back in later requests: encrypted (OpenAI with `store: false`) or in
    plain text (llama.cpp); an item with neither would only make OpenAI look for a stored one."""
    encrypted = item.get("encrypted_content")
    content = item.get("content")
    if (encrypted is not None and type(encrypted) is not str) or (
        content is not None and type(content) is not list
    ):
        raise Malformed
    return bool(encrypted or content)


def _summary(item: dict[str, Any]) -> Iterator[Piece]:
    parts = item.get("summary") or []
    if type(parts) is not list:
        raise Malformed
    texts = [_text(_object(part), "text") for part in parts]
    if any(texts):
        yield Reasoning("\n\n".join(texts))


def _message_text(item: dict[str, Any]) -> Iterator[Piece]:
    """A message's text when none of it was streamed: its output_text (and refusal) parts."""
    content = item.get("content") or []
    if type(content) is not list:
        raise Malformed
    for part in content:
        part = _object(part)
        if text := _text(part, "text") or _text(part, "refusal"):
            yield text


def _object(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise Malformed
    return value


def _text(event: Mapping[str, Any], key: str) -> str:
    """A text field ("" when absent or null); Malformed when it is not a string of valid UTF-8."""
    value = event.get(key)
    return "" if value is None else checked_text(value)


def _count(value: Any) -> int:
    """A whole number from 0 to MAX_TOKEN_COUNT (12.0 counts: a count; inf, nan, 1.5 and true do not)."""
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not 0 <= value <= MAX_TOKEN_COUNT:
        raise Malformed
    return value


def parse_usage(usage: Any) -> Usage | None:
    """A response's token counts (of the input, what was read from and written to the prompt cache; of the
    output, the reasoning), or None when they cannot be read."""
    try:
        usage = _object(usage)
        cache = _object(usage.get("input_tokens_details") or {})
        reasoning = _object(usage.get("output_tokens_details") or {}).get("reasoning_tokens")
        return Usage(
            _count(usage.get("input_tokens") or 0),
            _count(usage.get("output_tokens") or 0),
            cache_read_tokens=_count(cache.get("cached_tokens") or 0),
            cache_write_tokens=_count(cache.get("cache_write_tokens") or 0),
            reasoning_tokens=None if reasoning is None else _count(reasoning),
        )
    except Malformed:
        return None
