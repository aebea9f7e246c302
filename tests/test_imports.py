"""Start-up stays light: the quick commands never import openai or prompt_toolkit (checked in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatcli.cli.lazy_commands import LAZY_COMMANDS
from tests.openai_server import OpenAIServer
from tests.probe import exit_probe

pytestmark = pytest.mark.e2e  # what a fresh interpreter loads

HEAVY = ("openai", "prompt_toolkit", "httpx2", "httpcore2", "mcp")
# Modules --help and --version do without: the sub-commands' (their help is listed from LAZY_COMMANDS),
# `ask`'s, and platformdirs (asked for the user directories only when a command uses them).
DEFERRED = (*(command.module for command in LAZY_COMMANDS.values()), "chatcli.cli.ask", "platformdirs")

# Runs the CLI's main() under the given argv; as it exits, reports the heavy packages loaded, and which of DEFERRED.
PROBE = exit_probe(
    f'"HEAVY=" + json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r})))'
    f' + "\\nDEFERRED=" + json.dumps(sorted(set(sys.modules) & set({DEFERRED!r})))'
)


def heavy_modules_loaded(
    *args: str, stdin: bytes = b""
) -> tuple[list[str], subprocess.CompletedProcess[bytes]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], input=stdin, capture_output=True, timeout=60, check=False
    )
    return json.loads(_reported("HEAVY=", done)), done


def _reported(prefix: str, done: subprocess.CompletedProcess[bytes]) -> str:
    lines = [line for line in done.stderr.decode().splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, done.stderr.decode()
    return lines[0].removeprefix(prefix)


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("ask", "--help")])
def test_help_and_version_import_neither_openai_nor_prompt_toolkit(args: tuple[str, ...]) -> None:
    loaded, done = heavy_modules_loaded(*args)
    assert done.returncode == 0
    assert loaded == []


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_load_no_sub_command_module_nor_the_user_directories(args: tuple[str, ...]) -> None:
    _, done = heavy_modules_loaded(*args)
    assert done.returncode == 0
    assert json.loads(_reported("DEFERRED=", done)) == []
    if args == ("--help",):  # every sub-command is listed with its help, all the same
        for name, command in LAZY_COMMANDS.items():
            assert name in done.stdout.decode() and command.help.split()[1] in done.stdout.decode()


def test_a_lazy_sub_command_loads_when_it_runs() -> None:
    _, done = heavy_modules_loaded("config", "path")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip().endswith("config.toml")
    assert json.loads(_reported("DEFERRED=", done)) == ["chatcli.cli.config", "platformdirs"]


def test_piped_ask_on_echo_imports_neither_openai_nor_prompt_toolkit() -> None:
    loaded, done = heavy_modules_loaded("ask", "-b", "echo", stdin=b"hi\n")
    assert done.returncode == 0
    assert done.stdout == b"Echo: hi\n"
    assert loaded == []


@pytest.mark.e2e
def test_piped_ask_against_a_server_loads_the_http_client_but_never_openai(server: OpenAIServer) -> None:
    """Issue 13: one request path on httpcore (neither httpx nor the openai SDK, whose imports cost more than
    the rest of `ask`; the SDK is the tests' oracle). The probe sees httpcore2, so it would see openai too."""
    loaded, done = heavy_modules_loaded("ask", "--base-url", server.url, stdin=b"hi\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Hello from the test server.\n"
    assert loaded == ["httpcore2"]


@pytest.mark.e2e
def test_models_never_imports_openai(server: OpenAIServer) -> None:
    loaded, done = heavy_modules_loaded("models", "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"other-model\ntest-model\n"
    assert loaded == ["httpcore2"]
