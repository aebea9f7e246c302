"""How a command ends: one line on stderr for what went wrong, and the exit status for it."""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import IntEnum
from typing import NoReturn

import typer

from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError
from chatcli.render.sanitize import sanitize


class ExitStatus(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE, what `yes | head` reports


def report(env: Environment, message: str) -> None:
    """One line on stderr, control characters neutralised (messages can quote server text); nothing when
    stderr cannot be written (its terminal went away)."""
    try:
        env.stderr.write(f"chatcli: {sanitize(message)}\n")
        env.stderr.flush()
    except OSError:
        pass


def exit_with(env: Environment, action: Callable[[], int]) -> NoReturn:
    """Run a command's action and exit with its status; every failure becomes one line, never a traceback."""
    try:
        code = action()
    except ChatError as error:
        report(env, f"error: {error}")
        code = error.exit_code
    except KeyboardInterrupt:
        report(env, "interrupted")
        code = ExitStatus.INTERRUPTED
    except BrokenPipeError:
        silence_stdout(env)
        code = ExitStatus.BROKEN_PIPE
    except Exception as error:
        if env.debug:
            raise
        report(env, f"error: unexpected {type(error).__name__}; run with CHATCLI_DEBUG=1 for a traceback")
        code = ExitStatus.FAILURE
    raise typer.Exit(int(code))


def silence_stdout(env: Environment) -> None:
    """After the reader of our stdout went away, point stdout at /dev/null so the final flush
    at exit cannot raise again ("Exception ignored … BrokenPipeError")."""
    try:
        fd = env.stdout.fileno() if env.stdout is not None else None
    except (OSError, ValueError):
        return
    if fd is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
