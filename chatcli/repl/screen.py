"""The Screen protocol: where slash commands show things (the terminal in the REPL, a recorder in tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from chatcli.core.conversation import Content, Message
from chatcli.core.session import TurnOverrides
from chatcli.core.turn import TurnResult

# One turn on the terminal: the answer shown, an error said in one line (then None).
Ask = Callable[[Content, TurnOverrides | None], TurnResult | None]


class Screen(Protocol):
    """Where commands show things; the terminal in the REPL, a recorder in tests."""

    def notice(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def show_messages(self, messages: Sequence[Message]) -> None: ...

    def copy_to_clipboard(self, text: str) -> bool: ...
