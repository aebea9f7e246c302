"""The conversation library on real SQLite files: schema, recording through the Session hook, resume, search."""

from __future__ import annotations

import io
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatcli.core.conversation import Conversation, Message, Status
from chatcli.core.errors import HistoryError, PartialAnswer, UsageError
from chatcli.core.session import Session
from chatcli.core.stream import Usage
from chatcli.render.message_text import shown_content
from chatcli.render.plain import PlainRenderer
from chatcli.storage.attachments import Attachment, compose, text_attachment
from chatcli.storage.library import (
    LATEST,
    MIGRATIONS,
    Library,
    TurnRecord,
    is_conversation_id,
    title_of,
    url_host,
)
from chatcli.storage.recorder import Recorder
from tests.fakes import ScriptedBackend


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "library.db"


@pytest.fixture
def library(db_path: Path) -> Iterator[Library]:
    with Library(db_path, content_text=shown_content) as opened:  # as chatcli opens it
        yield opened


def new_session(
    recorder: Recorder, backend: ScriptedBackend | None = None, system: str | None = None
) -> Session:
    conversation = Conversation(model="m1")
    conversation.set_system(system)
    return Session(backend or ScriptedBackend(), conversation, "m1", observers=[recorder])


def ask(session: Session, text: str) -> None:
    session.turn(text, PlainRenderer(io.BytesIO()))


def test_new_library_is_private_versioned_and_in_wal_mode(db_path: Path) -> None:
    Library(db_path).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_reopening_keeps_the_data_and_does_not_migrate_again(db_path: Path) -> None:
    with Library(db_path) as first:
        cid = first.add_conversation(Conversation([Message("user", "kept")]))
    with Library(db_path) as second:
        assert second.load(cid).messages == [Message("user", "kept")]


def test_every_turn_is_recorded_with_its_metadata(db_path: Path) -> None:
    backend = ScriptedBackend(
        ["Par", "is."], ["2.1 million"], usage=Usage(prompt_tokens=12, completion_tokens=3)
    )
    recorder = Recorder(db_path, pytest.fail, backend="openai", host="example.com:8080")
    session = new_session(recorder, backend, system="terse")
    ask(session, "Capital of France?")
    ask(session, "Population?")
    recorder.close()

    with Library(db_path) as library:
        [summary] = library.summaries(10)
        assert (summary.id, summary.turns, summary.model, summary.title) == (
            recorder.conversation_id,
            2,
            "m1",
            "Capital of France?",
        )
        assert library.load(summary.id).messages == session.conversation.messages
    db = sqlite3.connect(db_path)
    turns = db.execute(
        "SELECT model, backend, host, status, finish_reason, prompt_tokens, completion_tokens FROM turns"
    ).fetchall()
    assert turns == [("m1", "openai", "example.com:8080", None, "stop", 12, 3)] * 2
    assert db.execute("SELECT system FROM conversations").fetchone() == ("terse",)
    db.close()


def test_interrupted_and_failed_answers_are_recorded_and_marked(db_path: Path) -> None:
    backend = ScriptedBackend(
        ["partial", KeyboardInterrupt()], ["broken", PartialAnswer("stream ended early")]
    )
    recorder = Recorder(db_path, pytest.fail)
    session = new_session(recorder, backend)
    ask(session, "one")
    with pytest.raises(PartialAnswer):
        ask(session, "two")
    with Library(db_path) as library:
        messages = library.load(library.resolve(LATEST)).messages
    assert [(m.text, m.status) for m in messages] == [
        ("one", None),
        ("partial", Status.INTERRUPTED),
        ("two", None),
        ("broken", Status.FAILED),
    ]


def test_a_turn_that_failed_before_any_text_records_nothing(db_path: Path) -> None:
    from chatcli.core.errors import BackendError

    backend = ScriptedBackend(BackendError("refused"))
    session = new_session(Recorder(db_path, pytest.fail), backend)
    with pytest.raises(BackendError):
        ask(session, "lost")
    with Library(db_path) as library:
        assert library.summaries(10) == []


def test_resumed_conversation_keeps_recording_into_the_same_entry(db_path: Path) -> None:
    first = Recorder(db_path, pytest.fail)
    ask(new_session(first), "hello")
    first.close()

    second = Recorder(db_path, pytest.fail)
    conversation = second.resume(LATEST)
    session = Session(ScriptedBackend(), conversation, "m2", observers=[second])
    ask(session, "again")
    second.close()
    assert second.conversation_id == first.conversation_id
    with Library(db_path) as library:
        [summary] = library.summaries(10)
        assert (summary.turns, summary.model) == (2, "m2")
        assert [m.text for m in library.load(summary.id).messages] == ["hello", "ok", "again", "ok"]


def test_undo_then_a_new_turn_starts_a_new_entry_and_keeps_the_old_one(db_path: Path) -> None:
    recorder = Recorder(db_path, pytest.fail)
    session = new_session(recorder)
    ask(session, "first")
    ask(session, "second")
    original = recorder.conversation_id
    session.conversation.pop_exchange()
    ask(session, "second, again")
    assert recorder.conversation_id != original
    with Library(db_path) as library:
        assert [m.text for m in library.load(original or "").messages] == ["first", "ok", "second", "ok"]
        retried = library.load(recorder.conversation_id or "")
        assert [m.text for m in retried.messages] == ["first", "ok", "second, again", "ok"]


def test_another_writer_appending_to_the_same_conversation_is_never_overwritten(db_path: Path) -> None:
    ours = Recorder(db_path, pytest.fail)
    our_session = new_session(ours)
    ask(our_session, "shared start")
    theirs = Recorder(db_path, pytest.fail)
    their_session = Session(
        ScriptedBackend(), theirs.resume(ours.conversation_id or ""), "m1", observers=[theirs]
    )
    ask(their_session, "theirs")
    ask(our_session, "ours")
    with Library(db_path) as library:
        texts = {tuple(m.text for m in library.load(s.id).messages) for s in library.summaries(10)}
    assert texts == {("shared start", "ok", "theirs", "ok"), ("shared start", "ok", "ours", "ok")}


def test_a_system_prompt_change_updates_the_entry_in_place(db_path: Path) -> None:
    recorder = Recorder(db_path, pytest.fail)
    session = new_session(recorder, system="old")
    ask(session, "a")
    session.conversation.set_system("new")
    ask(session, "b")
    with Library(db_path) as library:
        [summary] = library.summaries(10)
        assert library.load(summary.id).system == "new"


def test_import_round_trip_keeps_parts_status_unknown_fields_and_model(library: Library) -> None:
    conversation = Conversation(
        [
            Message("system", "sys"),
            Message(
                "user", [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]
            ),
            Message("assistant", None, None, {"tool_calls": [{"id": "c1"}]}),
            Message("tool", "42", None, {"tool_call_id": "c1"}),
            Message("assistant", "cut", Status.INTERRUPTED),
        ],
        "gpt-x",
    )
    cid = library.add_conversation(conversation)
    assert library.load(cid) == conversation
    assert library.summary(cid).title == "look [image: x]"  # an image shows as its placeholder


def test_ids_resolve_from_any_unique_prefix(library: Library) -> None:
    ids = [library.add_conversation(Conversation([Message("user", str(n))])) for n in range(40)]
    for cid in ids[:5]:
        length = next(n for n in range(1, 13) if sum(other.startswith(cid[:n]) for other in ids) == 1)
        assert library.resolve(cid[:length].upper()) == cid
    assert library.resolve(LATEST) == ids[-1]
    shared = next(digit for digit in "0123456789abcdef" if sum(cid.startswith(digit) for cid in ids) > 1)
    with pytest.raises(UsageError, match="ambiguous"):
        library.resolve(shared)
    with pytest.raises(UsageError, match="no conversation"):
        library.resolve("f" * 13)
    with pytest.raises(UsageError, match="not a conversation id"):
        library.resolve("xyz; drop table")


def test_continuing_an_empty_library_is_a_usage_error(library: Library) -> None:
    with pytest.raises(UsageError, match="library is empty"):
        library.resolve(LATEST)


def test_list_is_newest_first_limited_and_filtered_by_model(library: Library) -> None:
    ids = [library.add_conversation(Conversation([Message("user", f"q{n}")], f"m{n % 2}")) for n in range(5)]
    assert [s.id for s in library.summaries(3)] == ids[::-1][:3]
    assert [s.title for s in library.summaries(10, model="m1")] == ["q3", "q1"]


def test_search_matches_every_word_newest_first_with_stemming_and_marks(library: Library) -> None:
    old = library.add_conversation(Conversation([Message("user", "the quick brown fox jumps")]))
    new = library.add_conversation(Conversation([Message("assistant", "foxes are running in the garden")]))
    hits = library.search("fox", 10, ("[", "]"))
    assert [h.conversation_id for h in hits] == [new, old]
    assert "[foxes]" in hits[0].snippet and "[fox]" in hits[1].snippet
    assert [h.conversation_id for h in library.search("run garden", 10)] == [new]
    assert library.search("fox zebra", 10) == []
    assert [h.conversation_id for h in library.search("gard*", 10)] == [new]


def test_a_hit_in_a_message_with_attached_files_shows_the_typed_prompt(library: Library) -> None:
    question = compose([text_attachment("notes.md", "the quick brown fox " * 30)], "what does the Fox say?")
    cid = library.add_conversation(Conversation([Message("user", question), Message("assistant", "a fox")]))
    heading = library.add_conversation(
        Conversation([Message("user", "### plain heading\n\nno fox attached")])
    )
    by_role = {(h.conversation_id, h.role): h.snippet for h in library.search("fox", 10, ("[", "]"))}
    assert by_role[(cid, "user")] == "[file: notes.md] what does the [Fox] say?"
    assert by_role[(cid, "assistant")] == "a [fox]"  # FTS5's own snippet
    assert "[fox] attached" in by_role[(heading, "user")]  # no file in it: FTS5's snippet too
    [in_the_file] = library.search("brown", 10, ("[", "]"))
    assert (
        in_the_file.snippet == "[file: notes.md] what does the Fox say?"
    )  # found, the file's text not shown


def test_search_treats_punctuation_as_text_not_query_syntax(library: Library) -> None:
    cid = library.add_conversation(
        Conversation([Message("user", 'use foo-bar with "quotes" AND NOT (this)')])
    )
    for query in ["foo-bar", '"quotes', "AND NOT", "(this)", "col:foo", "NEAR(a b)"]:
        found = library.search(query, 10)
        assert all(hit.conversation_id == cid for hit in found)
    assert library.search("foo-bar", 10)[0].conversation_id == cid
    with pytest.raises(UsageError):
        library.search("  * ", 10)


def test_deleted_conversation_is_gone_from_list_search_and_resolve(library: Library) -> None:
    keep = library.add_conversation(Conversation([Message("user", "keep this walrus")]))
    gone = library.add_conversation(Conversation([Message("user", "delete this walrus")]))
    library.delete(gone)
    assert [s.id for s in library.summaries(10)] == [keep]
    assert [h.conversation_id for h in library.search("walrus", 10)] == [keep]
    with pytest.raises(UsageError):
        library.resolve(gone)


def test_corrupt_file_is_refused_in_one_line_and_left_untouched(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = bytes(range(256)) * 64
    db_path.write_bytes(garbage)
    with pytest.raises(HistoryError) as caught:
        Library(db_path)
    assert str(db_path) in str(caught.value) and "\n" not in str(caught.value)
    assert db_path.read_bytes() == garbage


def test_recording_into_a_corrupt_library_warns_once_per_turn_and_keeps_the_turn(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"\x00garbage" * 1000)
    warnings: list[str] = []
    session = new_session(Recorder(db_path, warnings.append))
    ask(session, "still answered")
    assert [m.text for m in session.conversation.messages] == ["still answered", "ok"]
    assert len(warnings) == 1 and warnings[0].startswith("warning: this turn was not recorded")


def test_a_library_from_a_newer_chatcli_is_refused(db_path: Path) -> None:
    Library(db_path).close()
    db = sqlite3.connect(db_path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(HistoryError, match="newer chatcli"):
        Library(db_path)


def test_a_writer_that_cannot_get_the_lock_in_time_reports_it_locked(db_path: Path) -> None:
    Library(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Library(db_path, timeout=0.05) as waiting, pytest.raises(HistoryError, match="locked"):
            waiting.record_turn(
                None, [], Conversation([Message("user", "a"), Message("assistant", "b")]), TurnRecord("m")
            )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_url_host_keeps_host_and_port_only() -> None:
    assert url_host("https://user:sk-secret@api.example.com:8443/v1?key=sk-x") == "api.example.com:8443"
    assert url_host("http://localhost/v1") == "localhost"
    assert url_host(None) is None


def test_title_is_the_first_user_message_on_one_line() -> None:
    messages = [Message("system", "s"), Message("user", "  two\n\nlines  "), Message("user", "later")]
    assert title_of(messages) == "two lines"


def test_a_title_is_the_typed_prompt_and_attached_files_only_by_name() -> None:
    notes = compose([text_attachment("notes.md", "remember the milk\n" * 50)], "summarise this")
    assert title_of([Message("user", notes)]) == "summarise this"
    alone = compose([text_attachment("notes.md", "x"), text_attachment("todo.md", "y")], "")
    assert title_of([Message("user", alone)]) == "[file: notes.md] [file: todo.md]"
    with_image = compose(
        [
            text_attachment("notes.md", "x"),
            Attachment("p.png", 3, image={"type": "image_url", "image_url": {"url": "u"}}),
        ],
        "look",
    )
    assert title_of([Message("user", with_image)], shown_content) == "look [image: u]"


def test_a_title_of_parts_reads_as_content_text_says_else_as_its_text_parts() -> None:
    messages = [
        Message("user", [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}])
    ]
    assert title_of(messages, shown_content) == "look [image: x]"
    assert title_of(messages) == "look"


def test_resuming_into_a_recording_session_continues_that_library_conversation(db_path: Path) -> None:
    first = Recorder(db_path, pytest.fail)
    ask(new_session(first), "old question")
    other = Recorder(db_path, pytest.fail)
    session = new_session(other)
    ask(session, "unrelated")
    cid = first.conversation_id or ""
    session.replace_conversation(other.resume(cid[:6]))
    assert other.conversation_id == cid
    assert [m.text for m in session.conversation.messages] == ["old question", "ok"]
    ask(session, "follow-up")
    assert other.recorded_id == cid
    with Library(db_path) as library:
        assert library.summary(cid).turns == 2
        assert len(library.summaries(10)) == 2


def test_a_recorder_that_does_not_record_resumes_but_names_no_recorded_id(db_path: Path) -> None:
    with Library(db_path) as library:
        cid = library.add_conversation(Conversation([Message("user", "q")], "old-model"))
    recorder = Recorder(db_path, pytest.fail, records=False)
    session = Session(ScriptedBackend(), Conversation(), "m1", observers=[recorder])
    session.replace_conversation(recorder.resume(cid))
    assert (session.conversation.messages, session.model) == ([Message("user", "q")], "old-model")
    assert recorder.recorded_id is None


def test_conversation_ids_are_four_to_twelve_hex_digits() -> None:
    assert is_conversation_id("3F2a") and is_conversation_id("0123456789ab")
    assert (
        not is_conversation_id("abc")
        and not is_conversation_id("notes.json")
        and not is_conversation_id("a" * 13)
    )


def test_a_library_that_is_a_symbolic_link_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "someone-elses.txt"
    target.write_text("not a library\n")
    target.chmod(0o644)
    link = tmp_path / "library.db"
    link.symlink_to(target)
    with pytest.raises(
        HistoryError, match=r"library\.db is a symbolic link \(never followed\), not a regular file"
    ):
        Library(link)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_text() == "not a library\n"


def test_the_input_history_file_refuses_a_symbolic_link_too(tmp_path: Path) -> None:
    from chatcli.repl.prompt import open_input_history

    target = tmp_path / "elsewhere"
    target.write_text("")
    target.chmod(0o644)
    (tmp_path / "history").symlink_to(target)
    warnings: list[str] = []
    open_input_history(tmp_path / "history", warnings.append)
    assert warnings == [
        f"input history kept in memory only: cannot create {tmp_path / 'history'} "
        "(is a symbolic link (never followed), not a regular file)"
    ]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
