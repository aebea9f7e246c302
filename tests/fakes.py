"""Fakes for what cannot be real in an in-process test of the layers above the backends."""

from __future__ import annotations

from chatcli.core.stream import AnswerStream, ChatRequest, StreamInfo, Usage

Reply = str | BaseException | list[str | BaseException]


class ScriptedBackend:
    """Answers each request with the next scripted reply, then "ok" once the script runs out. A reply is a
    string, or a list of pieces streamed in turn; an exception instance is raised where it stands (a reply
    that is only an exception fails before any text). Every request is kept in `requests`."""

    name = "scripted"

    def __init__(self, *replies: Reply, usage: Usage | None = None) -> None:
        self.replies = [reply if isinstance(reply, list) else [reply] for reply in replies]
        self.usage = usage
        self.requests: list[ChatRequest] = []

    def stream(self, request: ChatRequest) -> AnswerStream:
        self.requests.append(request)
        for piece in self.replies.pop(0) if self.replies else ["ok"]:
            if isinstance(piece, BaseException):
                raise piece
            yield piece
        return StreamInfo("stop", self.usage)


def read_whole(stream: AnswerStream) -> tuple[str, StreamInfo]:
    """A backend's whole stream: the text it sent and the StreamInfo it returned at the end."""
    text: list[str] = []
    while True:
        try:
            piece = next(stream)
        except StopIteration as end:
            return "".join(text), end.value
        if isinstance(piece, str):
            text.append(piece)
