"""core/exit_signals.py in-process: the first SIGTERM or SIGHUP unwinds like Ctrl-C, later ones are ignored,
and the previous handlers come back."""

from __future__ import annotations

import os
import signal

import pytest

from chatcli.core.exit_signals import ExitSignals


def test_the_first_exit_signal_unwinds_and_a_second_is_ignored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with ExitSignals() as signals:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)  # on the way out already: nothing raised
        assert signals.received == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("stopped", ["ignore", "end_wait"])
def test_a_signal_that_must_not_raise_is_still_recorded(stopped: str) -> None:
    ended: list[bool] = []

    def handled() -> bool:
        ended.append(True)
        return True

    with ExitSignals(**{stopped: handled}) as signals:
        os.kill(os.getpid(), signal.SIGHUP)
    assert signals.received == signal.SIGHUP and ended == [True]
