"""The fenced code blocks `ask -x` and `/copy` take are the ones the screen shows: markdown-it's."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from chatcli.render.blocks import block_tokens
from chatcli.render.code_blocks import CodeBlock, code_blocks, fenced_code_blocks
from chatcli.render.markdown_renderer import MarkdownRenderer
from tests.terminal import Terminal
from tests.test_blocks import fence_document

WIDTH, HEIGHT = 80, 24
CODE_BACKGROUND = "272822"  # monokai's, which no other element of an answer uses


@pytest.mark.parametrize(
    ("answer", "blocks"),
    [
        pytest.param("> ```py\n> x = 1\n> ```\n", ["x = 1"], id="in a quote"),
        pytest.param(
            "- item\n  ```\n  code\n    more\n  ```\n- next\n", ["code\n  more"], id="in a list item"
        ),
        pytest.param("- ```\n  a\n- b\n", ["a"], id="unclosed, ends with its list item"),
        pytest.param("1. ~~~sh\n   ls\n\nafter\n", ["ls"], id="unclosed, ends with its numbered item"),
        pytest.param("```\nx\n    ```\ny\n```\n", ["x\n    ```\ny"], id="4 spaces: no closing fence"),
        pytest.param("  ```\n  x\n y\nz\n     ```\n", ["x\ny\nz\n   ```"], id="indented fence"),
        pytest.param("````\n```\nnested\n```\n`````\n", ["```\nnested\n```"], id="longer closing fence"),
        pytest.param("``` a`b\n~~~ a`b\nc\n~~~\n", ["c"], id="backtick in the info string"),
        pytest.param("```sh\nls -l", ["ls -l"], id="cut off"),
        pytest.param("text\n```\n```\n", [""], id="empty"),
    ],
)
def test_code_blocks_are_the_fences_markdown_it_finds(answer: str, blocks: list[str]) -> None:
    assert code_blocks(answer) == blocks


def test_a_code_block_knows_its_language_and_lines() -> None:
    answer = "Intro\n\n~~~~python  extra words\nprint(1)\n~~~~~\n\n```\nplain\n"
    assert fenced_code_blocks(answer) == [
        CodeBlock("print(1)", "python", (2, 5)),
        CodeBlock("plain", "", (6, 8)),
    ]


def shown_code_rows(answer: str, seed: int) -> list[str]:
    """The rows of code blocks a terminal shows after the streaming renderer drew `answer`, fed in random
    pieces: the rows on the code background (padding rows included, code blocks in a row of list items touch),
    without the padding column before them and trailing blanks."""
    console = Console(
        file=io.StringIO(), width=WIDTH, height=HEIGHT, force_terminal=True, color_system="truecolor"
    )
    rng = random.Random(seed)
    with MarkdownRenderer(console, clock=lambda: 0.0) as renderer:
        at = 0
        while at < len(answer):
            step = rng.randint(1, 12)
            renderer.feed(answer[at : at + step])
            at += step
            if rng.random() < 0.3:
                renderer.refresh()
    terminal = Terminal(WIDTH, HEIGHT)
    assert isinstance(console.file, io.StringIO)
    terminal.feed(console.file.getvalue())
    screen = terminal.screen
    rows = []
    for row in [*screen.history.top, *(screen.buffer[y] for y in range(screen.lines))]:
        # From the first to the last character on the code background (a lexer's error token has its own).
        on_code = [x for x in range(WIDTH) if row[x].bg == CODE_BACKGROUND]
        if on_code:
            rows.append("".join(row[x].data for x in range(on_code[0] + 1, on_code[-1] + 1)).rstrip())
    return rows


def as_shown(code: str) -> str:
    """Code as a code block shows it: tabs expanded, trailing blanks left out."""
    return "\n".join(line.expandtabs(4).rstrip() for line in code.split("\n")).rstrip()


def copied_and_indented_rows(answer: str) -> list[str]:
    """The rows the blocks `code_blocks` takes show as, with a padding row above and below each, in order with
    the indented code blocks (which show as code blocks too, and are no fences)."""
    copied = iter(code_blocks(answer))
    return [
        row
        for token in block_tokens(answer)
        if token.type in ("fence", "code_block")
        for row in ["", *as_shown(next(copied) if token.type == "fence" else token.content).split("\n"), ""]
    ]


def test_extract_and_copy_take_the_code_blocks_the_screen_shows() -> None:
    for seed in range(15):
        answer = fence_document(random.Random(seed))
        assert shown_code_rows(answer, seed) == copied_and_indented_rows(answer), answer


@pytest.mark.e2e
def test_extract_and_copy_take_the_code_blocks_the_screen_shows_in_many_more_answers() -> None:
    for seed in range(15, 80):
        answer = fence_document(random.Random(seed))
        assert shown_code_rows(answer, seed) == copied_and_indented_rows(answer), answer
