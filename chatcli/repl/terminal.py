"""Terminal helpers for the REPL: quiet input while an answer streams, the commands' screen, OSC 52."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable, Sequence
from typing import TextIO

from chatcli.core.conversation import Message
from chatcli.core.renderer import Renderer
from chatcli.core.terminal_mode import terminal_mode
from chatcli.render.message_text import shown_text
from chatcli.render.sanitize import sanitize
from chatcli.render.wording import plural
from chatcli.repl.prompt import PROMPT

_DIM, _BOLD, _RED, _YELLOW, _RESET = "\x1b[2m", "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[0m"


def quiet_input(fd: int) -> contextlib.AbstractContextManager[None]:
    """While an answer streams, keys are not echoed into it but wait for the next prompt, and Ctrl-C still
    interrupts without cutting the answer's output short."""
    return terminal_mode(fd, line=False, keep_output=True)


class TerminalScreen:
    """The commands' view of the terminal: dim notices, warnings on stderr, rendered conversations."""

    def __init__(
        self,
        new_renderer: Callable[[], Renderer],
        out: TextIO,
        err: TextIO,
        *,
        styled: bool,
        on_terminal: bool,
    ) -> None:
        self._new_renderer = new_renderer
        self._out = out
        self._err = err
        self._styled = styled
        self._on_terminal = on_terminal

    def notice(self, text: str) -> None:
        self._line(self._out, sanitize(text), _DIM)

    def warn(self, text: str) -> None:
        self._out.flush()
        self._line(self._err, sanitize(text), _YELLOW)

    def error(self, text: str) -> None:
        self._out.flush()
        self._line(self._err, sanitize(f"error: {text}"), _RED)

    def show_messages(self, messages: Sequence[Message]) -> None:
        turns = sum(1 for message in messages if message.role == "user")
        self.notice(f"─── the conversation so far: {plural(turns, 'turn')} ───")
        for message in messages:
            if message.role == "user":
                self.show_sent(shown_text(message))
            elif message.role == "assistant":
                with self._new_renderer() as renderer:
                    renderer.feed(sanitize(shown_text(message)))
                if message.status:
                    self.notice(f"[{message.status}]")
                self._out.write("\n")
            else:
                self.notice(f"{message.role}: {shown_text(message)}")
        self.notice("─── end of the conversation so far ───")

    def show_sent(self, text: str) -> None:
        """What the user sent, after the prompt sign, as plain lines that scroll into the scrollback whatever
        their height (the prompt itself draws only what fits on the screen, and erases it when done)."""
        self._line(self._out, PROMPT + sanitize(text).replace("\n", "\n" + " " * len(PROMPT)), _BOLD)

    def copy_to_clipboard(self, text: str) -> bool:
        if not self._on_terminal:
            self.warn("no terminal to copy to")
            return False
        self._out.write(osc52(text))
        self._out.flush()
        return True

    def _line(self, stream: TextIO, text: str, style: str) -> None:
        stream.write(f"{style}{text}{_RESET}\n" if self._styled else text + "\n")
        stream.flush()


def osc52(text: str) -> str:
    """The sequence that asks the terminal to put `text` on the system clipboard.

    Model output never produces it (it is sanitised); chatcli emits it only for /copy.
    BEL ends it: more terminals accept BEL than ST here.
    """
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"\x1b]52;c;{payload}\x07"


def detach_from_terminal() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)
