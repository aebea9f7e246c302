"""The shared options given after a sub-command win over those given before it, `--plain` included."""

from __future__ import annotations

from chatcli.cli.options import ChatOptions


def test_plain_after_the_sub_command_is_not_lost_to_an_unset_earlier_value() -> None:
    assert ChatOptions(markdown=False).over(ChatOptions()).markdown is False
    assert ChatOptions(markdown=False).over(ChatOptions(markdown=True)).markdown is False
    assert ChatOptions().over(ChatOptions(markdown=False)).markdown is False


def test_flags_and_values_given_before_the_sub_command_fill_in() -> None:
    merged = ChatOptions(model="b").over(ChatOptions(model="a", no_log=True, continue_=True))
    assert (merged.model, merged.no_log, merged.continue_) == ("b", True, True)
