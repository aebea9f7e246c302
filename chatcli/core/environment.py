"""The process's surroundings, gathered once by the command line and passed down: the standard streams and
whether each is a terminal, the environment variables, the terminal's size and the user directories.
Nothing below chatcli.cli reads sys.stdout, os.environ or isatty() itself."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, TextIO


@dataclass(frozen=True, slots=True)
class UserDirs:
    """Where chatcli keeps its files."""

    config: Path
    data: Path
    state: Path
    cache: Path

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"

    @property
    def library_file(self) -> Path:
        return self.data / "library.db"

    @property
    def input_history_file(self) -> Path:
        return self.data / "input_history"


@dataclass(frozen=True)
class Environment:
    stdin: BinaryIO | None  # None when the process started with stdin closed
    stdout: TextIO | None  # None when started with stdout closed
    stderr: TextIO
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    find_dirs: Callable[[], UserDirs]  # asked once, when first needed: --version and --help never need it
    environ: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def dirs(self) -> UserDirs:
        return self.find_dirs()

    @property
    def term(self) -> str:
        return self.environ.get("TERM", "")

    @property
    def dumb_terminal(self) -> bool:
        return self.term == "dumb"

    @property
    def no_color(self) -> bool:
        """NO_COLOR set to anything non-empty (no-color.org)."""
        return bool(self.environ.get("NO_COLOR"))

    @property
    def debug(self) -> bool:
        return bool(self.environ.get("CHATCLI_DEBUG"))

    @property
    def stdout_binary(self) -> BinaryIO:
        """stdout's bytes, for output that must be exactly the model's text."""
        assert self.stdout is not None
        return self.stdout.buffer

    def stdin_fd(self) -> int | None:
        try:
            return self.stdin.fileno() if self.stdin is not None else None
        except (OSError, ValueError):  # an in-memory stream in tests
            return None

    def terminal_size(self) -> os.terminal_size:
        """COLUMNS/LINES when set, else the size of the terminal on stdout, else 80x24."""
        columns, lines = self.environ.get("COLUMNS", ""), self.environ.get("LINES", "")
        if columns.isdigit() and lines.isdigit():
            return os.terminal_size((int(columns), int(lines)))
        return shutil.get_terminal_size()
