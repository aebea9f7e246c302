"""Leaving the REPL says how to come back to the conversation: its library id."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_chatcli
from tests.test_repl_pty import TOOLBAR, exit_code, expect, say, spawn

pytestmark = pytest.mark.e2e


def test_leaving_prints_the_library_id_to_resume_with() -> None:
    child = spawn("-b", "echo")
    expect(child, TOOLBAR)
    say(child, "remember me", "Echo: remember me")
    child.sendcontrol("d")
    assert exit_code(child) == 0
    [conversation] = json.loads(run_chatcli("history", "list", "--json").stdout)
    shown = child.logfile_read.getvalue()
    assert f"resume with: chatcli -c (or chatcli --cid {conversation['id']})" in shown


def test_leaving_without_a_turn_says_nothing_about_resuming() -> None:
    child = spawn("-b", "echo")
    expect(child, TOOLBAR)
    child.sendcontrol("d")
    assert exit_code(child) == 0
    assert "resume with" not in child.logfile_read.getvalue()
