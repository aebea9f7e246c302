"""How a command ends: one line on stderr for what went wrong, and the exit status for it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

import typer

from chatcli.errors import ChatError
from chatcli.sanitize import sanitize

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `yes | head` reports


def report(message: str) -> None:
    """One line on stderr, control characters neutralised (messages can quote server text)."""
    sys.stderr.write(f"chatcli: {sanitize(message)}\n")
    sys.stderr.flush()


def exit_with(action: Callable[[], int]) -> NoReturn:
    """Run a command's action and exit with its status; every failure becomes one line, never a traceback."""
    try:
        code = action()
    except ChatError as error:
        report(f"error: {error}")
        code = error.exit_code
    except KeyboardInterrupt:
        report("interrupted")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        code = EXIT_BROKEN_PIPE
    except Exception as error:
        if os.environ.get("CHATCLI_DEBUG"):
            raise
        report(f"error: unexpected {type(error).__name__}; run with CHATCLI_DEBUG=1 for a traceback")
        code = 1
    raise typer.Exit(code)


def silence_stdout() -> None:
    """After the reader of our stdout went away, point stdout at /dev/null so the final flush
    at exit cannot raise again ("Exception ignored … BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
