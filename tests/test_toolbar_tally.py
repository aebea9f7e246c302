"""The REPL toolbar's token counts: the last completed turn's, gone after /clear; the session's total and cost."""

from __future__ import annotations

from pathlib import Path

import pexpect
import pytest

from chatcli.core.stream import Usage
from chatcli.repl.tally import TokenTally
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import ScreenedChild, spawn_chatcli


def test_the_last_turn_replaces_the_counts_and_clear_removes_them_but_not_the_total() -> None:
    tally = TokenTally()
    assert tally.describe() == []
    tally.add_turn(Usage(10, 5), 0.001)
    tally.add_turn(None, None)  # a server that reported nothing: no stale counts
    assert tally.describe() == ["session 15 tokens $0.001"]
    tally.add_turn(Usage(20, 7), 0.002)
    assert tally.describe() == ["last 20+7 tokens", "session 42 tokens $0.003"]
    tally.new_conversation()
    assert tally.describe() == ["session 42 tokens $0.003"]


def test_without_a_price_the_total_has_no_cost() -> None:
    tally = TokenTally()
    tally.add_turn(Usage(1, 2), None)
    assert tally.describe() == ["last 1+2 tokens", "session 3 tokens"]


@pytest.mark.e2e
def test_the_toolbar_on_a_pty_shows_counts_and_cost_and_forgets_the_last_after_clear(
    server: OpenAIServer, isolated_home: Path
) -> None:
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[prices]\n"m" = { input = 1000.0, output = 2000.0 }\n')
    usage = {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52}
    server.enqueue(sse_reply("hello", usage=usage))
    child = spawn_chatcli("--base-url", server.url, "-m", "m", dimensions=(20, 120), encoding=None)
    wait_for_toolbar = ScreenedChild(child, 120, 20).wait_for_toolbar
    wait_for_toolbar("Alt-Enter newline")
    child.send("hi\r")
    toolbar = wait_for_toolbar("session")
    assert "last 12+40 tokens" in toolbar and "session 52 tokens $0.09" in toolbar
    child.send("/clear\r")
    toolbar = wait_for_toolbar("0 turns")
    assert "last" not in toolbar and "session 52 tokens $0.09" in toolbar
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
