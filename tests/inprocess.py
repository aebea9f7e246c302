"""Running a chatcli command inside the test process: the Typer app with an Environment the test builds,
so option parsing, settings, exit codes and rendering are tested without paying for a new interpreter.

The result has the shape of a finished subprocess (`returncode`, `stdout` and `stderr` as bytes), so the
checks in tests/leaks.py apply to both tiers alike."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Mapping
from unittest import mock

from typer.testing import CliRunner

from chatcli.cli.app import app
from chatcli.core.environment import Environment
from chatcli.storage.paths import platform_dirs


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
    with mock.patch.dict(os.environ, env or {}):
        dirs = platform_dirs()  # under HOME and the XDG directories that isolated_home set for this test
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    environment = Environment(
        stdin=io.BytesIO(input) if input is not None else None,
        stdout=stdout,
        stderr=stderr,
        stdin_isatty=stdin_isatty,
        stdout_isatty=stdout_isatty,
        stderr_isatty=stderr_isatty,
        find_dirs=lambda: dirs,
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
