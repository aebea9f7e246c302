"""Linear for one huge block too: a block longer than PLAIN_BLOCK_CHARS shows as its source, wrapped,
whether it streams or is rendered whole; everything around it renders as Markdown, as before."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from chatcli.cli.history import print_conversation
from chatcli.core.conversation import Conversation, Message
from chatcli.render import markdown
from chatcli.render.markdown import Lines, PieceContext, render_markdown
from tests.test_render import WIDTH, Terminal, new_console, output, pieces, stream, whole

# The bound is 64 KiB; these tests lower it to 8 KiB, so that a terminal emulator has 140 lines to show for a
# huge block instead of 1,100: the same code runs, several times faster.
BOUND = 8 * 1024
BIG_PARAGRAPH = " ".join(f"w{n} *em{n}*" for n in range(BOUND // 8))
assert len(BIG_PARAGRAPH) > BOUND


@pytest.fixture(autouse=True)
def lower_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    assert markdown.PLAIN_BLOCK_CHARS > BOUND
    monkeypatch.setattr(markdown, "PLAIN_BLOCK_CHARS", BOUND)


def whole_bounded(text: str) -> list[str]:
    """The answer rendered at once through render_markdown (which bounds huge blocks), as a terminal shows it."""
    console = new_console()
    lines, _ = render_markdown(console, text, PieceContext(), "monokai")
    console.print(Lines(lines), crop=False)
    return Terminal.lines_of(output(console))


def streamed_fast(text: str) -> list[str]:
    console = new_console()
    stream(pieces(text, seed=2, longest=400), console, refresh_every=13)
    return Terminal.lines_of(output(console))


def test_a_huge_paragraph_shows_its_source_cut_to_the_width() -> None:
    lines, context = render_markdown(new_console(), BIG_PARAGRAPH, PieceContext(), "monokai")
    texts = ["".join(segment.text for segment in line) for line in lines]
    assert all(len(text) <= WIDTH for text in texts)
    assert "".join(texts).replace(" ", "") == BIG_PARAGRAPH.replace(" ", "")  # cut, nothing lost
    assert "*em0*" in texts[0]  # the source, markup and all
    assert context == PieceContext(blank_before=True)


def test_blocks_around_a_huge_one_render_as_markdown_and_the_stream_equals_the_whole() -> None:
    text = f"# Title\n\nSome **bold** intro.\n\n{BIG_PARAGRAPH}\n\n- one\n- two\n\nThe `end`.\n"
    expected = whole_bounded(text)
    before, after = whole("# Title\n\nSome **bold** intro.\n"), whole("- one\n- two\n\nThe `end`.\n")
    assert expected[: len(before)] == before  # Markdown around it, as ever
    assert expected[-len(after) :] == after
    assert expected[len(before)] == "" and expected[len(before) + 1].startswith("w0 *em0* w1")
    assert streamed_fast(text) == expected


def test_a_huge_unfinished_paragraph_streams_to_the_whole_render() -> None:
    text = "Intro.\n\n" + BIG_PARAGRAPH
    assert streamed_fast(text) == whole_bounded(text)


def test_a_table_of_three_hundred_columns_streams_to_the_whole_render() -> None:
    header = "|" + "|".join(f"c{n}" for n in range(300)) + "|\n"
    rule = "|" + "|".join("---" for _ in range(300)) + "|\n"
    table = header + rule + header.replace("c", "v") * 12
    assert len(table) > BOUND
    text = f"Before.\n\n{table}\nAfter.\n"
    expected = whole_bounded(text)
    assert expected[0] == "Before." and expected[2].startswith("|c0|c1|c2|")
    assert streamed_fast(text) == expected


def test_wide_characters_in_a_huge_block_are_cut_by_cells() -> None:
    text = "漢字" * (BOUND // 3)
    lines, _ = render_markdown(new_console(), text, PieceContext(), "monokai")
    assert {len("".join(segment.text for segment in line)) for line in lines[:-1]} == {WIDTH // 2}


def test_history_show_renders_a_huge_answer_as_wrapped_text() -> None:
    out = io.StringIO()
    conversation = Conversation([Message("user", "hi"), Message("assistant", BIG_PARAGRAPH)])
    print_conversation(conversation, out, terminal=True)
    shown = out.getvalue().splitlines()
    assert shown[0] == "1 user" and "2 assistant" in shown  # numbered as /fork and /edit N count
    width = Console(file=io.StringIO()).width
    assert all(len(line) <= width for line in shown)
    assert sum("*em" in line for line in shown) > 100
