"""`chatcli cmd` and `/cmd`: a command asked of the model, shown whole and inert, then one key decides —
execute, revise, describe, copy or abort. Nothing runs without the `e` key.

Each turn reaches the observers (the library) once what became of its command is known, that outcome kept
with the answer: a revised command as not executed, the last one as executed (with its exit status) or not.
The description is a side question: it is shown, never kept in the conversation."""

from __future__ import annotations

import contextlib
import os
import select
import termios
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from chatcli.core.conversation import Content, Conversation, Message, Status
from chatcli.core.errors import ChatError
from chatcli.core.renderer import Renderer
from chatcli.core.session import Session, TurnObserver
from chatcli.core.shell_command import (
    DESCRIBE_PROMPT,
    MAX_COMMAND_BYTES,
    NOT_EXECUTED,
    CommandOutcome,
    ShellContext,
    command_of,
    with_outcome,
)
from chatcli.core.terminal_mode import terminal_mode
from chatcli.core.turn import TurnResult
from chatcli.render.shown_command import GUTTER, command_lines
from chatcli.repl.foreground import run_in_foreground
from chatcli.storage.recorder import Recorder

MENU = "[e]xecute  [r]evise  [d]escribe  [c]opy  [a]bort "
MAX_CHANGE_BYTES = 64 * 1024  # a typed change; a terminal's line holds 4096 at most anyway
_ESCAPE_SEQUENCE_WAIT = 0.05  # seconds: bytes that follow ESC this soon are a key's sequence, not Esc
_DIM, _BOLD, _RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


class Key(StrEnum):
    EXECUTE = "e"
    REVISE = "r"
    DESCRIBE = "d"
    COPY = "c"
    ABORT = "a"


_ABORT_KEYS = {"", "\x1b", "\x04"}  # the terminal went away, Esc, Ctrl-D (Ctrl-C raises KeyboardInterrupt)
_WORDS = {
    Key.EXECUTE: "execute",
    Key.REVISE: "revise",
    Key.DESCRIBE: "describe",
    Key.COPY: "copy",
    Key.ABORT: "abort",
}


class NoCommand(ChatError):
    """The model's answer holds no command that may be offered (empty, or too long to read)."""


@dataclass(frozen=True, slots=True)
class CommandTerminal:
    """The terminal the command is shown and decided on: `out` writes to it, `fd` reads its keys."""

    out: TextIO
    fd: int
    styled: bool


@dataclass(frozen=True, slots=True)
class _Offered:
    """A committed answer whose command is on offer, and where it sits in the conversation."""

    result: TurnResult
    index: int
    command: str


@dataclass(frozen=True, slots=True)
class CommandSetup:
    """What /cmd takes from the settings: the `cmd_system` template (None: the built-in prompt), and a
    recorder for the library conversation each /cmd starts."""

    system_template: str | None
    new_recorder: Callable[[], Recorder]


def command_session(chat: Session, system: str) -> Session:
    """A small conversation of its own (the chat's stays as it is), with the chat's backend, model, sampling
    and request options."""
    return Session(
        chat.backend,
        Conversation([Message("system", system)], chat.model),
        chat.model,
        chat.temperature,
        chat.max_tokens,
        options=dict(chat.options),
        max_answer_bytes=chat.max_answer_bytes,
        reasoning_shown=chat.reasoning_shown,
    )


class CommandDialogue:
    """The exchange about one task, in `session` (whose conversation starts with the command system prompt).

    `command_display` shows a command turn while it streams (a spinner: the command is shown once complete);
    `answer_display` shows the description like an answer; `observers` are told of each turn once its outcome
    is known; `report` says an error or warning in one line."""

    def __init__(
        self,
        session: Session,
        context: ShellContext,
        *,
        command_display: Callable[[], Renderer],
        answer_display: Callable[[], Renderer],
        observers: Sequence[TurnObserver],
        report: Callable[[str], None],
        environ: Mapping[str, str],
    ) -> None:
        self.session = session
        self.context = context
        self._command_display = command_display
        self._answer_display = answer_display
        self._observers = list(observers)
        self._report = report
        self._environ = environ
        self._offered: _Offered | None = None
        self._committed: TurnResult | None = None
        session.observers = [self]  # told at once; the real observers wait for the outcome (settle)

    def turn_committed(self, session: Session, result: TurnResult) -> None:
        self._committed = result

    def propose(self, task: Content) -> str | None:
        """The model's command for `task` (once one is on offer: for the change `task` asks), or None when the
        answer was interrupted. A revision that fails, or brings no command, leaves the one on offer."""
        self._committed = None
        try:
            result = self.session.turn(task, self._command_display())
        except ChatError:
            self._take_committed()  # a broken answer that was kept
            raise
        if result.cut_short is not None and result.status is None:
            self._report(f"warning: {result.cut_short}; the command may be incomplete")
        return self._take_committed()

    def _take_committed(self) -> str | None:
        """The command of the answer just committed, now on offer; None when none was, or it was unfinished."""
        result, self._committed = self._committed, None
        if result is None:
            return None
        revising = self._offered is not None
        index = len(self.session.conversation.messages) - 1
        command = command_of(result.text)
        problem = _problem_with(command) if result.status is None else None
        if result.status is None and problem is None:
            self.settle(NOT_EXECUTED)  # the command on offer until now was revised
            self._offered = _Offered(result, index, command)
            return command
        if revising:
            self.session.conversation.pop_exchange()  # an unfinished revision: the command on offer stays
        else:
            self._offered = _Offered(result, index, command)
            self.settle(NOT_EXECUTED)  # the first answer, kept as it came
        if problem is not None:
            raise NoCommand(f"{problem}; the command is unchanged" if revising else problem)
        return None

    def settle(self, outcome: CommandOutcome) -> None:
        """Keep `outcome` with the answer on offer and tell the observers about its turn, with the
        conversation as it was when that turn ended."""
        offered, self._offered = self._offered, None
        if offered is None:
            return
        messages = self.session.conversation.messages
        messages[offered.index] = with_outcome(messages[offered.index], outcome)
        conversation = Conversation(messages[: offered.index + 1], self.session.conversation.model)
        then = Session(self.session.backend, conversation, self.session.model)
        failure: ChatError | None = None
        for observer in self._observers:
            try:
                observer.turn_committed(then, offered.result)
            except ChatError as problem:
                failure = failure or problem
        if failure is not None:
            raise failure

    def decide(self, terminal: CommandTerminal) -> CommandOutcome:
        """Ask on `terminal` until the command runs (its outcome) or the user aborts (not executed); each
        outcome settled. KeyboardInterrupt (Ctrl-C at a question) aborts."""
        outcome = NOT_EXECUTED
        try:
            outcome = self._decide(terminal)
        except KeyboardInterrupt:
            terminal.out.write("\n")
        finally:
            self.settle(outcome)  # whatever ended the question (a shell that cannot start too)
        return outcome

    def _decide(self, terminal: CommandTerminal) -> CommandOutcome:
        ask = _Asking(terminal)
        ask.show(self._current())
        while True:
            key = ask.key()
            if key is Key.ABORT:
                return NOT_EXECUTED
            if key is Key.EXECUTE:
                status = run_in_foreground(self.context.shell, self._current(), terminal.fd, self._environ)
                return CommandOutcome(True, status)
            if key is Key.COPY:
                from chatcli.repl.terminal import osc52  # prompt_toolkit's import, only now

                ask.write(osc52(self._current()))
                ask.notice("sent the command to the terminal's clipboard (OSC 52)")
            elif key is Key.DESCRIBE:
                self._describe(ask)
            elif key is Key.REVISE:
                self._revise(ask)

    def _current(self) -> str:
        assert self._offered is not None
        return self._offered.command

    def _describe(self, ask: _Asking) -> None:
        try:
            described = self.session.summarize(DESCRIBE_PROMPT, self._answer_display())
        except ChatError as error:
            self._report(f"error: {error}")
            return
        ask.write("\n")
        if described.status is Status.INTERRUPTED:
            ask.notice("interrupted")
        elif described.failure is not None:
            self._report(f"error: {described.failure}")
        ask.show(self._current())

    def _revise(self, ask: _Asking) -> None:
        change = ask.line("change: ")
        if not change.strip():
            ask.notice("unchanged")
            return
        try:
            revised = self.propose(change.strip())
        except ChatError as error:
            self._report(f"error: {error}")
            revised = None
        if revised is None:
            ask.notice("the command is unchanged")
        ask.show(self._current())


def _problem_with(command: str) -> str | None:
    if not command.strip():
        return "the model sent no command"
    if len(command.encode("utf-8", "surrogatepass")) > MAX_COMMAND_BYTES:
        return f"the model's command is longer than {MAX_COMMAND_BYTES // 1024} KiB, too long to read before it runs"
    return None


class _Asking:
    """The questions on the terminal: the command shown, one key, a line typed."""

    def __init__(self, terminal: CommandTerminal) -> None:
        self._terminal = terminal

    def write(self, text: str) -> None:
        self._terminal.out.write(text)
        self._terminal.out.flush()

    def _styled(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self._terminal.styled else text

    def notice(self, text: str) -> None:
        self.write(self._styled(text, _DIM) + "\n")

    def show(self, command: str) -> None:
        """The command, whole: every line behind the gutter, every hidden character visible."""
        lines = command_lines(command)
        count = f" ({len(lines)} lines)" if len(lines) > 1 else ""
        self.notice(f"command{count}:")
        gutter = self._styled(GUTTER, _DIM)
        self.write("".join(gutter + self._styled(line[len(GUTTER) :], _BOLD) + "\n" for line in lines))

    def key(self) -> Key:
        """The next key that answers MENU (other keys ask again); Esc, Ctrl-D and a closed terminal abort."""
        while True:
            self.write(MENU)
            key = _read_key(self._terminal.fd)
            if key in _ABORT_KEYS:
                key = Key.ABORT
            if key in tuple(Key):
                self.write(_WORDS[Key(key)] + "\n")
                return Key(key)
            self.write("\n")

    def line(self, prompt: str) -> str:
        """A line typed after `prompt`, echoed (empty at the end of input)."""
        self.write(prompt)
        fd = self._terminal.fd
        with terminal_mode(fd, line=True):
            data = b""
            while not data.endswith(b"\n") and len(data) < MAX_CHANGE_BYTES:
                piece = os.read(fd, 4096)
                if not piece:
                    break
                data += piece
        return data.decode("utf-8", "replace").rstrip("\r\n")


def _read_key(fd: int) -> str:
    """One key, lower-cased, without echo; keys typed before the question never answer it. An escape sequence
    (an arrow key) is read whole and answers nothing; Ctrl-C raises KeyboardInterrupt."""
    with terminal_mode(fd, line=False):
        with contextlib.suppress(termios.error):
            termios.tcflush(fd, termios.TCIFLUSH)
        key = os.read(fd, 1)
        if key == b"\x1b" and select.select([fd], [], [], _ESCAPE_SEQUENCE_WAIT)[0]:
            os.read(fd, 64)
            return "?"
    return key.decode("ascii", "replace").lower()
