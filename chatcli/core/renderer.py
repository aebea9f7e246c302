"""The Renderer protocol: what a turn shows its answer through. Implementations live in chatcli.render."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class Renderer(Protocol):
    """Consumes an answer's text deltas and its reasoning; leaving the `with` block always finishes the
    output, also on errors."""

    def __enter__(self) -> Self: ...

    def feed(self, text: str) -> None: ...

    def reason(self, text: str) -> None:
        """A piece of the model's reasoning, shown apart from the answer (or not at all)."""

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...
