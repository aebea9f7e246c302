"""Start-up stays light: the quick commands never import openai or prompt_toolkit, and the Markdown renderer is
imported while chatcli waits for the model or the user, never on a pipe (checked in a subprocess)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pexpect
import pytest

from chatcli.cli.lazy_commands import LAZY_COMMANDS
from tests.openai_server import OpenAIServer, sse_reply
from tests.probe import RUN_MAIN, exit_probe
from tests.terminal import TOOLBAR, expect, say, spawn_chatcli

pytestmark = pytest.mark.e2e  # what a fresh interpreter loads

HEAVY = ("openai", "anthropic", "prompt_toolkit", "httpx2", "httpcore2", "mcp")
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
    """Issue 13: one request path, never the openai SDK (its import costs more than the rest of `ask`; the SDK
    is the tests' oracle). Issue 24: that path is httpx's client (httpx2, over httpcore2), loaded only by the
    request. The probe sees httpx2 and httpcore2, so it would see openai too."""
    loaded, done = heavy_modules_loaded("ask", "--base-url", server.url, stdin=b"hi\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Hello from the test server.\n"
    assert loaded == ["httpcore2", "httpx2"]


@pytest.mark.e2e
def test_models_never_imports_openai(server: OpenAIServer) -> None:
    loaded, done = heavy_modules_loaded("models", "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"other-model\ntest-model\n"
    assert loaded == ["httpcore2", "httpx2"]


# Runs main() with wiring.new_renderer watched: as chatcli exits, reports for each renderer made whether the
# Markdown renderer's modules had been imported before it was asked for.
WATCH_RENDERER = exit_probe(
    '"PRELOADED=" + json.dumps(preloaded)',
    run="""
from chatcli.cli import wiring
preloaded = []
_new_renderer = wiring.new_renderer
def _watched(env, config):
    preloaded.append("chatcli.render.markdown_renderer" in sys.modules)
    return _new_renderer(env, config)
wiring.new_renderer = _watched
"""
    + RUN_MAIN,
)


def preloaded(child: pexpect.spawn) -> list[bool]:
    """What WATCH_RENDERER reported on the terminal (after whatever the terminal was sent before it)."""
    shown = expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, shown
    reports = re.findall(r"PRELOADED=(\[[a-z, ]*\])", shown)
    assert len(reports) == 1, shown
    return json.loads(reports[0])


def test_on_a_terminal_ask_imports_its_markdown_renderer_while_the_model_is_slow_to_start(
    server: OpenAIServer,
) -> None:
    server.enqueue(sse_reply("The *answer*", delay=1.0))
    child = spawn_chatcli(
        "ask", "--base-url", server.url, "hi", command=(sys.executable, "-c", WATCH_RENDERER)
    )
    assert preloaded(child) == [True]


def test_piped_ask_imports_no_markdown_renderer_ahead(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("The *answer*", delay=1.0))
    done = subprocess.run(
        [sys.executable, "-c", WATCH_RENDERER, "ask", "--base-url", server.url, "hi"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"The *answer*\n"
    assert json.loads(_reported("PRELOADED=", done)) == [False]


def test_the_repl_imports_its_markdown_renderer_while_the_user_types(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("The *answer*"))
    child = spawn_chatcli(
        "--base-url", server.url, "--no-log", command=(sys.executable, "-c", WATCH_RENDERER)
    )
    expect(child, TOOLBAR)
    time.sleep(1)  # the user types
    say(child, "hi", "answer")
    child.sendeof()
    assert preloaded(child) == [True]
