"""Ctrl-C and closed pipes in `chatcli ask` (reliability checklist, section E): SIGINT during connect, while
waiting for the first token, during a retry wait and mid-stream ends at once with exit 130 and the partial
answer flushed; `| head` ends quietly and closes the HTTP stream. (The REPL's rows are in test_repl_pty.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHATCLI, TEST_KEY
from tests.leaks import assert_clean_output
from tests.openai_server import OpenAIServer, Reply, chunk, json_reply, sse_event, sse_reply

pytestmark = pytest.mark.e2e  # signals and pipes to a process of its own

WAIT = (
    20.0  # generous: the machine may be loaded; a hang would take far longer (Retry-After 50 s, gates 60 s)
)
# A shell runs background jobs with SIGINT ignored, and Python then never raises KeyboardInterrupt: restore
# the default in a tiny exec wrapper (thread-safe, unlike preexec_fn).
WITH_SIGINT = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
# After a gate, enough writes that the server's socket reports the client's close (the first write after
# a close still succeeds; a later one fails).
TAIL = [sse_event(chunk(".")), 0.05] * 20


def start(*args: str) -> subprocess.Popen[bytes]:
    """`chatcli ask ARGS` with pipes, SIGINT at its default (so Python turns it into KeyboardInterrupt)."""
    return subprocess.Popen(
        [sys.executable, "-c", WITH_SIGINT, CHATCLI, "ask", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OPENAI_API_KEY": TEST_KEY},
    )


def read_until(stream: object, marker: bytes) -> bytes:
    """Read from a pipe until `marker` has arrived (the process's output is an event we can wait for)."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    seen = b""
    while marker not in seen:
        piece = os.read(fd, 4096)
        assert piece, f"pipe closed before {marker!r}; got {seen!r}"
        seen += piece
    return seen


def interrupt(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=WAIT)
    assert_clean_output(stdout, stderr)
    return stdout, stderr


@pytest.fixture
def gate(server: OpenAIServer) -> Iterator[threading.Event]:
    """A point in a reply where the server waits for the test; opened at the end so the server can finish."""
    event = threading.Event()
    yield event
    event.set()


def connecting_to(port: int) -> bool:
    """Whether some socket on this machine is in SYN_SENT towards 127.0.0.1:`port`."""
    target = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        return any(line.split()[2] == target and line.split()[3] == "02" for line in list(table)[1:])


def test_ctrl_c_during_connect_exits_130_at_once(blackhole: str) -> None:
    process = start("--base-url", blackhole, "hi")
    port = int(blackhole.rsplit(":", 1)[1].split("/")[0])
    deadline = time.monotonic() + WAIT
    while not connecting_to(port):  # wait for the event "chatcli is in connect()"
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    stdout, stderr = interrupt(process)
    assert process.returncode == 130
    assert (stdout, stderr) == (b"", b"chatcli: interrupted\n")


def test_ctrl_c_while_waiting_for_the_first_token_closes_the_request(
    server: OpenAIServer, gate: threading.Event
) -> None:
    server.enqueue(Reply(body=[gate, *TAIL]))
    process = start("--base-url", server.url, "hi")
    assert server.wait_for_requests(1, WAIT)
    stdout, stderr = interrupt(process)
    assert process.returncode == 130
    assert (stdout, stderr) == (b"", b"chatcli: interrupted\n")
    gate.set()
    assert server.wait_for_disconnect(WAIT)


def test_ctrl_c_during_a_rate_limit_wait_cancels_it(server: OpenAIServer) -> None:
    server.enqueue(json_reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "50"}))
    process = start("--base-url", server.url, "hi")
    waiting = read_until(process.stderr, b"\n")
    assert waiting == "chatcli: waiting 50s (rate limited)…\n".encode()
    stdout, stderr = interrupt(process)
    assert process.returncode == 130
    assert (stdout, stderr) == (b"", b"chatcli: interrupted\n")
    assert len(server.bodies) == 1


def test_ctrl_c_mid_stream_flushes_the_partial_answer_saves_it_and_closes_the_stream(
    server: OpenAIServer, gate: threading.Event, tmp_path: Path
) -> None:
    saved = tmp_path / "chat.json"
    server.enqueue(Reply(body=[sse_event(chunk("partial answer")), gate, *TAIL]))
    process = start("--base-url", server.url, "-o", str(saved), "hi")
    shown = read_until(process.stdout, b"partial answer")
    stdout, stderr = interrupt(process)
    assert process.returncode == 130
    assert shown + stdout == b"partial answer\n"
    assert stderr == b"chatcli: interrupted\n"
    gate.set()
    assert server.wait_for_disconnect(WAIT)
    assert json.loads(saved.read_text())["messages"][-1] == {
        "role": "assistant",
        "content": "partial answer",
        "status": "interrupted",
    }


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_termination_mid_stream_keeps_and_saves_the_partial_answer(
    server: OpenAIServer, gate: threading.Event, tmp_path: Path, signum: int
) -> None:
    saved = tmp_path / "chat.json"
    server.enqueue(Reply(body=[sse_event(chunk("partial answer")), gate, *TAIL]))
    process = start("--base-url", server.url, "-o", str(saved), "hi")
    shown = read_until(process.stdout, b"partial answer")
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=WAIT)
    assert_clean_output(stdout, stderr)
    assert process.returncode == 130
    assert shown + stdout == b"partial answer\n"
    gate.set()
    assert server.wait_for_disconnect(WAIT)
    assert json.loads(saved.read_text())["messages"][-1]["status"] == "interrupted"


def test_output_piped_into_head_ends_quietly_and_closes_the_http_stream(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("0123456789", *[f"more text {n} " for n in range(200)], delay=0.02))
    chatcli = start("--base-url", server.url, "count")
    head = subprocess.Popen(["head", "-c", "10"], stdin=chatcli.stdout, stdout=subprocess.PIPE)
    assert chatcli.stdout is not None
    chatcli.stdout.close()  # only head holds the pipe now
    shown, _ = head.communicate(timeout=WAIT)
    _, stderr = chatcli.communicate(timeout=WAIT)
    assert shown == b"0123456789"
    assert chatcli.returncode == 141
    assert stderr == b""
    assert server.wait_for_disconnect(WAIT)


# chatcli's main() with SIGINT sent to it as the Typer app's module starts loading (`python -c` code).
INTERRUPTED_WHILE_LOADING = """
import os, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "chatcli.cli.app":
            os.kill(os.getpid(), signal.SIGINT)
sys.meta_path.insert(0, Interrupt())
sys.argv = ["chatcli", "ask", "-b", "echo", "hi"]
from chatcli.cli import main
main()
"""


def test_ctrl_c_while_chatcli_loads_ends_it_quietly() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITH_SIGINT, sys.executable, "-c", INTERRUPTED_WHILE_LOADING],
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (-signal.SIGINT, b"", b"")


def test_a_sigint_ignored_by_the_parent_stays_ignored_while_chatcli_loads() -> None:
    ignoring = WITH_SIGINT.replace("SIG_DFL", "SIG_IGN")  # as a shell starts a background job
    done = subprocess.run(
        [sys.executable, "-c", ignoring, sys.executable, "-c", INTERRUPTED_WHILE_LOADING],
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, b"Echo: hi\n"), done.stderr
