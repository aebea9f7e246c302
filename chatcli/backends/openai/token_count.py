"""A prompt's tokens as llama.cpp's server counts them, for the cost guard: `POST /v1/chat/completions/input_tokens`
(the request's body, its chat template applied), else `POST /tokenize` beside /v1 (the prompt's text alone).
Other OpenAI-compatible servers have neither; each counter is asked until it fails once, then never again in
the session."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chatcli.core.stream import ChatRequest

INPUT_TOKENS = "chat/completions/input_tokens"  # in the API root, beside chat/completions
TOKENIZE = "tokenize"  # beside the API root (llama.cpp's own endpoints have no /v1)

# Posts a small JSON body to a path (True: beside the API root's /v1) and returns its JSON, or None when the
# server has no such endpoint (404, 405, 501); raises on any other failure (an error status, the network, a
# body that is no JSON).
PostJson = Callable[[str, Mapping[str, Any], bool], Any]


class LlamaCppTokenCount:
    """Asks llama.cpp's counters in turn. One the server lacks (a 404) is not asked again in the session; after
    any other failure (a timeout, an unreachable server) neither is: an estimate is not worth a second wait."""

    def __init__(self) -> None:
        self._failed: set[str] = set()

    def count(self, request: ChatRequest, body: Mapping[str, Any], post: PostJson) -> int | None:
        """The tokens of `request` (whose chat-completions body is `body`), or None when no counter answered."""
        askers: tuple[tuple[str, Callable[[], int | None]], ...] = (
            (INPUT_TOKENS, lambda: _count(post(INPUT_TOKENS, body, False), "input_tokens")),
            (TOKENIZE, lambda: _tokens(post(TOKENIZE, {"content": prompt_text(request)}, True))),
        )
        for name, ask in askers:
            if name in self._failed:
                continue
            try:
                tokens = ask()
            except Exception:  # whatever went wrong, an estimate never fails the turn
                self._failed.update(asked for asked, _ in askers)
                return None
            if tokens is not None:
                return tokens
            self._failed.add(name)
        return None


def prompt_text(request: ChatRequest) -> str:
    """What /tokenize counts: the messages' text and the tool definitions, one after another."""
    texts = [message.text for message in request.messages]
    if request.tools:
        texts.append(json.dumps(list(request.tools)))
    return "\n".join(texts)


def _count(answer: Any, key: str) -> int | None:
    value = answer.get(key) if isinstance(answer, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _tokens(answer: Any) -> int | None:
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    return len(tokens) if isinstance(tokens, list) else None
