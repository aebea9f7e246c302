"""Running a chatcli command inside the test process: the Typer app with an Environment the test builds,
so option parsing, settings, exit codes and rendering are tested without paying for a new interpreter.

The result has the shape of a finished subprocess (`returncode`, `stdout` and `stderr` as bytes), so the
checks in tests/leaks.py apply to both tiers alike."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

from chatcli.cli.app import app
from chatcli.core.environment import Environment, UserDirs


def user_dirs(environ: Mapping[str, str]) -> UserDirs:
    """The directories platformdirs picks on Linux from the XDG variables (set per test by isolated_home)."""
    home = Path(environ["HOME"])

    def under(variable: str, default: str) -> Path:
        return Path(environ.get(variable) or home / default) / "chatcli"

    return UserDirs(
        under("XDG_CONFIG_HOME", ".config"),
        under("XDG_DATA_HOME", ".local/share"),
        under("XDG_STATE_HOME", ".local/state"),
        under("XDG_CACHE_HOME", ".cache"),
    )


def invoke(
    *args: str,
    input: bytes | None = b"",
    env: Mapping[str, str] | None = None,
    stdin_isatty: bool = False,
    stdout_isatty: bool = False,
    stderr_isatty: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """`chatcli ARGS` in this process, as `run_chatcli` runs it in a new one: the test's environment plus
    `env`, stdin holding `input` (None: stdin closed). The `*_isatty` flags make a stream count as a
    terminal, so the terminal paths (Markdown, colours, reasoning on stderr) run too."""
    environ = {**os.environ, **(env or {})}
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    environment = Environment(
        stdin=io.BytesIO(input) if input is not None else None,
        stdout=stdout,
        stderr=stderr,
        stdin_isatty=stdin_isatty,
        stdout_isatty=stdout_isatty,
        stderr_isatty=stderr_isatty,
        dirs=user_dirs(environ),
        environ=environ,
    )
    # Typer itself (--help, --version, usage errors, typer.confirm) uses sys.stdin, sys.stdout and
    # sys.stderr: CliRunner gives it `input` and captures the rest; chatcli uses the Environment's streams.
    # Libraries that read os.environ themselves (Rich, httpx) see `env` too, as in a subprocess.
    result = CliRunner().invoke(
        app, list(args), input=input, obj=environment, env=env, prog_name="chatcli", catch_exceptions=False
    )
    stdout.flush()
    assert isinstance(stdout.buffer, io.BytesIO)
    return subprocess.CompletedProcess(
        ["chatcli", *args],
        result.exit_code,
        result.stdout_bytes + stdout.buffer.getvalue(),
        result.stderr_bytes + stderr.getvalue().encode(),
    )
