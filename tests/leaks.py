"""Checks for error-path tests: the test key and Python tracebacks appear in no output and no written file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import TEST_KEY

FORBIDDEN = (TEST_KEY.encode(), b"Traceback (most recent call last)", b"Exception ignored")


def assert_clean_output(*outputs: bytes) -> None:
    for output in outputs:
        for forbidden in FORBIDDEN:
            assert forbidden not in output, f"{forbidden!r} leaked into {output[-400:]!r}"


def assert_no_key_in_files(root: Path) -> None:
    """Every file under `root` (saved conversations, the library, input history, config) is free of the key."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert TEST_KEY.encode() not in path.read_bytes(), f"the key leaked into {path}"


def assert_clean(result: subprocess.CompletedProcess[bytes], root: Path) -> None:
    assert_clean_output(result.stdout, result.stderr)
    assert_no_key_in_files(root)


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """The run's stderr, asserted to be exactly one `chatcli: error: …` line; returned without the prefix."""
    text = result.stderr.decode()
    assert text.startswith("chatcli: error: ") and text.count("\n") == 1, text
    return text.removeprefix("chatcli: error: ").rstrip("\n")
