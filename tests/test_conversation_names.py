"""Names, forks and edits in the library (issue 23, items 1 and 2): the library itself, the recorder, and
`chatcli history rename/fork/list --tree/show`, `--name`, `--cid NAME` and `-l FILE -o FILE` in-process."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from chatcli.backends.echo import EchoBackend
from chatcli.core.conversation import Conversation, Message
from chatcli.core.errors import UsageError
from chatcli.core.session import Session
from chatcli.core.stream import BackendSettings
from chatcli.render.plain import PlainRenderer
from chatcli.repl.commands import parse_line
from chatcli.storage.library import MIGRATIONS, Library, check_name
from chatcli.storage.recorder import Recorder
from tests.fakes import ScriptedBackend
from tests.inprocess import invoke
from tests.library_chat import LibraryChat
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli


@pytest.fixture
def library_path(isolated_home: Path) -> Path:
    return isolated_home / ".local" / "share" / "chatcli" / "library.db"


def chat(*texts: str) -> Conversation:
    """A conversation of user questions, each answered `re: TEXT`."""
    messages = []
    for text in texts:
        messages += [Message("user", text), Message("assistant", f"re: {text}")]
    return Conversation(messages, "m1")


def ok(*args: str, **kwargs: object) -> str:
    result = invoke(*args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def listed() -> list[dict[str, object]]:
    conversations: list[dict[str, object]] = json.loads(ok("history", "list", "--json"))
    return conversations


def user_texts(reference: str) -> list[str]:
    messages = json.loads(ok("history", "show", reference, "--json"))["messages"]
    return [message["content"] for message in messages if message["role"] == "user"]


# -- the library --------------------------------------------------------------------------------------------


def test_a_library_of_the_previous_schema_opens_whole_and_takes_names(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    old = sqlite3.connect(path)
    for statements in MIGRATIONS[:2]:  # before names and origins
        for statement in statements:
            old.execute(statement)
    old.execute("PRAGMA user_version = 2")
    old.execute(
        "INSERT INTO conversations (id, created_at, updated_at, title, turns) VALUES (?, ?, ?, ?, 1)",
        ("0123456789ab", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "old one"),
    )
    old.execute(
        "INSERT INTO messages (conversation_id, position, created_at, role, text) VALUES (?, 0, ?, ?, ?)",
        ("0123456789ab", "2026-01-01T00:00:00+00:00", "user", "kept"),
    )
    old.commit()
    old.close()
    with Library(path) as library:
        [summary] = library.summaries(10)
        assert (summary.id, summary.title, summary.name, summary.origin_id) == (
            "0123456789ab",
            "old one",
            None,
            None,
        )
        assert library.load(summary.id).messages == [Message("user", "kept")]
        library.rename(summary.id, "old-work")
        assert library.resolve("old-work") == "0123456789ab"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_names_are_unique_whatever_their_case_and_never_look_like_ids(tmp_path: Path) -> None:
    with Library(tmp_path / "library.db") as library:
        first = library.add_conversation(chat("one"))
        second = library.add_conversation(chat("two"))
        library.rename(first, "Project X")
        assert library.resolve("project x") == first
        with pytest.raises(UsageError, match="taken by conversation " + first):
            library.rename(second, "PROJECT X")
        library.rename(first, None)
        library.rename(second, "project x")
        assert library.resolve("Project X") == second
        assert library.resolve(first[:6]) == first  # ids still resolve beside names
    for refused in ("cafe", "0123", "ABC", "", "   ", "latest", "a\x1bb", "x" * 65):
        with pytest.raises(UsageError):
            check_name(refused)
    assert check_name("  café 2 ") == "café 2"


def test_a_fork_takes_the_first_messages_and_says_where_it_came_from(tmp_path: Path) -> None:
    with Library(tmp_path / "library.db") as library:
        original = chat("one", "two", "three")
        original.set_system("terse")
        source = library.add_conversation(original)
        fork = library.fork(source, 3)
        forked = library.load(fork)
        assert forked.messages == [Message("system", "terse"), *original.messages[1:4]]
        summary = library.summary(fork)
        assert (summary.origin_id, summary.origin_messages, summary.origin_kind) == (source, 3, "forked")
        assert summary.origin_line() == f"forked from {source} at message 3"
        assert library.load(source).messages == original.messages  # the original stays whole
        assert len(library.load(library.fork(source)).messages) == 7  # default: all of it
        for beyond in (0, 7):
            with pytest.raises(UsageError, match="has 6 messages"):
                library.fork(source, beyond)


def test_an_edit_starts_a_new_conversation_edited_from_the_old_which_passes_on_its_name(
    tmp_path: Path,
) -> None:
    path = tmp_path / "library.db"
    recorder = Recorder(path, pytest.fail)
    session = Session(ScriptedBackend(), Conversation(model="m1"), "m1", observers=[recorder])
    for text in ("one", "two", "three"):
        session.turn(text, PlainRenderer(io.BytesIO()))
    recorder.rename("work")
    old_id = recorder.conversation_id
    assert old_id is not None
    del session.conversation.messages[2:]  # /edit 3: messages 3 on are replaced by the new question's turn
    session.turn("two, again", PlainRenderer(io.BytesIO()))
    new_id = recorder.conversation_id
    assert new_id is not None and new_id != old_id and recorder.name == "work"
    with Library(path) as library:
        assert len(library.load(old_id).messages) == 6  # nothing lost
        edited = library.summary(new_id)
        assert (edited.name, edited.origin_id, edited.origin_messages, edited.origin_kind) == (
            "work",
            old_id,
            2,
            "edited",
        )
        assert edited.origin_line() == f"edited from {old_id} at message 3"
        assert library.summary(old_id).name is None
        assert library.resolve("work") == new_id


def test_a_name_given_before_the_first_turn_names_it_when_recorded(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    recorder = Recorder(path, pytest.fail)
    recorder.rename("draft")
    session = Session(ScriptedBackend(), Conversation(model="m1"), "m1", observers=[recorder])
    session.turn("hello", PlainRenderer(io.BytesIO()))
    with Library(path) as library:
        assert library.resolve("draft") == recorder.conversation_id


def test_a_name_taken_meanwhile_leaves_the_turn_recorded_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    warnings: list[str] = []
    recorder = Recorder(path, warnings.append)
    recorder.rename("draft")
    with Library(path) as other:
        other.rename(other.add_conversation(chat("elsewhere")), "draft")
    session = Session(ScriptedBackend(), Conversation(model="m1"), "m1", observers=[recorder])
    session.turn("hello", PlainRenderer(io.BytesIO()))
    assert recorder.conversation_id is not None and recorder.name is None
    assert warnings == ["warning: the name 'draft' was taken meanwhile; `/rename NAME` names this one"]


# -- the command line ---------------------------------------------------------------------------------------


def test_name_then_cid_name_continues_it_and_history_commands_take_the_name(library_path: Path) -> None:
    assert ok("ask", "-b", "echo", "--name", "trip", "plan a trip") == "Echo: plan a trip\n"
    assert ok("ask", "-b", "echo", "--cid", "trip", "and the budget?") == "Echo: and the budget?\n"
    [conversation] = listed()
    assert (conversation["name"], conversation["turns"], conversation["origin"]) == ("trip", 2, None)
    assert user_texts("trip") == ["plan a trip", "and the budget?"]
    assert "trip · plan a trip" in ok("history", "list")

    taken = invoke("ask", "-b", "echo", "--name", "trip", "another")
    assert taken.returncode == 2 and taken.stderr.decode().count("\n") == 1
    assert b"the name 'trip' is taken by conversation" in taken.stderr
    hexy = invoke("ask", "-b", "echo", "--name", "beef", "x")
    assert hexy.returncode == 2 and b"could be taken for a conversation id" in hexy.stderr
    assert (
        b"--name names a new conversation" in invoke("ask", "-b", "echo", "-c", "--name", "new", "x").stderr
    )
    assert len(listed()) == 1  # none of those sent or recorded anything

    assert ok("history", "rename", "trip", "holiday") == f"{conversation['id']} is now named holiday\n"
    assert user_texts("holiday") == ["plan a trip", "and the budget?"]
    assert invoke("history", "show", "trip").returncode == 2
    ok("history", "export", "holiday", "-")
    assert ok("history", "rename", "holiday", "-") == f"{conversation['id']} has no name now\n"
    assert listed()[0]["name"] is None
    ok("history", "rm", "--yes", str(conversation["id"])[:5])
    assert listed() == []


def test_history_fork_prints_the_new_id_and_show_and_tree_say_where_it_came_from(library_path: Path) -> None:
    ok("ask", "-b", "echo", "--name", "base", "first")
    ok("ask", "-b", "echo", "--cid", "base", "second")
    [base] = listed()
    fork_id = ok("history", "fork", "base", "2", "--name", "branch").strip()
    assert user_texts(fork_id) == ["first"] and user_texts("base") == ["first", "second"]
    refork = ok("history", "fork", fork_id).strip()
    unrelated = ok("ask", "-b", "echo", "unrelated")
    assert unrelated

    show = ok("history", "show", "branch", env={"COLUMNS": "100"}, stdout_isatty=True)
    assert show.startswith(f"branch · {fork_id} · ")
    assert f"forked from {base['id']} at message 2" in show
    assert "1 user" in show and "2 assistant" in show  # numbered as fork and /edit count
    assert "forked from" not in ok("history", "show", "branch")  # piped: the messages' Markdown alone

    tree = json.loads(ok("history", "list", "--tree", "--json"))
    assert [(row["id"], row["depth"]) for row in tree][1:] == [(base["id"], 0), (fork_id, 1), (refork, 2)]
    lines = ok("history", "list", "--tree").splitlines()
    assert lines[1].startswith(str(base["id"])) and "base · first" in lines[1]
    assert lines[2].startswith(fork_id) and lines[2].endswith("└ branch · first")
    assert lines[3].startswith(refork) and lines[3].endswith("  └ first")

    beyond = invoke("history", "fork", "base", "5")
    assert beyond.returncode == 2 and b"has 4 messages; fork takes 1 to 4" in beyond.stderr


def test_continuing_a_conversation_file_continues_one_library_conversation(
    library_path: Path, tmp_path: Path
) -> None:
    chat_file = str(tmp_path / "chat.json")
    ok("ask", "-b", "echo", "-o", chat_file, "turn 0")
    for turn in (1, 2, 3):
        ok("ask", "-b", "echo", "-l", chat_file, "-o", chat_file, f"turn {turn}")
    [conversation] = listed()
    assert conversation["turns"] == 4
    assert user_texts(str(conversation["id"])) == ["turn 0", "turn 1", "turn 2", "turn 3"]


# -- the slash commands, in-process -------------------------------------------------------------------------


def chat_on(path: Path) -> LibraryChat:
    """A new chat on the echo backend, model m1, recording into the library at `path`."""
    return LibraryChat(path, EchoBackend(BackendSettings()), Conversation(model="m1"))


def test_slash_rename_names_the_conversation_before_and_after_its_first_turn(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    chat = chat_on(path)
    chat.line("/rename early")
    assert chat.notices == ["named early (from its first recorded turn)"]
    chat.line("hello")
    with Library(path) as library:
        assert library.resolve("early") == chat.recorder.conversation_id
    chat.line("/rename 0000")
    assert chat.warnings[-1].startswith("'0000' could be taken for a conversation id")
    chat.line("/rename later")
    assert chat.notices[-1] == f"named later ({chat.recorder.conversation_id})"
    with Library(path) as library:
        assert library.summary(library.resolve("later")).id == chat.recorder.conversation_id
    with pytest.raises(UsageError, match="needs an argument"):
        parse_line("/rename")


def test_slash_fork_goes_on_in_a_new_conversation_and_keeps_the_original(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    chat = chat_on(path)
    chat.line("/fork")
    assert chat.warnings == ["nothing recorded to fork yet; send a message first"]
    for text in ("one", "two"):
        chat.line(text)
    original = chat.recorder.conversation_id
    chat.line("/fork 9")
    assert chat.warnings[-1] == "the conversation has 4 messages; fork takes 1 to 4"
    chat.line("/fork x")
    assert chat.warnings[-1].startswith("/fork takes a number of messages")
    chat.line("/fork 2")
    forked = chat.recorder.conversation_id
    assert forked != original and chat.texts() == ["one", "Echo: one"]
    assert chat.notices[-1] == f"forked {original} into {forked}; this chat goes on in {forked}"
    chat.line("three")
    with Library(path) as library:
        assert [m.text for m in library.load(str(original)).messages] == [
            "one",
            "Echo: one",
            "two",
            "Echo: two",
        ]
        assert [m.text for m in library.load(str(forked)).messages] == [
            "one",
            "Echo: one",
            "three",
            "Echo: three",
        ]
        summary = library.summary(str(forked))
        assert (summary.origin_id, summary.origin_messages, summary.origin_kind) == (original, 2, "forked")


def test_slash_edit_n_regenerates_from_question_n_and_the_library_keeps_the_old(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    chat = chat_on(path)
    chat.session.conversation.set_system("terse")  # not counted
    for text in ("one", "two", "three"):
        chat.line(text)
    original = chat.recorder.conversation_id
    chat.line("/edit 2")
    assert chat.warnings == [
        "/edit takes the number of a question: 1, 3, 5 (from 1, the system prompt aside, as "
        "`chatcli history show` numbers them)"
    ]
    chat.line("/edit 3")
    assert (chat.draft.take_prefill(), chat.draft.line()) == (
        "two",
        "editing message 3 (Enter replaces it, Ctrl-C cancels)",
    )
    chat.line("TWO")
    assert chat.texts() == ["terse", "one", "Echo: one", "TWO", "Echo: TWO"]
    edited_id = str(chat.recorder.conversation_id)
    chat.line("/edit")  # the last question, as before
    assert chat.draft.line() == "editing the last question (Enter replaces it, Ctrl-C cancels)"
    chat.line("TWO, really")
    chat.line("/undo")
    chat.line("/retry")  # /undo and /retry work as before
    assert chat.texts() == ["terse", "one", "Echo: one"]
    with Library(path) as library:
        assert len(library.load(str(original)).messages) == 7  # all three turns, and the system prompt
        edited = library.summary(edited_id)
        assert (edited.origin_id, edited.origin_messages, edited.origin_kind) == (original, 2, "edited")
        assert len(library.summaries(10)) == 4  # each edit, and the retry after the undo, kept the one before


def test_slash_clear_starts_an_unnamed_conversation_and_slash_load_continues_the_one_a_file_came_from(
    tmp_path: Path,
) -> None:
    path = tmp_path / "library.db"
    chat = chat_on(path)
    chat.line("/rename first")
    chat.line("one")
    first = chat.recorder.conversation_id
    chat.line(f"/save {tmp_path / 'chat.json'}")
    chat.line("/clear")
    chat.line("two")
    assert chat.recorder.conversation_id != first and chat.recorder.name is None
    chat.line(f"/load {tmp_path / 'chat.json'}")
    chat.line("one more")
    assert chat.recorder.conversation_id == first
    assert chat.warnings == []
    with Library(path) as library:
        assert [m.text for m in library.load(library.resolve("first")).messages] == [
            "one",
            "Echo: one",
            "one more",
            "Echo: one more",
        ]
        assert len(library.summaries(10)) == 2


# -- the interactive session on a real terminal -------------------------------------------------------------


@pytest.mark.e2e
def test_repl_name_greeting_toolbar_rename_and_resume_by_name() -> None:
    child = spawn_chatcli("-b", "echo", "--name", "notes")
    expect(child, "notes · ")  # in the greeting, before the model
    expect(child, "notes · ")  # and the toolbar
    say(child, "remember milk", "Echo: remember milk")
    say(child, "/rename beef", "could be taken for a conversation id")
    say(child, "/rename groceries", "named groceries (")
    child.sendcontrol("d")
    expect(child, "resume with: chatcli -c (or chatcli --cid groceries)")
    assert exit_code(child) == 0
    [conversation] = listed()
    assert conversation["name"] == "groceries"

    resumed = spawn_chatcli("-b", "echo", "--cid", "groceries")
    expect(resumed, "groceries · ")
    expect(resumed, TOOLBAR)
    say(resumed, "and eggs", "Echo: and eggs")
    resumed.sendcontrol("d")
    assert exit_code(resumed) == 0
    assert user_texts("groceries") == ["remember milk", "and eggs"]


@pytest.mark.e2e
def test_repl_fork_and_edit_any_question_keep_every_turn() -> None:
    child = spawn_chatcli("-b", "echo", "--name", "branching")
    expect(child, TOOLBAR)
    for line in ("one", "two", "three"):
        say(child, line, f"Echo: {line}")
    say(child, "/edit 2", "/edit takes the number of a question: 1, 3, 5")
    say(child, "/edit 3", "editing message 3 (Enter replaces it, Ctrl-C cancels)")
    child.send("\x15two again\r")  # Ctrl-U clears the reopened text first
    expect(child, "Echo: two again")
    expect(child, TOOLBAR)
    say(child, "/fork 2", "forked ")
    say(child, "after the fork", "Echo: after the fork")
    child.sendcontrol("d")
    assert exit_code(child) == 0

    by_origin = {row["origin"]["kind"] if row["origin"] else None: row for row in listed()}  # type: ignore[index]
    original, edited, forked = by_origin[None], by_origin["edited"], by_origin["forked"]
    assert user_texts(str(original["id"])) == ["one", "two", "three"]  # nothing lost
    assert user_texts(str(edited["id"])) == ["one", "two again"]
    assert edited["origin"] == {"id": original["id"], "messages": 2, "kind": "edited"}
    assert edited["name"] == "branching" and original["name"] is None  # the name went on with the chat
    assert user_texts(str(forked["id"])) == ["one", "after the fork"]
    assert forked["origin"] == {"id": edited["id"], "messages": 2, "kind": "forked"}
