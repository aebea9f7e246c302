"""The Environment of this process, built once in `main` (tests build their own)."""

from __future__ import annotations

import os
import sys

from chatcli.core.environment import Environment
from chatcli.storage.paths import platform_dirs


def _isatty(stream: object) -> bool:
    try:
        return stream is not None and os.isatty(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # closed, or an in-memory stream
        return False


def process_environment() -> Environment:
    """The real streams (decided with os.isatty, never FORCE_COLOR), os.environ and the platform's directories
    (platformdirs, imported when first asked for)."""
    stdin = sys.stdin.buffer if sys.stdin is not None and not sys.stdin.closed else None
    return Environment(
        stdin=stdin,
        stdout=sys.stdout,
        stderr=sys.stderr,
        stdin_isatty=_isatty(sys.stdin),
        stdout_isatty=_isatty(sys.stdout),
        stderr_isatty=_isatty(sys.stderr),
        find_dirs=platform_dirs,
        environ=os.environ,
    )
