"""Peak memory of one `chatcli` run: a small parent process runs it and reports the child's own peak RSS
(`getrusage(RUSAGE_CHILDREN)` of a parent that has no other children)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from tests.conftest import CHATCLI

_PARENT = """
import json, os, resource, subprocess, sys
out = open(os.environ["RSS_STDOUT"], "wb") if os.environ.get("RSS_STDOUT") else subprocess.DEVNULL
done = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=out)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"returncode": done.returncode, "peak_kib": peak}))
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    peak_mib: float
    stderr: bytes
    stdout: bytes = b""  # kept only when asked for


def measure_chatcli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, keep_stdout: bool = False
) -> Measured:
    """Run `chatcli ARGS` (stdin empty, stdout discarded unless `keep_stdout`); its exit status, peak RSS,
    stderr and stdout."""
    with tempfile.NamedTemporaryFile() as out:
        done = subprocess.run(
            [sys.executable, "-c", _PARENT, CHATCLI, *args],
            capture_output=True,
            check=True,
            env={**os.environ, **(env or {}), "RSS_STDOUT": out.name if keep_stdout else ""},
            timeout=timeout,
        )
        stdout = out.read()
    report = json.loads(done.stdout)
    return Measured(report["returncode"], report["peak_kib"] / 1024, done.stderr, stdout)
