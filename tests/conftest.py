"""Shared fixtures: an isolated home for every test, the local OpenAI-compatible server, the installed command."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openai_server import OpenAIServer

TEST_KEY = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"

# Tests started as a background job (`pytest &`, some CI runners) inherit SIGINT ignored, and an ignored
# signal stays ignored in every child: chatcli would never see the Ctrl-C the tests send. A handled signal
# is reset to its default in children, so handle it here.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
CHATCLI = shutil.which("chatcli", path=str(Path(sys.executable).parent)) or "chatcli"


class _Tier:
    """Whether the running test is marked e2e: only those may start the installed chatcli."""

    e2e = True


TIER = _Tier()


@pytest.fixture(autouse=True)
def tier(request: pytest.FixtureRequest) -> Iterator[None]:
    TIER.e2e = request.node.get_closest_marker("e2e") is not None
    yield
    TIER.e2e = True


def require_e2e() -> None:
    """Stop a test outside the e2e tier that starts the installed chatcli: the fast tier runs in-process."""
    assert TIER.e2e, (
        "this test starts the installed chatcli: mark it e2e, or run it with tests.inprocess.invoke"
    )


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, config and data directories under tmp_path; no provider keys or CHATCLI_* from the developer's shell."""
    home = tmp_path / "home"
    home.mkdir()
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "ANTHROPIC_", "CHATCLI_", "OLLAMA_")) or name in (
            "NO_COLOR",
            "FORCE_COLOR",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    return home


def write_config(home: Path, text: str) -> Path:
    """Write the user's config file (under the isolated `home`) and return its path."""
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    fake = OpenAIServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A base URL whose TCP connect never completes: a listener with a full backlog that never accepts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    filler.close()
    listener.close()


def run_chatcli(
    *args: str, input: bytes | None = b"", env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed `chatcli` with the test's environment plus `env`; stdin is a pipe holding `input`."""
    require_e2e()
    return subprocess.run(
        [CHATCLI, *args],
        input=input,
        capture_output=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
