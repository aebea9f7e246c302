"""Messages a new user reads: plurals, what `history rm` deleted, `history search` without a match, /copy."""

from __future__ import annotations

import json

from chatcli.render.wording import plural
from tests.inprocess import invoke
from tests.test_repl_commands import ScriptedBackend, make_runner, run


def test_plural_counts_one_and_many() -> None:
    assert [plural(n, "turn") for n in (0, 1, 2)] == ["0 turns", "1 turn", "2 turns"]
    assert plural(1, "match", "matches") == "1 match"
    assert plural(3, "match", "matches") == "3 matches"


def test_copy_says_one_line_and_that_osc52_cannot_be_confirmed() -> None:
    runner, screen = make_runner(ScriptedBackend("```\nprint(1)\n```"))
    runner.send("code?")
    run(runner, "/copy code")
    assert screen.notices[-1] == "sent code block 1 of 1, 1 line, to the terminal's clipboard (OSC 52)"


def test_help_mentions_tmux_set_clipboard() -> None:
    runner, screen = make_runner(ScriptedBackend())
    run(runner, "/help")
    assert any("set-clipboard on" in notice for notice in screen.notices)


def test_history_rm_says_what_it_deleted_with_plurals() -> None:
    assert invoke("ask", "-b", "echo", "to be deleted").returncode == 0
    [conversation] = json.loads(invoke("history", "list", "--json").stdout)
    removed = invoke("history", "rm", "--yes", str(conversation["id"])[:6])
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.decode() == f"deleted {conversation['id']}  1 turn  to be deleted\n"


def test_history_search_without_a_match_says_so_and_exits_1_when_piped() -> None:
    assert invoke("ask", "-b", "echo", "something").returncode == 0
    missing = invoke("history", "search", "quixotry")
    assert (missing.returncode, missing.stdout) == (1, b"")
    assert missing.stderr == b"chatcli: no message matches: quixotry\n"
    found = invoke("history", "search", "something")
    assert found.returncode == 0 and b"something" in found.stdout
