"""The key command (`api_key_cmd`, and the MCP servers' `*_cmd` secrets): run without a shell, its first line of
output is the secret, which is never shown."""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from chatcli.cli.settings import Config
from chatcli.core.errors import BackendError, UsageError

KEY_COMMAND_TIMEOUT = 30.0
KEY_OUTPUT_LIMIT = 64 * 1024  # a key command's output past this is not read


def resolve_api_key(
    config: Config, waiting: Callable[[str], AbstractContextManager[object]] = lambda label: nullcontext()
) -> str | None:
    """The API key: the configured one, else the first line `api_key_cmd` prints (`waiting` shows that it runs: a
    password manager may wait for a touch or a passphrase), else None."""
    if config.api_key or not config.api_key_cmd:
        return config.api_key
    with waiting("running api_key_cmd"):
        return run_key_command(config.api_key_cmd)


def run_key_command(command: str, timeout: float = KEY_COMMAND_TIMEOUT, what: str = "api_key_cmd") -> str:
    """Run `command` (the setting `what`) without a shell; its stdout's first line is the key. Its output is
    never shown."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise UsageError(f"{what} cannot be split into words ({error}); check its quotes") from None
    if not argv:
        raise UsageError(f"{what} is empty; set it to a command that prints the key")
    try:
        returncode, output = _run_for_output(argv, timeout)
    except subprocess.TimeoutExpired:
        raise BackendError(
            f"{what} did not finish within {timeout:g} s; run it yourself to check it"
        ) from None
    except OSError as error:
        raise BackendError(
            f"{what} could not start {argv[0]!r} ({error.strerror}); check the command"
        ) from None
    if returncode != 0:
        raise BackendError(f"{what} failed (exit status {returncode}); run it yourself to see why")
    lines = output.decode("utf-8", "replace").strip().splitlines()
    if not lines or not lines[0].strip():
        raise BackendError(f"{what} printed no key; it must print the key on its first line")
    return lines[0].strip()


def _run_for_output(argv: list[str], timeout: float) -> tuple[int, bytes]:
    """Run `argv` (stdin closed, stderr discarded) until it exits; its exit status and what it printed by then.

    The output is taken when the command exits, not at the end of its stdout: a background process it
    started (a credential agent) may hold stdout open for ever."""
    deadline = time.monotonic() + timeout
    output = bytearray()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    with process.stdout, selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        stdout_open = True
        try:
            while process.poll() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise subprocess.TimeoutExpired(argv, timeout)
                if not stdout_open:
                    process.wait(remaining)
                elif selector.select(min(remaining, 0.1)):
                    stdout_open = _read_some(fd, output)
        except BaseException:
            process.kill()
            process.wait()
            raise
        while len(output) < KEY_OUTPUT_LIMIT and _read_some(fd, output):  # written just before it exited
            pass
    return process.returncode, bytes(output)


def _read_some(fd: int, output: bytearray) -> bool:
    """Append what `fd` holds now to `output`, up to KEY_OUTPUT_LIMIT (the rest is read and dropped, so the
    command never blocks on a full pipe); False at its end or when it holds nothing now."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return False
    output += chunk[: KEY_OUTPUT_LIMIT - len(output)]
    return bool(chunk)
