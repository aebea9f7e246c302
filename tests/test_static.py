"""The code's own checks, so CI enforces them: `mypy --strict` on chatcli/ and `ruff check` on the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # the tools run as processes of their own

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_mypy_strict_finds_no_errors() -> None:
    result = run_tool("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_no_problems() -> None:
    result = run_tool("ruff", "check", "chatcli", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_unchanged() -> None:
    result = run_tool("ruff", "format", "--check", "chatcli", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr
