"""Splitting streamed Markdown into closed blocks and the open rest; the fenced code blocks the splitter finds
are markdown-it's."""

from __future__ import annotations

import random

import pytest

from chatcli.render.blocks import BlockSplitter, Fence, Split, block_tokens, split_blocks

BACKTICKS = Fence("```", 0, "text")

# (text received so far, closed part, open rest, list goes on, open fence)
CASES: list[tuple[str, str, str, bool, Fence | None]] = [
    ("", "", "", False, None),
    ("a partial line", "", "a partial line", False, None),
    ("a paragraph\n", "", "a paragraph\n", False, None),
    ("a paragraph\nstill the same one\n", "", "a paragraph\nstill the same one\n", False, None),
    ("a paragraph\n\n", "a paragraph\n\n", "", False, None),
    ("a paragraph\n\nthe next", "a paragraph\n\n", "the next", False, None),
    ("one\n\ntwo\n\nthree\n", "one\n\ntwo\n\n", "three\n", False, None),
    # headings and rules close with their line; setext headings once underlined
    ("# Title\n", "# Title\n", "", False, None),
    ("# Title\nText", "# Title\n", "Text", False, None),
    ("Title\n", "", "Title\n", False, None),
    ("Title\n=====\n", "Title\n=====\n", "", False, None),
    ("Title\n---\n", "Title\n---\n", "", False, None),
    ("---\n", "---\n", "", False, None),
    # fenced code with backticks and tildes
    ("```python\nx = 1\n", "", "```python\nx = 1\n", False, Fence("```", 0, "python")),
    ("```python\nx = 1\n\n\ny = 2\n", "", "```python\nx = 1\n\n\ny = 2\n", False, Fence("```", 0, "python")),
    ("```python\nx = 1\n``", "", "```python\nx = 1\n``", False, Fence("```", 0, "python")),
    ("```python\nx = 1\n```\n", "```python\nx = 1\n```\n", "", False, None),
    ("```python\nx = 1\n```\nafter", "```python\nx = 1\n```\n", "after", False, None),
    ("~~~~\n~~~\ncode\n", "", "~~~~\n~~~\ncode\n", False, Fence("~~~~", 0, "text")),
    ("~~~\ncode\n```\n", "", "~~~\ncode\n```\n", False, Fence("~~~", 0, "text")),
    ("````md\n```\n````\n", "````md\n```\n````\n", "", False, None),
    ("~~~ js  extra\ncode\n~~~~  \n", "~~~ js  extra\ncode\n~~~~  \n", "", False, None),
    ("  ```js\n  x\n", "", "  ```js\n  x\n", False, Fence("```", 2, "js")),
    ("```\nx\n    ```\n", "", "```\nx\n    ```\n", False, BACKTICKS),
    ("```\nx\n``` not a closer\n", "", "```\nx\n``` not a closer\n", False, BACKTICKS),
    ("Intro\n```\ncode\n", "Intro\n", "```\ncode\n", False, BACKTICKS),
    ("Intro\n\n```\ncode\n", "Intro\n\n", "```\ncode\n", False, BACKTICKS),
    # lists: items close when the next one starts; a blank line does not end a list
    ("- a\n", "", "- a\n", False, None),
    ("- a\n- b\n", "- a\n", "- b\n", True, None),
    ("- a\n- b\n- c", "- a\n", "- b\n- c", True, None),
    ("- a\n\n", "", "- a\n\n", False, None),
    ("- a\n\n- b\n\n", "- a\n\n", "- b\n\n", True, None),
    ("- a\n\n  more of a\n- b\n", "- a\n\n  more of a\n", "- b\n", True, None),
    ("- a\nlazy continuation\n", "", "- a\nlazy continuation\n", False, None),
    ("- a\n  - nested\n  - nested too\n", "", "- a\n  - nested\n  - nested too\n", False, None),
    ("1. a\n2. b\n3", "1. a\n", "2. b\n3", True, None),
    ("- a\n\nafter the list\n", "- a\n\n", "after the list\n", False, None),
    ("- a\n* b\n", "- a\n", "* b\n", False, None),
    ("- a\n1. b\n", "- a\n", "1. b\n", False, None),
    # a fence inside a list item holds its blank lines and list-like lines
    (
        "- item\n  ```\n  code\n\n  - not an item\n",
        "",
        "- item\n  ```\n  code\n\n  - not an item\n",
        False,
        None,
    ),
    (
        "- item\n  ```\n  code\n\n  - not an item\n  ```\n- next\n",
        "- item\n  ```\n  code\n\n  - not an item\n  ```\n",
        "- next\n",
        True,
        None,
    ),
    # a paragraph that turns into a list, or does not (only "1." may interrupt a paragraph)
    ("Intro:\n-", "", "Intro:\n-", False, None),
    ("Intro:\n- a\n", "Intro:\n", "- a\n", False, None),
    ("Intro:\n1. a\n", "Intro:\n", "1. a\n", False, None),
    ("Intro:\n2. a\n", "", "Intro:\n2. a\n", False, None),
    # tables close at the blank line after them; a paragraph turns into one with its delimiter row
    ("| a | b |\n", "", "| a | b |\n", False, None),
    ("| a | b |\n|---|---|\n| 1 | 2 |\n", "", "| a | b |\n|---|---|\n| 1 | 2 |\n", False, None),
    ("| a | b |\n|---|---|\n| 1 | 2 |\n\n", "| a | b |\n|---|---|\n| 1 | 2 |\n\n", "", False, None),
    # block quotes close at a blank line; indented code may go on after one
    ("> a\n> b\n", "", "> a\n> b\n", False, None),
    ("> a\n>\n> b\n\n", "> a\n>\n> b\n\n", "", False, None),
    ("    code\n\n", "", "    code\n\n", False, None),
    ("    code\n\nafter\n", "    code\n\n", "after\n", False, None),
    # link reference definitions are not resolved (one may follow the links using it): they are paragraphs
    ("[1]: https://example.com\n", "", "[1]: https://example.com\n", False, None),
    ("[1]: https://example.com\n\n", "[1]: https://example.com\n\n", "", False, None),
]


@pytest.mark.parametrize(("text", "closed", "rest", "list_goes_on", "fence"), CASES)
def test_split_blocks(text: str, closed: str, rest: str, list_goes_on: bool, fence: Fence | None) -> None:
    assert split_blocks(text) == Split(closed, rest, list_goes_on, fence)


@pytest.mark.parametrize(
    ("fence", "line", "closes"),
    [
        (BACKTICKS, "```", True),
        (BACKTICKS, "```\n", True),
        (BACKTICKS, "   `````  \t", True),
        (BACKTICKS, "``", False),
        (BACKTICKS, "    ```", False),
        (BACKTICKS, "~~~", False),
        (BACKTICKS, "``` python", False),
        (Fence("~~~~", 0, "text"), "~~~", False),
        (Fence("~~~~", 0, "text"), "~~~~~", True),
    ],
)
def test_closing_fence(fence: Fence, line: str, closes: bool) -> None:
    assert fence.is_closed_by(line) is closes


def test_code_lines_lose_the_indentation_of_their_fence_only() -> None:
    fence = Fence("```", 2, "text")
    assert [fence.code(line) for line in ["  x", "    y", " z", "w", ""]] == ["x", "  y", "z", "w", ""]


def test_a_tab_in_the_indentation_of_a_code_line_counts_to_the_next_tab_stop() -> None:
    fence = Fence("```", 2, "text")
    assert [fence.code(line) for line in ["\tx", " \ty", "  \tz"]] == ["  x", "  y", "\tz"]


# Lines that open, close or only look like fences (CommonMark: ``` or ~~~, 3 or more, up to 3 spaces of
# indentation, a closing fence of the same character at least as long, no backtick in a backtick fence's info
# string), in list items and quotes, among lines of other blocks.
FENCE_LINES = [
    "```",
    "```py",
    "````",
    "`````",
    "~~~",
    "~~~~",
    "~~~ js extra",
    " ```",
    "  ~~~",
    "   ```",
    "    ```",
    "\t```",
    "``` a`b",
    "~~~ a`b",
    "```  ",
    "``",
    "- ```",
    "  ```",
    "1. ~~~",
    "   ~~~",
    "> ```",
    "> ~~~~",
    ">",
]
OTHER_LINES = [
    "code {n}",
    "  indented {n}",
    "    four spaces {n}",
    "\ttab {n}",
    "text {n}",
    "- item {n}",
    "> quote {n}",
    "# Head {n}",
    "<div>",
    "| a | b |",
    "",
    "",
]


def fence_document(rng: random.Random) -> str:
    """A document of fences, fence-like lines and other blocks mixed at random."""
    lines = [
        rng.choice(FENCE_LINES if rng.random() < 0.4 else OTHER_LINES).format(n=n)
        for n in range(rng.randint(2, 30))
    ]
    return "\n".join(lines) + rng.choice(["", "\n"])


def line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def fence_spans(text: str, first_line: int = 0) -> list[tuple[int, int]]:
    """markdown-it's fenced code blocks in `text`, at any depth: first and past-last line of each."""
    return [
        (first_line + token.map[0], first_line + token.map[1])
        for token in block_tokens(text)
        if token.type == "fence" and token.map is not None
    ]


def splitter_fence_spans(text: str, seed: int) -> list[tuple[int, int]]:
    """The fenced code blocks as the renderer's splitter finds them, `text` streamed in random pieces: the
    top-level ones it cuts off itself, and those inside the pieces it cuts off as markdown-it parses them."""
    rng = random.Random(seed)
    splitter = BlockSplitter(huge_block=1 << 16)
    pieces, at = [], 0
    while at < len(text):
        step = rng.randint(1, 12)
        splitter.add(text[at : at + step])
        at += step
        pieces += splitter.closed_pieces(final=False)
    pieces += splitter.closed_pieces(final=True)
    assert "".join(piece.text for piece in pieces) == text
    spans, line = [], 0
    for piece in pieces:
        if piece.fence is not None:
            spans.append((line, line + line_count(piece.text)))
        else:
            spans += fence_spans(piece.text, line)
        line += line_count(piece.text)
    return spans


def test_the_splitter_finds_the_fenced_code_blocks_markdown_it_finds() -> None:
    for seed in range(300):
        text = fence_document(random.Random(seed))
        assert splitter_fence_spans(text, seed) == fence_spans(text), text


@pytest.mark.e2e
def test_the_splitter_finds_markdown_its_fenced_code_blocks_in_many_more_documents() -> None:
    for seed in range(300, 1_200):
        text = fence_document(random.Random(seed))
        assert splitter_fence_spans(text, seed) == fence_spans(text), text
