"""Running a command the user chose with `SHELL -c` in the foreground, as a shell runs a job: in a process group
of its own that holds the terminal (its Ctrl-C and Ctrl-Z go to it, not to chatcli), in the terminal's usual
mode; chatcli takes the terminal back when it ends and reports its exit status."""

from __future__ import annotations

import contextlib
import os
import signal
import termios
from collections.abc import Iterator, Mapping

from chatcli.core.errors import ChatError
from chatcli.core.terminal_mode import terminal_mode

# Dispositions the command must start with whatever chatcli did with them: an ignored signal stays ignored
# across exec (Python ignores SIGPIPE; chatcli ignores SIGTTOU while the command holds the terminal).
_DEFAULT_SIGNALS = (
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGPIPE,
    signal.SIGXFSZ,
    signal.SIGHUP,
    signal.SIGTERM,
)


def exit_status(wait_status: int) -> int:
    """A shell's view of how a process ended: its exit code, or 128+N when signal N ended it."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.waitstatus_to_exitcode(wait_status)


def run_in_foreground(shell: str, command: str, terminal: int | None, environ: Mapping[str, str]) -> int:
    """Run `command` with `shell -c`, holding the terminal on descriptor `terminal` (None: no terminal to
    hand over, as in tests), and return its exit status. A command that stops (Ctrl-Z, or reading the terminal
    before it got it) is continued in the foreground: chatcli keeps no jobs. ChatError when the shell cannot
    start."""
    if "\0" in command:
        raise ChatError("the command holds a NUL character, which no shell can run; nothing ran")
    try:
        pid = os.posix_spawnp(  # a SHELL that is a bare name is looked up in PATH
            shell,
            [shell, "-c", command],
            dict(environ),
            setpgroup=0,
            setsigdef=_DEFAULT_SIGNALS,
            setsigmask=(),
        )
    except OSError as error:
        raise ChatError(f"cannot run {shell}: {error.strerror or error}; nothing ran") from None
    with _terminal_lent(terminal, pid):
        return _wait(pid, terminal)


def _wait(pid: int, terminal: int | None) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, os.WUNTRACED)
        except KeyboardInterrupt:  # a signal meant for chatcli (SIGTERM, SIGHUP): it ends the command too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            continue
        except ChildProcessError:  # reaped elsewhere: its status is lost
            return 1
        if not os.WIFSTOPPED(status):
            return exit_status(status)
        _give_terminal(terminal, pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)


@contextlib.contextmanager
def _terminal_lent(terminal: int | None, group: int) -> Iterator[None]:
    """While inside, process group `group` holds the terminal, in its usual (line, echo) mode; afterwards
    chatcli's group holds it again, in the mode it had (whatever mode the command left it in)."""
    if terminal is None:
        yield
        return
    # A process outside the terminal's foreground group that changes the foreground gets SIGTTOU, which would
    # stop chatcli as it takes the terminal back.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with terminal_mode(terminal, line=True):
            _give_terminal(terminal, group)
            try:
                yield
            finally:
                _give_terminal(terminal, os.getpgrp())
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _give_terminal(terminal: int | None, group: int) -> None:
    if terminal is not None:
        with contextlib.suppress(OSError, termios.error):  # not our controlling terminal: nothing to hand
            os.tcsetpgrp(terminal, group)
