"""The offline backend: answers `Echo: <last user message>` in small chunks, no key, no network."""

from __future__ import annotations

from chatcli.backends import BackendName
from chatcli.core.stream import AnswerStream, BackendSettings, ChatRequest, StreamInfo

CHUNK_CHARS = 4


class EchoBackend:
    name = BackendName.ECHO

    def __init__(self, settings: BackendSettings) -> None:
        pass

    def stream(self, request: ChatRequest) -> AnswerStream:
        last_user = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        answer = f"Echo: {last_user}"
        for start in range(0, len(answer), CHUNK_CHARS):
            yield answer[start : start + CHUNK_CHARS]
        return StreamInfo(finish_reason="stop", model=request.model)
