"""The OpenAI-compatible backend: sends the request through the openai SDK and streams the answer.

The SDK builds and sends the request (auth, error types); chatcli retries itself, visibly and only before
any answer text (diagnosis.py), and reads with separate connect, first-token and between-chunk timeouts
(transport.py). The event stream is read line by line and decoded with `json` (events.py), because building
the SDK's pydantic chunk object for every token costs several times more CPU than the rest of chatcli.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

from chatcli.backends.openai.diagnosis import Diagnosis, rejected_option, rejects_stream_options, retry_plan
from chatcli.backends.openai.events import failure, read_completion, read_events, read_lines
from chatcli.backends.openai.request import chat_body
from chatcli.backends.openai.transport import PhasedNetwork, phased_transport
from chatcli.core.errors import BackendError, PartialAnswer
from chatcli.core.stream import AnswerStream, BackendSettings, ChatRequest, ModelEntry

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # local servers need no key, but the SDK insists on one


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        self._key = settings.api_key
        url = settings.base_url or DEFAULT_BASE_URL
        self._diagnosis = Diagnosis(settings, url)
        self.base_url = self._diagnosis.base_url  # for messages: without credentials or a query
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
        attempt = 0
        while True:
            params = chat_body(request, stream=streaming, include_usage=self.asks_for_usage)
            self._network.read_timeout = self._settings.first_token_timeout
            started = False
            try:
                # extra_body: the SDK refuses keyword arguments it does not know (-O options); this sends all.
                create = self._client.chat.completions.with_streaming_response.create
                with create(
                    model=params["model"], messages=params["messages"], extra_body=params
                ) as response:
                    content_type = response.headers.get("content-type", "")
                    if not content_type.startswith("text/event-stream"):
                        yield from self._whole_answer(response.text(), content_type, request)
                        return
                    events = read_events(
                        read_lines(response.iter_bytes()), request.info, self._key, self._settings.notify
                    )
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
                        raise failure("server sent malformed stream data", started) from None
                return
            except openai.APIError as error:
                if started:
                    raise PartialAnswer(self._diagnosis.describe(error, request.model)) from None
                if (
                    self.asks_for_usage
                    and rejects_stream_options(error)
                    and not rejected_option(error, request.options)
                ):
                    self.asks_for_usage = False
                    continue
                retry = retry_plan(error, attempt)
                if retry is None:
                    raise BackendError(
                        self._diagnosis.describe(error, request.model, attempt + 1, request.options)
                    ) from None
            except (
                httpx2.TransportError
            ) as error:  # the SDK does not wrap errors raised while reading the body
                raise failure(self._diagnosis.lost(error, started), started) from None
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
            raise BackendError(self._diagnosis.describe(error, "")) from None
        except openai.APIError as error:
            raise BackendError(self._diagnosis.describe(error, "")) from None
        except (AttributeError, TypeError, ValueError):
            raise BackendError(f"{self.base_url} sent a model list chatcli cannot read") from None
        return entries

    def _whole_answer(self, body: str, content_type: str, request: ChatRequest) -> Iterator[str]:
        """A server that ignored `stream` and sent the whole completion as JSON still gets its answer shown."""
        content = read_completion(body, request.info, self._settings.notify)
        if content is None:
            kind = content_type.split(";")[0] or "no content type"
            raise BackendError(
                f"{self.base_url} answered with {kind} instead of an event stream; "
                "is this an OpenAI-compatible endpoint?"
            )
        if content:
            yield content


def _model_entry(model: Any) -> ModelEntry:
    owner = getattr(model, "owned_by", None)
    return ModelEntry(model.id, owner if isinstance(owner, str) else None)
