"""The anthropic backend: Anthropic's Messages API (wire.py) over the shared HTTP client, and the server's own
count of a prompt's tokens (the cost guard's).

Anthropic's API says nothing of a model's context window, so this backend asks nothing: the gauge uses the
context_window settings. The anthropic SDK is not used at run time; the tests use it as the oracle
(tests/test_conformance_anthropic.py)."""

from __future__ import annotations

from chatcli.backends.anthropic.request import count_tokens_body
from chatcli.backends.anthropic.wire import AnthropicWire
from chatcli.backends.http.client import ChatClient
from chatcli.core.errors import ChatError
from chatcli.core.stream import BackendSettings, ChatRequest

COUNT_SECONDS = 5.0  # the longest wait for a token count: a guard is not worth a long wait


class AnthropicBackend(ChatClient):
    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings, AnthropicWire(settings.prompt_cache))

    def count_prompt_tokens(self, request: ChatRequest) -> int | None:
        """The server's count of the prompt's input tokens (POST /v1/messages/count_tokens); None when it
        has none or asking fails. Asked on a connection of its own, as the chat may be streaming meanwhile."""
        try:
            body = count_tokens_body(request)
            answer = AnthropicBackend(self._settings).post_json(
                "messages/count_tokens", body, timeout=COUNT_SECONDS
            )
        except ChatError:  # a UsageError too: the chat itself says what is wrong with the request
            return None
        tokens = answer.get("input_tokens") if isinstance(answer, dict) else None
        return tokens if type(tokens) is int and tokens >= 0 else None
