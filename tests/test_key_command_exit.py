"""`api_key_cmd` whose background child keeps stdout open: the key is taken when the command exits."""

from __future__ import annotations

import json
import shlex
import sys
import time

import pytest

from chatcli.cli.key_command import KEY_OUTPUT_LIMIT, run_key_command
from chatcli.core.errors import BackendError

# Prints the key, then leaves a child that holds stdout open for a minute, and exits at once.
_LEAVES_A_CHILD = (
    "import subprocess, sys; print('sk-from-cmd', flush=True); "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
)


def command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_the_key_is_taken_when_the_command_exits_not_when_its_stdout_closes() -> None:
    started = time.monotonic()
    assert run_key_command(command(_LEAVES_A_CHILD), timeout=20) == "sk-from-cmd"
    assert time.monotonic() - started < 20  # not the timeout: it returned when the command exited


def test_a_failing_command_with_a_lingering_child_is_still_its_exit_status() -> None:
    code = _LEAVES_A_CHILD + "; sys.exit(3)"
    with pytest.raises(BackendError, match=r"exit status 3"):
        run_key_command(command(code), timeout=20)


def test_output_beyond_the_limit_is_not_read_but_the_first_line_is_the_key() -> None:
    code = f"import sys; sys.stdout.write('sk-big\\n' + 'x' * {KEY_OUTPUT_LIMIT * 4})"
    assert run_key_command(command(code), timeout=20) == "sk-big"


def test_output_written_just_before_exit_is_read() -> None:
    code = "import sys; sys.stdout.write(" + json.dumps("sk-last\n" * 1000) + ")"
    assert run_key_command(command(code), timeout=20) == "sk-last"
