"""Compaction the user controls (issue 23, item 5): /compact in-process, `chatcli history compact` in-process,
the compact_at offer and /compact on a pseudo-terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pexpect
import pytest

from chatcli.core.compaction import DEFAULT_COMPACT_PROMPT, SUMMARY_HEADING
from chatcli.core.conversation import Conversation, Message
from chatcli.core.errors import BackendError
from chatcli.storage.library import Library
from tests.conftest import write_config
from tests.fakes import ScriptedBackend
from tests.inprocess import invoke
from tests.library_chat import LibraryChat
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli

SUMMARY = "We greeted each other; the user likes tea."


class Chat(LibraryChat):
    """A chat of a system prompt and model m1 with `backend`, /compact asking for "Summarise." and its
    yes/no question answered `yes`."""

    def __init__(self, path: Path, backend: ScriptedBackend, *, yes: bool, records: bool = True) -> None:
        conversation = Conversation([Message("system", "terse")], "m1")
        super().__init__(path, backend, conversation, yes=yes, records=records, compact_prompt="Summarise.")
        self.backend = backend


def test_slash_compact_goes_on_from_the_summary_in_a_new_conversation_and_keeps_the_original(
    tmp_path: Path,
) -> None:
    path = tmp_path / "library.db"
    chat = Chat(path, ScriptedBackend("hello", "tea it is", SUMMARY, "fine"), yes=True)
    chat.line("/compact")
    assert chat.warnings == ["nothing to compact yet; send a message first"] and not chat.backend.requests
    chat.line("hi")
    chat.line("I like tea")
    original = chat.recorder.conversation_id
    chat.line("/compact keep it short")
    summary_request = chat.backend.requests[-1]
    assert [m.text for m in summary_request.messages] == [
        "terse",
        "hi",
        "hello",
        "I like tea",
        "tea it is",
        "Summarise.\n\nkeep it short",
    ]
    assert not summary_request.tools
    assert chat.shown == [Message("assistant", SUMMARY)]
    assert chat.questions == ["continue in a new conversation from this summary? [y/N] "]
    compacted = chat.recorder.conversation_id
    assert compacted != original
    assert chat.notices[-1] == f"compacted {original} into {compacted}; this chat goes on in {compacted}"
    assert chat.session.conversation.messages == [
        Message("system", "terse"),
        Message("user", f"{SUMMARY_HEADING}\n\n{SUMMARY}"),
    ]
    chat.line("and now?")
    assert [m.text for m in chat.backend.requests[-1].messages][:2] == [
        "terse",
        f"{SUMMARY_HEADING}\n\n{SUMMARY}",
    ]
    with Library(path) as library:
        assert [m.text for m in library.load(str(original)).messages] == [
            "terse",
            "hi",
            "hello",
            "I like tea",
            "tea it is",
        ]
        assert [m.text for m in library.load(str(compacted)).messages] == [
            "terse",
            f"{SUMMARY_HEADING}\n\n{SUMMARY}",
            "and now?",
            "fine",
        ]
        summary = library.summary(str(compacted))
        assert (summary.origin_id, summary.origin_messages, summary.origin_kind) == (original, 4, "compacted")
        assert summary.origin_line() == f"compacted from {original} at message 4"
        assert [hit.conversation_id for hit in library.search("tea", 10)].count(str(original)) >= 1


def test_slash_compact_without_a_yes_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    chat = Chat(path, ScriptedBackend("hello", SUMMARY), yes=False)
    chat.line("hi")
    before = list(chat.session.conversation.messages)
    original = chat.recorder.conversation_id
    chat.line("/compact")
    assert chat.questions and chat.notices[-1] == "not compacted; the conversation goes on as it was"
    assert chat.session.conversation.messages == before and chat.recorder.conversation_id == original
    with Library(path) as library:
        assert len(library.summaries(10)) == 1


def test_slash_compact_that_fails_or_is_cut_short_asks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    chat = Chat(
        path,
        ScriptedBackend("hello", BackendError("server down"), ["half", KeyboardInterrupt()], "  "),
        yes=True,
    )
    chat.line("hi")
    before = list(chat.session.conversation.messages)
    chat.line("/compact")
    assert chat.warnings[-1] == "server down"
    chat.line("/compact")
    assert chat.notices[-1] == "interrupted; nothing compacted"
    chat.line("/compact")
    assert chat.warnings[-1] == "the summary is empty; nothing compacted"
    assert chat.questions == [] and chat.session.conversation.messages == before


def test_slash_compact_without_the_library_still_goes_on_from_the_summary(tmp_path: Path) -> None:
    chat = Chat(tmp_path / "library.db", ScriptedBackend("hello", SUMMARY), yes=True, records=False)
    chat.line("hi")
    chat.line("/compact")
    assert chat.notices[-1] == "compacted; this chat goes on from the summary"
    assert chat.session.conversation.messages[-1].text.endswith(SUMMARY)
    assert not (tmp_path / "library.db").exists()


def test_the_built_in_prompt_is_the_default_setting() -> None:
    from chatcli.cli.settings import Config

    assert Config().compact_prompt == DEFAULT_COMPACT_PROMPT and Config().compact_at is None


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_compact_at_is_a_fraction(tmp_path: Path, value: str) -> None:
    from chatcli.cli.settings_resolution import resolve_config
    from chatcli.core.errors import UsageError

    path = tmp_path / "config.toml"
    path.write_text(f"compact_at = {value}\n")
    with pytest.raises(UsageError, match=r"compact_at .* is out of range"):
        resolve_config({}, {}, path)
    path.write_text("compact_at = 0.8\n")
    assert resolve_config({}, {}, path).config.compact_at == 0.8


# -- chatcli history compact, in-process --------------------------------------------------------------------


def test_history_compact_takes_ask_s_server_options_and_prints_the_new_id(
    server: OpenAIServer, isolated_home: Path
) -> None:
    server.enqueue(sse_reply("hello"), sse_reply(SUMMARY))
    url = ["--base-url", server.url]
    assert invoke("ask", *url, "-m", "m1", "hi").returncode == 0
    [original] = json.loads(invoke("history", "list", "--json").stdout)
    refused = invoke("history", "compact", original["id"], *url)
    assert refused.returncode == 2 and b"no terminal to ask on; add --yes" in refused.stderr
    assert len(server.bodies) == 1  # refused before any request
    result = invoke(
        "history",
        "compact",
        original["id"][:6],
        *url,
        "-m",
        "m2",
        "-O",
        "seed",
        "7",
        "--yes",
        "keep",
        "names",
    )
    assert result.returncode == 0, result.stderr
    new_id = result.stdout.decode().strip()
    body = server.bodies[-1]
    assert (body["model"], body["seed"]) == ("m2", 7)
    assert [m["content"] for m in body["messages"]] == [
        "hi",
        "hello",
        f"{DEFAULT_COMPACT_PROMPT}\n\nkeep names",
    ]
    shown = json.loads(invoke("history", "show", new_id, "--json").stdout)
    assert [m["content"] for m in shown["messages"]] == [f"{SUMMARY_HEADING}\n\n{SUMMARY}"]
    with Library(isolated_home / ".local" / "share" / "chatcli" / "library.db") as library:
        summary = library.summary(new_id)
        assert (summary.origin_id, summary.origin_messages, summary.origin_kind) == (
            original["id"],
            2,
            "compacted",
        )
        assert [m.text for m in library.load(original["id"]).messages] == ["hi", "hello"]


def test_history_compact_that_fails_makes_no_conversation(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("hello"), sse_reply(finish_reason="length"))
    assert invoke("ask", "--base-url", server.url, "hi").returncode == 0
    [original] = json.loads(invoke("history", "list", "--json").stdout)
    result = invoke("history", "compact", original["id"], "--base-url", server.url, "--yes")
    assert result.returncode == 1
    assert b"the summary was cut off at the token limit" in result.stderr and not result.stdout
    assert len(json.loads(invoke("history", "list", "--json").stdout)) == 1


# -- the REPL on a pseudo-terminal --------------------------------------------------------------------------


@pytest.mark.e2e
def test_repl_compact_shows_the_summary_asks_and_goes_on_in_a_new_conversation() -> None:
    child = spawn_chatcli("-b", "echo")
    expect(child, TOOLBAR)
    say(child, "remember milk", "Echo: remember milk")
    child.send("/compact keep it short\r")
    expect(child, "keep it short")  # the echo backend's summary repeats the request
    expect(child, "continue in a new conversation from this summary? [y/N] ")
    child.send("n")
    expect(child, "not compacted; the conversation goes on as it was")
    expect(child, TOOLBAR)
    child.send("/compact\r")
    expect(child, "[y/N] ")
    child.send("y")
    expect(child, "this chat goes on in ")
    expect(child, TOOLBAR)
    say(child, "and eggs", "Echo: and eggs")
    child.sendcontrol("d")
    assert exit_code(child) == 0
    [new, original] = json.loads(invoke("history", "list", "--json").stdout)
    shown = json.loads(invoke("history", "show", new["id"], "--json").stdout)["messages"]
    assert shown[0]["content"].startswith(f"{SUMMARY_HEADING}\n\nEcho: {DEFAULT_COMPACT_PROMPT}")
    assert [m["content"] for m in shown[1:]] == ["and eggs", "Echo: and eggs"]
    assert (
        f"compacted from {original['id']} at message 2"
        in invoke("history", "show", new["id"], stdout_isatty=True).stdout.decode()
    )


@pytest.mark.e2e
def test_compact_at_offers_compaction_once_and_only_a_yes_compacts(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, "compact_at = 0.8\n")
    server.props = {"default_generation_settings": {"n_ctx": 32768}}
    near = {"prompt_tokens": 27000, "completion_tokens": 100, "total_tokens": 27100}
    far = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    server.enqueue(
        sse_reply("one", usage=near),
        sse_reply("two", usage=near),
        sse_reply(SUMMARY),
        sse_reply("three", usage=far),
    )
    child = spawn_chatcli("--base-url", server.url, "-m", "test-model")
    expect(child, TOOLBAR)
    child.send("hi\r")
    expect(child, "the conversation uses 83% of the model's context; compact it now? [y/N] ")
    child.send("n")
    expect(child, TOOLBAR)
    child.send("more\r")
    expect(child, "two")
    expect(child, TOOLBAR)  # asked once per conversation: no question this time
    child.send("/compact\r")
    expect(child, "[y/N] ")
    child.send("y")
    expect(child, "this chat goes on in ")
    expect(child, TOOLBAR)
    say(child, "again", "three")
    child.sendcontrol("d")
    assert exit_code(child) == 0
    sent = [[m["content"] for m in body["messages"]] for body in server.bodies]
    assert sent[-1] == [f"{SUMMARY_HEADING}\n\n{SUMMARY}", "again"]


def test_a_conversation_loaded_from_a_file_is_compacted_from_the_library_conversation_it_was_saved_from(
    tmp_path: Path,
) -> None:
    path = tmp_path / "library.db"
    saved = Conversation([Message("user", "hi"), Message("assistant", "hello")], "m1")
    with Library(path) as library:
        original = library.add_conversation(saved)
    chat = Chat(path, ScriptedBackend(SUMMARY), yes=True)
    chat.session.replace_conversation(Conversation(list(saved.messages), "m1"))
    chat.recorder.attach_copy(chat.session.conversation)
    chat.line("/compact")
    with Library(path) as library:
        summary = library.summary(str(chat.recorder.conversation_id))
        assert (summary.origin_id, summary.origin_messages, summary.origin_kind) == (original, 2, "compacted")


@pytest.mark.e2e
def test_history_compact_on_a_terminal_shows_the_summary_and_asks() -> None:
    assert invoke("ask", "-b", "echo", "remember milk").returncode == 0
    [original] = json.loads(invoke("history", "list", "--json").stdout)
    declined = spawn_chatcli("history", "compact", original["id"], "-b", "echo", "keep", "it")
    expect(declined, "keep it")  # the echo backend's summary, shown
    expect(declined, "[y/N] ")
    declined.send("n")
    expect(declined, "not compacted; the conversation stays as it was")
    assert exit_code(declined) == 0
    assert len(json.loads(invoke("history", "list", "--json").stdout)) == 1
    accepted = spawn_chatcli("history", "compact", original["id"], "-b", "echo")
    expect(accepted, "[y/N] ")
    accepted.send("y")
    printed = expect(accepted, pexpect.EOF)
    accepted.close()
    assert accepted.exitstatus == 0
    [new, _] = json.loads(invoke("history", "list", "--json").stdout)
    assert new["id"] in printed
