"""The streaming Markdown renderer: what a terminal shows, scrollback included, equals the whole answer."""

from __future__ import annotations

import io
import random
import threading
import time

import pytest
from rich.console import Console

from chatcli.render.markdown import ChatMarkdown
from chatcli.render.markdown_renderer import MarkdownRenderer
from tests.terminal import Terminal as Emulator
from tests.terminal import whole_answer_lines

WIDTH, HEIGHT = 60, 24


class Terminal(Emulator):
    """A WIDTH x HEIGHT terminal, fed the text a renderer wrote."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__(width, height)


def new_console(width: int = WIDTH, height: int = HEIGHT, terminal: bool = True) -> Console:
    return Console(
        file=io.StringIO(), width=width, height=height, force_terminal=terminal, color_system="truecolor"
    )


def output(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def whole(text: str, width: int = WIDTH) -> list[str]:
    """The answer rendered at once, as a terminal shows it."""
    return whole_answer_lines(text, width, HEIGHT)


def pieces(text: str, seed: int, longest: int = 6) -> list[str]:
    """`text` cut at random places, like tokens of 1 to `longest` characters."""
    rng = random.Random(seed)
    cuts, at = [], 0
    while at < len(text):
        step = rng.randint(1, longest)
        cuts.append(text[at : at + step])
        at += step
    return cuts


def stream(parts: list[str], console: Console, refresh_every: int = 1) -> None:
    """Feed `parts`, bringing the display up to date after every `refresh_every` of them (the clock stands
    still, so no update happens on its own)."""
    with MarkdownRenderer(console, clock=lambda: 0.0) as renderer:
        for index, part in enumerate(parts):
            renderer.feed(part)
            if index % refresh_every == 0:
                renderer.refresh()


def streamed(text: str, seed: int = 0, refresh_every: int = 1, longest: int = 6) -> list[str]:
    console = new_console()
    stream(pieces(text, seed, longest), console, refresh_every)
    return Terminal.lines_of(output(console))


LONG_PARAGRAPH = " ".join(f"word{index} *and* more" for index in range(100))  # 28 lines: taller than HEIGHT

DOCUMENTS = {
    "every element": (
        "# A title\n\nSome *emphasis*, **strong**, ~~struck~~ and `inline code`, and a "
        "[link](https://example.com/x)."
        "\n\n## A section\n\n- tight\n- list\n  - nested\n  - items\n- end\n\n1. ordered\n2. list\n\n"
        "> a quote\n> on two lines\n\n```python\ndef f(x):\n    return x * 2\n```\n\n"
        "| name | value |\n|------|------:|\n| a | 1 |\n| b | 22 |\n\n---\n\nThe end.\n"
    ),
    "loose list with paragraphs": "- first\n\n  more of first\n\n- second\n\n- third\n\nAfter.\n",
    "numbering goes on across 10": "Steps:\n" + "".join(f"1. step {n}\n" for n in range(1, 13)) + "\nDone.\n",
    "ordered list from 7": "7. seven\n8. eight\n9. nine\n10. ten\n",
    "setext headings": "Title\n=====\n\nSub\n---\ntext under\n",
    "rule then list": "para\n\n---\n\n- x\n- y\n",
    "paragraph that turns into a list": "Intro:\n- a\n- b\nIntro two:\n2. not a list\n",
    "fence in a list item": "- item\n  ```\n  code\n\n  - not an item\n  ```\n- next\n",
    "tilde fence with a backtick line": "~~~~js\nlet a = 1;\n```\n~~~\n~~~~\n\nafter\n",
    "long code block": "```python\n"
    + "".join(f"x{n} = {n}\n" if n % 9 else "\n" for n in range(40))
    + "```\n",
    "unclosed code block": "Look:\n\n```sh\n" + "".join(f"echo {n}\n" for n in range(40)),
    "indented fence with tabs, closed by the last partial line": "  ```\n"
    + "".join(f"\tline {n}\n" for n in range(40))
    + "  ```",
    "paragraph taller than the screen": LONG_PARAGRAPH + "\n\nnext\n",
    "table taller than the screen": "| n | square |\n|---|---|\n"
    + "".join(f"| {n} | {n * n} |\n" for n in range(30)),
    "block quote with a list": "> - a\n> - b\n>\n> text\n\nafter\n",
    "blank lines only at the end": "text\n\n\n\n",
    "no newline at the end": "# T\n\nlast words",
    "reference links show as written": "See [the docs][1].\n\n[1]: https://example.com/docs\n",
}


def check_streamed_equals_whole(text: str, seed: int) -> None:
    """`text` cut as `seed` says and redrawn after every piece; a redraw costs more the taller the open block,
    so documents taller than the screen are redrawn after every third piece, and long ones after every
    seventh."""
    expected = whole(text)
    refresh_every = 7 if len(text) >= 1_500 else 1 if len(expected) <= HEIGHT else 3
    assert streamed(text, seed, refresh_every) == expected


@pytest.mark.parametrize("name", DOCUMENTS)
def test_streamed_answer_shows_what_the_whole_answer_shows(name: str) -> None:
    check_streamed_equals_whole(DOCUMENTS[name], 0)


@pytest.mark.e2e
@pytest.mark.parametrize("name", [name for name, text in DOCUMENTS.items() if len(text) < 1_500])
def test_streamed_answer_cut_another_way_shows_what_the_whole_answer_shows(name: str) -> None:
    check_streamed_equals_whole(DOCUMENTS[name], 1)


@pytest.mark.e2e
def test_streamed_answer_equals_whole_answer_with_rare_updates() -> None:
    text = "".join(DOCUMENTS.values())
    assert streamed(text, seed=3, refresh_every=17) == whole(text)


@pytest.mark.parametrize(
    ("text", "refresh_every"),
    [  # the first and the last keep one block open throughout, rendered anew at every refresh
        pytest.param(" ".join(f"w{n} **b{n}**" for n in range(300)), 27, id="one long line"),
        pytest.param("".join(f"- item {n}\n" for n in range(200)), 9, id="many list items"),
        pytest.param("".join(f"{n}. item\n" for n in range(1, 130)), 9, id="many ordered items"),
        pytest.param(
            "```c\n" + "".join(f"int v{n} = {n};\n" for n in range(150)) + "```\n", 27, id="long code"
        ),
    ],
)
@pytest.mark.e2e
def test_worst_cases_stream_to_the_same_text(text: str, refresh_every: int) -> None:
    assert streamed(text, seed=1, refresh_every=refresh_every, longest=8) == whole(text)


def test_links_show_their_target_and_no_hyperlink_escape() -> None:
    console = new_console()
    stream(pieces("See [the docs](https://example.com/docs).\n", 0), console)
    assert "\x1b]8;" not in output(console)
    assert "See the docs (https://example.com/docs)." in Terminal.lines_of(output(console))


def test_control_sequences_from_the_model_are_shown_not_obeyed() -> None:
    console = new_console()
    stream(["Hi \x1b]5", "2;c;SGVsbG8=\x07 \x1b", "[2J\x1b[6n \u202eevil\r", "\nnext line\n"], console)
    text = "\n".join(Terminal.lines_of(output(console)))
    assert "^[]52;c;SGVsbG8=^G ^[[2J^[[6n <U+202E>evil next line" in text
    assert "^M" not in text
    assert (
        "\x1b]52" not in output(console)
        and "\x1b[6n" not in output(console)
        and "\x1b[2J" not in output(console)
    )


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_answer_stays_on_screen_in_full_and_the_cursor_comes_back(
    failure: type[BaseException],
) -> None:
    console = new_console()
    partial = "# Title\n\n" + LONG_PARAGRAPH + "\n\n- one\n- two **unfinished"
    with pytest.raises(failure), MarkdownRenderer(console, clock=lambda: 0.0) as renderer:
        for index, part in enumerate(pieces(partial, 0)):
            renderer.feed(part)
            if index % 13 == 0:
                renderer.refresh()
        raise failure
    assert output(console).endswith("\x1b[?25h")
    assert output(console).count("\x1b[?25l") == 1
    assert Terminal.lines_of(output(console)) == whole(partial)


def test_without_a_terminal_closed_blocks_print_as_they_close_and_nothing_is_redrawn() -> None:
    console = new_console(terminal=False)
    with MarkdownRenderer(console, clock=lambda: 0.0) as renderer:
        renderer.feed("First paragraph.\n\nSecond para")
        renderer.refresh()
        assert output(console) == "First paragraph.\n"
        renderer.feed("graph.\n")
    reference = new_console(terminal=False)
    reference.print(ChatMarkdown("First paragraph.\n\nSecond paragraph.\n", "monokai"))
    assert [line.rstrip() for line in output(console).splitlines()] == [
        line.rstrip() for line in output(reference).splitlines()
    ]
    assert "\x1b" not in output(console)


def streamed_with_resize(text: str, seed: int, divisor: int, width: int, height: int) -> list[str]:
    """`text` streamed in pieces, the terminal resized to `width` x `height` after 1/`divisor` of them."""
    parts = pieces(text, seed)
    console, terminal = new_console(), Terminal()
    with MarkdownRenderer(console, clock=lambda: 0.0) as renderer:
        for index, part in enumerate(parts):
            renderer.feed(part)
            renderer.refresh()
            if index == len(parts) // divisor:
                terminal.feed(output(console))
                console.file = io.StringIO()
                console.size = (width, height)
                terminal.screen.resize(height, width)
    terminal.feed(output(console))
    return terminal.lines()


def test_a_terminal_growing_mid_stream_gets_every_line_exactly_once() -> None:
    lines = [f"- line {n} of the answer" for n in range(60)] + ["", "```"] + [f"code {n}" for n in range(40)]
    shown = streamed_with_resize("\n".join(lines) + "\n```\n", 2, 3, WIDTH + 20, HEIGHT + 10)
    for n in range(60):
        assert sum(line.endswith(f"line {n} of the answer") for line in shown) == 1
    for n in range(40):
        assert sum(line.strip() == f"code {n}" for line in shown) == 1


def test_a_terminal_shrinking_mid_stream_duplicates_no_line() -> None:
    lines = [f"Paragraph {n} says something long enough to wrap on a narrow screen." for n in range(30)]
    shown = "\n".join(streamed_with_resize("\n\n".join(lines) + "\n", 4, 2, WIDTH, HEIGHT // 2))
    for n in range(30):
        assert shown.count(f"Paragraph {n} says") <= 1
    assert shown.count("Paragraph 29 says") == 1


def test_text_that_arrives_before_a_pause_is_shown_without_waiting_for_more() -> None:
    console = new_console()
    shown = threading.Event()
    with MarkdownRenderer(console) as renderer:
        renderer.feed("Thinking")
        renderer.feed(" about it")  # too soon after the first update to be drawn at once
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not shown.is_set():
            if "about it" in "\n".join(Terminal.lines_of(output(console))):
                shown.set()
            time.sleep(0.01)
        assert shown.is_set()


FRAGMENTS = [
    "text {n}",
    "**bold {n}** and *em*",
    "# Head {n}",
    "Title {n}\n===",
    "Title {n}\n---",
    "---",
    "- item {n}",
    "* star {n}",
    "1. one {n}",
    "2. two {n}",
    "10. ten {n}",
    "1) paren {n}",
    "  - nested {n}",
    "   more {n}",
    "> quote {n}",
    "> - quoted item {n}",
    ">",
    "```",
    "```py",
    "~~~",
    "````",
    "  ```",
    "    indented {n}",
    "| a | b |",
    "|---|---|",
    "| {n} | x |",
    "<div>",
    "</div>",
    "[r{n}]: https://x/{n}",
    "\ttab {n}",
    "-",
    "",
    "",
    "",
]


def check_random_document(seed: int) -> None:
    rng = random.Random(seed)
    text = "\n".join(rng.choice(FRAGMENTS).format(n=n) for n in range(rng.randint(3, 40)))
    text += "\n" if seed % 3 else ""
    assert streamed(text, seed, refresh_every=rng.choice([1, 2, 5])) == whole(text), text


@pytest.mark.parametrize("seed", range(8))
def test_random_documents_stream_to_the_same_text(seed: int) -> None:
    check_random_document(seed)


@pytest.mark.e2e
@pytest.mark.parametrize("seed", range(8, 30))
def test_many_more_random_documents_stream_to_the_same_text(seed: int) -> None:
    check_random_document(seed)


def test_a_code_block_printed_in_pieces_keeps_the_colours_of_the_whole_block() -> None:
    code = ["def f():", '    """A docstring', *(f"    line {n} of it" for n in range(25)), '    """']
    code += [f"    x{n} = {n}  # comment" for n in range(30)]
    text = "```python\n" + "\n".join(code) + "\n```\n"
    console = new_console()
    console.print(ChatMarkdown(text, "monokai"))
    whole_terminal = Terminal()
    whole_terminal.feed(output(console))
    console = new_console()
    stream(pieces(text, 0), console, refresh_every=3)
    streamed_terminal = Terminal()
    streamed_terminal.feed(output(console))
    assert streamed_terminal.lines() == whole_terminal.lines()
    assert streamed_terminal.colours() == whole_terminal.colours()
