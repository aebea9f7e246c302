"""How a command ends: one line on stderr for what went wrong, and the exit status for it."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from enum import IntEnum
from typing import Any, ParamSpec

import typer

from chatcli.cli.context import environment
from chatcli.cli.environment import OutputError
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError
from chatcli.render.sanitize import sanitize

Params = ParamSpec("Params")


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


def with_exit_status(command: Callable[Params, int | None]) -> Callable[Params, None]:
    """Make a Typer command's returned status its exit status, and every failure one line, never a traceback.

    The command takes `context: typer.Context` (the Environment is found through it); a group's callback returns None
    to let its sub-command run. `functools.wraps` keeps `__wrapped__`, through which Typer reads the command's
    parameters (inspect.signature)."""

    @functools.wraps(command)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> None:
        env = environment(_typer_context(kwargs))
        try:
            code = command(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as error:
            code = failure_status(env, error)
        if code is not None:
            raise typer.Exit(int(code))

    return run


def _typer_context(kwargs: dict[str, Any]) -> typer.Context:
    """The command's `context` argument (Typer passes every parameter by name)."""
    if "context" not in kwargs:
        raise TypeError("a command decorated with with_exit_status takes `context: typer.Context`")
    context: typer.Context = kwargs["context"]
    return context


def failure_status(env: Environment, error: BaseException) -> int:
    """Say in one line what `error` means to the user and return the exit status for it (CHATCLI_DEBUG=1
    re-raises the unexpected ones, for their traceback)."""
    if isinstance(error, ChatError):
        report(env, f"error: {error}")
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        report(env, "interrupted")
        return ExitStatus.INTERRUPTED
    if isinstance(error, BrokenPipeError):
        silence_stdout(env)
        return ExitStatus.BROKEN_PIPE
    if isinstance(error, OutputError):
        report(env, f"error: cannot write the output: {error.strerror}")
        silence_stdout(env)  # what is still buffered must not fail again at exit
        return ExitStatus.FAILURE
    if env.debug:
        raise error
    report(env, f"error: unexpected {type(error).__name__}; run with CHATCLI_DEBUG=1 for a traceback")
    return ExitStatus.FAILURE


def silence_stdout(env: Environment) -> None:
    """After the reader of our stdout went away (or stdout cannot be written), point stdout at /dev/null so
    the final flush at exit cannot raise again ("Exception ignored … BrokenPipeError")."""
    try:
        fd = env.stdout.fileno() if env.stdout is not None else None
    except (OSError, ValueError):
        return
    if fd is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
