"""Asking the user before a tool runs: the call shown (sanitised, truncated), one key for the answer.

Pre-approved tools (`--yes-tools`, `auto_approve`) and "always" answers run without asking; names are exact,
never patterns. Without a terminal an unapproved call is refused: the turn fails with one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import termios
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from chatcli.core.errors import ChatError
from chatcli.core.terminal_mode import terminal_mode
from chatcli.tools.bounds import one_line

MAX_SHOWN_LINES = 20
QUESTION = "run? [y]es / [n]o / [a]lways this tool this session / [e]dit arguments "
DIM, _BOLD, _RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


class Answer(StrEnum):
    YES = "y"
    NO = "n"
    ALWAYS = "a"
    EDIT = "e"


@dataclass(frozen=True, slots=True)
class PendingCall:
    server: str
    tool: str
    offered_name: str  # server__tool
    arguments: dict[str, Any]


class ToolRefused(ChatError):
    """An unapproved call with no terminal to ask on."""


def shown_arguments(arguments: dict[str, Any], sanitize: Callable[[str], str]) -> str:
    """The arguments pretty-printed, sanitised, at most MAX_SHOWN_LINES lines (and a count of the rest)."""
    lines = sanitize(json.dumps(arguments, indent=2, ensure_ascii=False)).splitlines()
    if len(lines) > MAX_SHOWN_LINES:
        hidden = len(lines) - MAX_SHOWN_LINES
        lines = [*lines[:MAX_SHOWN_LINES], f"… ({hidden} more line{'s' if hidden != 1 else ''})"]
    return "\n".join("  " + line for line in lines)


class Approver:
    """Decides whether a call runs. `out` and `fd` are the terminal to ask on (None: no terminal);
    `sanitize` makes untrusted text safe to show there."""

    def __init__(
        self,
        pre_approved: set[str],
        out: TextIO | None,
        fd: int | None,
        *,
        styled: bool,
        sanitize: Callable[[str], str],
    ) -> None:
        self.always = set(pre_approved)  # offered names (server__tool)
        self.sanitize = sanitize
        self._out = out
        self._fd = fd
        self._styled = styled

    @property
    def can_ask(self) -> bool:
        return self._out is not None and self._fd is not None

    def approve(self, call: PendingCall) -> dict[str, Any] | None:
        """The arguments to run the call with, or None when the user said no. Ctrl-C raises KeyboardInterrupt."""
        if call.offered_name in self.always:
            self.say(one_line(f"tool {call.server} · {call.tool} (pre-approved)"), DIM)
            return call.arguments
        if not self.can_ask:
            raise ToolRefused(
                f"the model called tool {call.offered_name}, which needs approval and there is no terminal to "
                f"ask on; allow it with --yes-tools {call.offered_name}"
            )
        arguments = call.arguments
        while True:
            self.say(one_line(f"tool {call.server} · {call.tool}"), _BOLD)
            self.say(shown_arguments(arguments, self.sanitize), "")
            answer = self._ask_key()
            if answer is Answer.YES:
                return arguments
            if answer is Answer.NO:
                return None
            if answer is Answer.ALWAYS:
                self.always.add(call.offered_name)
                return arguments
            arguments = self._edit(arguments)

    def say(self, text: str, style: str) -> None:
        """A line on the terminal (nothing without one), sanitised."""
        if self._out is None:
            return
        text = self.sanitize(text)
        self._out.write(f"{style}{text}{_RESET}\n" if self._styled and style else text + "\n")
        self._out.flush()

    def _ask_key(self) -> Answer:
        assert self._out is not None and self._fd is not None
        self._out.write(QUESTION)
        self._out.flush()
        with terminal_mode(self._fd, line=False):
            with contextlib.suppress(termios.error):
                termios.tcflush(self._fd, termios.TCIFLUSH)  # keys typed earlier never answer this question
            while True:
                try:
                    key = os.read(self._fd, 1).decode("ascii", "replace").lower()
                except KeyboardInterrupt:
                    self._out.write("\n")  # what says the turn was interrupted gets a line of its own
                    self._out.flush()
                    raise
                if key in ("", "\x04"):  # the terminal went away, or Ctrl-D: no
                    key = Answer.NO
                if key in tuple(Answer):
                    self._out.write(key + "\n")
                    self._out.flush()
                    return Answer(key)

    def _edit(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """New arguments typed as one line of JSON (an empty line keeps them)."""
        assert self._out is not None and self._fd is not None
        self.say("new arguments, as one line of JSON (empty: keep them):", DIM)
        self.say(json.dumps(arguments, ensure_ascii=False), DIM)
        with terminal_mode(self._fd, line=True):
            line = _read_line(self._fd)
        if not line.strip():
            return arguments
        try:
            edited = json.loads(line)
        except ValueError as error:
            self.say(f"not JSON ({error}); the arguments are unchanged", "")
            return arguments
        if not isinstance(edited, dict):
            self.say("the arguments must be a JSON object; unchanged", "")
            return arguments
        return edited


def _read_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n") and len(data) < 1024 * 1024:
        piece = os.read(fd, 4096)
        if not piece:
            break
        data += piece
    return data.decode("utf-8", "replace")
