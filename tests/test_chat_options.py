"""The shared options work before and after a sub-command; those given after it win over those given before
it, `--plain` included."""

from __future__ import annotations

import json

import pytest

from chatcli.cli.options import ChatOptions
from tests.inprocess import invoke


def test_plain_after_the_sub_command_is_not_lost_to_an_unset_earlier_value() -> None:
    assert ChatOptions(markdown=False).filled_from(ChatOptions()).markdown is False
    assert ChatOptions(markdown=False).filled_from(ChatOptions(markdown=True)).markdown is False
    assert ChatOptions().filled_from(ChatOptions(markdown=False)).markdown is False


def test_flags_and_values_given_before_the_sub_command_fill_in() -> None:
    merged = ChatOptions(model="b").filled_from(ChatOptions(model="a", no_log=True, continue_=True))
    assert (merged.model, merged.no_log, merged.continue_) == ("b", True, True)


def test_request_options_and_template_params_given_after_replace_those_given_before() -> None:
    before = ChatOptions(request_options={"seed": 1}, template_params={"language": "Go"})
    assert ChatOptions(request_options={"top_p": 0.5}).filled_from(before).request_options == {"top_p": 0.5}
    assert ChatOptions().filled_from(before).template_params == {"language": "Go"}


def test_given_flags_are_named_by_their_long_flag() -> None:
    given = ChatOptions(continue_=True, markdown=False, request_options={"seed": 1}).given_flags()
    assert given == ["--continue", "--markdown", "--option"]


@pytest.mark.parametrize(
    ("args", "model"),
    [
        (("-m", "first", "ask", "-b", "echo"), "first"),
        (("ask", "-m", "second", "-b", "echo"), "second"),
        (("-m", "first", "-b", "echo", "ask", "-m", "second"), "second"),
        (("-m", "first", "-b", "openai", "ask", "-m", "second", "-b", "echo"), "second"),
    ],
)
def test_shared_options_work_before_and_after_the_sub_command_and_the_later_wins(
    args: tuple[str, ...], model: str
) -> None:
    result = (
        invoke(*args, "-b", "echo", "--json", "hi") if "-b" not in args else invoke(*args, "--json", "hi")
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == model
