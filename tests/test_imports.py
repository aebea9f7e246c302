"""Start-up stays light: the quick commands never import openai or prompt_toolkit (checked in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.e2e  # what a fresh interpreter loads

HEAVY = ("openai", "prompt_toolkit", "httpx2", "httpcore2", "mcp")

# Runs the CLI's main() under the given argv; at exit (after typer's SystemExit) reports the heavy packages loaded.
PROBE = f"""
import atexit, json, sys
def report():
    loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
    sys.stderr.write("HEAVY=" + json.dumps(loaded) + "\\n")
atexit.register(report)
sys.argv = ["chatcli", *sys.argv[1:]]
from chatcli.cli.app import main
main()
"""


def heavy_modules_loaded(
    *args: str, stdin: bytes = b""
) -> tuple[list[str], subprocess.CompletedProcess[bytes]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], input=stdin, capture_output=True, timeout=60, check=False
    )
    lines = [line for line in done.stderr.decode().splitlines() if line.startswith("HEAVY=")]
    assert len(lines) == 1, done.stderr.decode()
    return json.loads(lines[0].removeprefix("HEAVY=")), done


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("ask", "--help")])
def test_help_and_version_import_neither_openai_nor_prompt_toolkit(args: tuple[str, ...]) -> None:
    loaded, done = heavy_modules_loaded(*args)
    assert done.returncode == 0
    assert loaded == []


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
