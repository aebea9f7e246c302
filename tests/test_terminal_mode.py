"""core/terminal_mode.py: the terminal's input mode for a while, on a real pseudo-terminal."""

from __future__ import annotations

import os
import termios
from collections.abc import Iterator

import pytest

from chatcli.core.terminal_mode import terminal_mode


@pytest.fixture
def terminal() -> Iterator[int]:
    leader, follower = os.openpty()
    yield follower
    os.close(leader)
    os.close(follower)


def local_flags(fd: int) -> int:
    return int(termios.tcgetattr(fd)[3])


def test_single_keys_without_echo_keep_ctrl_c_and_the_old_mode_comes_back(terminal: int) -> None:
    before = termios.tcgetattr(terminal)
    with terminal_mode(terminal, line=False, keep_output=True):
        flags = local_flags(terminal)
        assert not flags & (termios.ICANON | termios.ECHO)
        assert flags & termios.ISIG and flags & termios.NOFLSH
    assert termios.tcgetattr(terminal) == before


def test_an_echoed_line_keeps_the_kernel_flushing_on_ctrl_c(terminal: int) -> None:
    with terminal_mode(terminal, line=True):
        flags = local_flags(terminal)
        assert flags & termios.ICANON and flags & termios.ECHO and flags & termios.ISIG
        assert not flags & termios.NOFLSH


def test_a_descriptor_that_is_no_terminal_is_left_alone() -> None:
    reader, writer = os.pipe()
    entered = False
    try:
        with terminal_mode(reader, line=False):  # no termios.error: the body runs as it would on a terminal
            entered = True
        assert entered
    finally:
        os.close(reader)
        os.close(writer)
