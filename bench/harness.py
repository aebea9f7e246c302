"""Running benchmark subjects: child processes on a pipe or a pseudo-terminal with their own rusage, the SSE server.

Every measurement is of one child process: CPU is its user + system time from `os.wait4`, memory its peak RSS,
wall the time from spawn to reaping. A child's peak RSS starts from this process's size when it forks, so
benchmarks keep this process small (no heavy imports, no stored outputs) while they spawn. Children get a private
HOME and no OPENAI_*/ANTHROPIC_*/OLLAMA_*/CHATCLI_* variables, so the developer's configuration, keys and
conversation library are neither read nor written.
"""

from __future__ import annotations

import fcntl
import os
import queue
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
CHATCLI = shutil.which("chatcli", path=str(Path(PYTHON).parent)) or "chatcli"
TERMINAL_SIZE = (24, 80)  # rows, columns
# The wire formats bench/sse_server.py speaks, by chatcli backend name, and what each one's base URL ends with.
# Anthropic's root is given with its /v1 (a form the anthropic backend takes as well as the bare root), so the
# minimal clients append only /messages.
BASE_PATHS = {"openai": "/v1", "anthropic": "/v1", "responses": "/v1", "ollama": ""}
# The formats beside chat completions, and what tables call them.
NATIVE_WIRES = {
    "anthropic": "Anthropic Messages",
    "responses": "OpenAI Responses",
    "ollama": "Ollama /api/chat",
}


@dataclass(frozen=True, slots=True)
class Run:
    cpu: float  # seconds, user + system, of the child alone
    wall: float  # seconds from spawn to reaping
    rss_mib: float  # peak resident set size of the child
    output: bytes  # what the child wrote to stdout (on a terminal: everything the terminal received)
    returncode: int
    ended: float  # time.monotonic() when the child was reaped
    first_output: float | None  # time.monotonic() when its first output arrived (None: it wrote nothing)


def bench_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "OLLAMA_", "CHATCLI_"))
    }
    # Bytecode caches may be written, as an installed chatcli has them (pip compiles on install).
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TERM="xterm-256color",
        LANG="C.UTF-8",
    )
    return env


def private_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="chatcli-bench-"))


@contextmanager
def temporary_home() -> Iterator[Path]:
    """A private HOME for one benchmark, removed afterwards."""
    home = private_home()
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _reap(process: subprocess.Popen[bytes], started: float, output: tuple[bytes, float | None]) -> Run:
    _, status, usage = os.wait4(process.pid, 0)
    ended = time.monotonic()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        cpu=usage.ru_utime + usage.ru_stime,
        wall=ended - started,
        rss_mib=usage.ru_maxrss / 1024,
        output=output[0],
        returncode=process.returncode,
        ended=ended,
        first_output=output[1],
    )


def run_piped(argv: Sequence[str], env: dict[str, str], stdin: bytes = b"", timeout: float = 120) -> Run:
    """Run with stdin, stdout and stderr on pipes; stdout is read as fast as it comes."""
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env
        )
        assert process.stdin is not None and process.stdout is not None
        if stdin:
            process.stdin.write(stdin)
        process.stdin.close()
        output = _drain(process.stdout.fileno(), process, timeout)
        process.stdout.close()
        run = _reap(process, started, output)
        _check(argv, run, errors)
    return run


def run_on_terminal(argv: Sequence[str], env: dict[str, str], timeout: float = 120) -> Run:
    """Run on a fresh 80x24 pseudo-terminal (stdin and stdout); stderr goes to a file."""
    master, slave = os.openpty()
    rows, columns = TERMINAL_SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=errors, env=env, start_new_session=True
        )
        os.close(slave)
        try:
            output = _drain(master, process, timeout)
        finally:
            os.close(master)
        run = _reap(process, started, output)
        _check(argv, run, errors)
    return run


def _drain(fd: int, process: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, float | None]:
    """Everything read from `fd` until its writers are gone, and when its first byte came."""
    chunks: list[bytes] = []
    first: float | None = None
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            process.kill()
            raise TimeoutError(f"{process.args!r} ran longer than {timeout} s")
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        if first is None:
            first = time.monotonic()
        chunks.append(chunk)
    return b"".join(chunks), first


def _check(argv: Sequence[str], run: Run, errors: object) -> None:
    if run.returncode != 0:
        errors.seek(0)  # type: ignore[attr-defined]
        text = errors.read().decode(errors="replace")  # type: ignore[attr-defined]
        raise RuntimeError(f"{' '.join(argv)} exited {run.returncode}: {text[-2000:]}")


class SSEServer:
    """bench/sse_server.py in its own process; `next_stream()` tells when a stream's request arrived and
    when its last byte left."""

    def __init__(self, warm: Sequence[int] = ()) -> None:
        argv = [PYTHON, str(BENCH / "sse_server.py"), "--warm", *map(str, warm)]
        self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=BENCH)
        assert self._process.stdout is not None
        first = self._process.stdout.readline().split()
        if first[:1] != ["port"]:
            raise RuntimeError("the SSE server did not start")
        self.port = int(first[1])
        self._done: queue.Queue[tuple[float, float]] = queue.Queue()
        threading.Thread(target=self._read_reports, daemon=True).start()

    def _read_reports(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            parts = line.split()
            if parts[:1] == ["done"]:
                self._done.put((float(parts[2]), float(parts[3])))

    def url(self, tokens: int, rate: float = 0, first: float = 0, wire: str = "openai") -> str:
        """The base URL of an answer of `tokens` tokens at `rate` tokens/s (0: at once), its first token sent
        `first` seconds after the response began (a model's time to first token), in the convention of `wire`'s
        provider: the `/v1` URL for openai and responses, the root for ollama, the root with /v1 for anthropic."""
        delay = f"/f/{first:g}" if first else ""
        return f"http://127.0.0.1:{self.port}/t/{tokens}/r/{rate:g}{delay}{BASE_PATHS[wire]}"

    def next_stream(self, requested_after: float, timeout: float = 10) -> tuple[float, float]:
        """(request arrived, last byte) of the first stream whose request came after `requested_after`."""
        while True:
            arrived, last_byte = self._done.get(timeout=timeout)
            if arrived >= requested_after:
                return arrived, last_byte

    def forget_reports(self) -> None:
        while not self._done.empty():
            self._done.get_nowait()

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True, slots=True)
class Target:
    """One target of issue 6: what was measured, the result, the limit, and whether it was met."""

    what: str
    result: str
    limit: str
    met: bool | None  # None: informational

    @property
    def verdict(self) -> str:
        return "" if self.met is None else "met" if self.met else "MISSED"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    return markdown_table(
        ("target", "result", "limit", "verdict"), [(t.what, t.result, t.limit, t.verdict) for t in targets]
    )
