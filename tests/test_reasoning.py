"""Reasoning kept apart from the answer: `<think>` blocks split at every position (the state machine alone,
and through the real backend and session against the local server), reasoning deltas, what is saved."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import pexpect
import pytest

from chatcli.backends.openai.client import OpenAIBackend
from chatcli.core.conversation import Conversation, Message
from chatcli.core.session import Session
from chatcli.core.stream import BackendSettings, Reasoning
from chatcli.core.think import ThinkSplitter
from chatcli.render.plain import PlainRenderer
from chatcli.render.turn_display import TurnDisplay
from chatcli.storage.conversation_file import ConversationFile
from chatcli.storage.library import MIGRATIONS, Library
from tests.conftest import CHATCLI
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, Reply, chunk, sse_event, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli

THOUGHT_ANSWER = "<think>\nplan: add 2 and 2</think>\n\nIt is 4."


def split_think(pieces: Iterable[str | Reasoning]) -> Iterator[str | Reasoning]:
    """`pieces` through a ThinkSplitter as the turn feeds it: Reasoning passes through, text until the answer
    starts is split."""
    splitter = ThinkSplitter()
    for piece in pieces:
        if splitter.in_answer or isinstance(piece, Reasoning):
            yield piece
        else:
            yield from splitter.feed(piece)
    yield from splitter.flush()


def split(pieces: list[str]) -> tuple[str, str]:
    """The reasoning and the answer the splitter makes of `pieces`."""
    thoughts, answer = [], []
    for piece in split_think(pieces):
        (thoughts if isinstance(piece, Reasoning) else answer).append(
            piece.text if isinstance(piece, Reasoning) else piece
        )
    return "".join(thoughts), "".join(answer)


@pytest.mark.parametrize("cut", range(len(THOUGHT_ANSWER) + 1))
def test_a_think_block_split_in_two_anywhere_is_reasoning(cut: int) -> None:
    assert split([THOUGHT_ANSWER[:cut], THOUGHT_ANSWER[cut:]]) == ("\nplan: add 2 and 2", "It is 4.")


def test_a_think_block_one_character_per_piece_is_reasoning() -> None:
    assert split(list(THOUGHT_ANSWER)) == ("\nplan: add 2 and 2", "It is 4.")


@pytest.mark.parametrize(
    "answer",
    [
        "Use <think> tags like this: <think>x</think>.",
        "Text first\n<think>not reasoning</think>",
        "<thinking>is another tag</thinking>",
        "<thi",
        "   ",
        "",
        "  \n<b>bold</b>",
    ],
)
def test_text_that_does_not_open_with_a_think_block_passes_untouched(answer: str) -> None:
    for cut in range(len(answer) + 1):
        assert split([answer[:cut], answer[cut:]]) == ("", answer)


def test_leading_whitespace_before_the_tag_is_allowed() -> None:
    assert split(["\n  <th", "ink>why</think>Because."]) == ("why", "Because.")


def test_an_unclosed_think_block_is_all_reasoning_and_a_half_closing_tag_is_kept() -> None:
    assert split(["<think>still going</thi"]) == ("still going</thi", "")


def test_reasoning_deltas_pass_through_in_order() -> None:
    pieces = list(split_think([Reasoning("a"), "<think>b", Reasoning("c"), "</think>d"]))
    assert pieces == [Reasoning("a"), Reasoning("b"), Reasoning("c"), "d"]


def test_the_splitter_holds_back_no_more_than_a_tag() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>abc</") == [Reasoning("abc")]
    assert splitter.feed("think>") == []
    assert splitter.feed("x") == ["x"]
    assert splitter.flush() == []


def think_reply(pieces: list[str], reasoning: tuple[str, ...] = ()) -> Reply:
    body = [sse_event(chunk(reasoning_content=text)) for text in reasoning]
    return Reply(body=[*body, *sse_reply(*pieces).body])


@pytest.mark.e2e
def test_through_the_real_backend_every_split_of_the_tags_is_reasoning(server: OpenAIServer) -> None:
    """One session against the local server; the answer arrives cut at every position in turn."""
    backend = OpenAIBackend(BackendSettings(base_url=server.url, timeout=15))
    session = Session(backend, Conversation(), "test-model")
    for cut in range(len(THOUGHT_ANSWER) + 1):
        server.enqueue(think_reply([THOUGHT_ANSWER[:cut], THOUGHT_ANSWER[cut:]]))
        out = io.BytesIO()
        result = session.turn("2+2?", PlainRenderer(out))
        assert (result.reasoning, result.text, out.getvalue()) == (
            "\nplan: add 2 and 2",
            "It is 4.",
            b"It is 4.\n",
        ), cut
        assert session.conversation.messages[-1] == Message(
            "assistant", "It is 4.", reasoning="\nplan: add 2 and 2"
        )
    # reasoning is never sent back to the server
    assert all(set(message) == {"role", "content"} for body in server.bodies for message in body["messages"])
    assert server.bodies[-1]["messages"][1] == {"role": "assistant", "content": "It is 4."}


@pytest.mark.e2e
def test_reasoning_deltas_split_anywhere_stay_out_of_the_answer(server: OpenAIServer) -> None:
    backend = OpenAIBackend(BackendSettings(base_url=server.url, timeout=15))
    thought = "Let me think."
    for cut in range(len(thought) + 1):
        session = Session(backend, Conversation(), "test-model")
        server.enqueue(think_reply(["Answer."], (thought[:cut], thought[cut:])))
        out = io.BytesIO()
        result = session.turn("q", PlainRenderer(out))
        assert (result.reasoning, out.getvalue()) == (thought, b"Answer.\n")


class Clock:
    """Monotonic time the test moves by hand, so the summary's duration is exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def display_output(mode: str, monkeypatch: pytest.MonkeyPatch) -> str:
    clock = Clock()
    monkeypatch.setattr("chatcli.render.turn_display.time.monotonic", clock)
    stderr, stdout = io.StringIO(), io.BytesIO()
    with TurnDisplay(lambda: PlainRenderer(stdout), None, stderr, mode) as display:
        display.reason("first ")
        clock.now += 12.0
        display.reason("second")
        display.feed("Answer.")
    assert stdout.getvalue() == b"Answer.\n"
    return stderr.getvalue()


def test_summary_mode_prints_one_dim_line_with_time_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    assert display_output("summary", monkeypatch) == "\x1b[2mthought for 12.0 s, 2 tokens\x1b[0m\n"


def test_show_mode_streams_the_reasoning_dimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert display_output("show", monkeypatch) == "\x1b[2mfirst \x1b[0m\x1b[2msecond\x1b[0m\n"


def test_hide_mode_shows_nothing_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert display_output("hide", monkeypatch) == ""


def test_reasoning_round_trips_through_files_and_the_library_outside_the_search_text(tmp_path: Path) -> None:
    conversation = Conversation(
        [Message("user", "q"), Message("assistant", "visible answer", reasoning="secret musing")], "m"
    )
    file = ConversationFile(tmp_path / "chat.json")
    file.save(conversation)
    assert ConversationFile(tmp_path / "chat.json").load().messages == conversation.messages
    with Library(tmp_path / "library.db") as library:
        conversation_id = library.add_conversation(conversation)
        assert library.load(conversation_id).messages == conversation.messages
        assert library.search("musing", 10) == []
        assert [hit.conversation_id for hit in library.search("visible", 10)] == [conversation_id]


def test_a_library_from_before_reasoning_is_migrated_and_keeps_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    old = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO conversations VALUES ('abcdef123456', 't', 't', 'q', 'm', NULL, 1)")
    old.execute(
        "INSERT INTO messages (conversation_id, position, created_at, role, text) "
        "VALUES ('abcdef123456', 0, 't', 'user', 'q'), ('abcdef123456', 1, 't', 'assistant', 'a')"
    )
    old.commit()
    old.close()
    with Library(path) as library:
        assert library.load("abcdef123456").messages == [Message("user", "q"), Message("assistant", "a")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_piped_answer_saved_file_library_and_history_show_keep_reasoning_apart(
    server: OpenAIServer, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    server.enqueue(
        think_reply(["<think>weighing the options", "</think>\n", "Go left."], ("Deltas first. ",))
    )
    result = invoke("ask", "--base-url", server.url, "-o", str(chat), "which way?")
    assert (result.returncode, result.stdout) == (0, b"Go left.\n")
    assert result.stderr == b""  # stderr is no terminal: nothing of the reasoning
    answer = json.loads(chat.read_text())["messages"][-1]
    assert answer == {
        "role": "assistant",
        "content": "Go left.",
        "reasoning": "Deltas first. weighing the options",
    }

    assert invoke("history", "search", "weighing").stdout == b""
    shown = invoke(
        "history", "show", "--reasoning", json.loads(invoke("history", "list", "--json").stdout)[0]["id"]
    )
    assert shown.stdout.decode() == (
        "## user\n\nwhich way?\n\n## reasoning\n\nDeltas first. weighing the options\n\n## assistant\n\nGo left.\n"
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), rb"\x1b\[2mthought for \d+\.\d s, 2 tokens\x1b\[0m"),
        (("-R",), rb"\x1b\[2mweigh\x1b\[0m\x1b\[2ming\x1b\[0m"),
    ],
)
def test_a_terminal_shows_a_summary_line_or_with_r_the_reasoning_itself(
    server: OpenAIServer, tmp_path: Path, flags: tuple[str, ...], expected: bytes
) -> None:
    server.enqueue(think_reply(["<think>weigh", "ing</think>Go left."]))
    answer_file = tmp_path / "answer.txt"
    script = 'exec "$0" ask "$@" > "$ANSWER"'  # stderr on the terminal, stdout to a file
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", script, CHATCLI, "--base-url", server.url, *flags, "which way?"],
        env={**os.environ, "ANSWER": str(answer_file)},
    )
    child.expect(expected, timeout=30)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    assert answer_file.read_bytes() == b"Go left.\n"


@pytest.mark.e2e
def test_the_chat_spinner_says_thinking_then_one_summary_line_and_the_answer(server: OpenAIServer) -> None:
    thinking = [sse_event(chunk(reasoning_content="hmm")), 0.5, sse_event(chunk(reasoning_content=" ok"))]
    server.enqueue(Reply(body=[*thinking, *sse_reply("Fine. <think>literal</think>").body]))
    child = spawn_chatcli("--base-url", server.url, "--plain", dimensions=(24, 100), timeout=20)
    child.logfile_read = io.StringIO()

    expect(child, "Ctrl-D exits")
    expect(child, TOOLBAR)
    say(
        child,
        "think first",
        "thinking…",
        "thought for ",
        " s, 2 tokens",
        "Fine. <think>literal</think>",  # a tag that does not open the answer is text
    )
    child.sendcontrol("d")
    assert exit_code(child) == 0
    assert "hmm" not in child.logfile_read.getvalue()
