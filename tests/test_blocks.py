"""Splitting streamed Markdown into closed blocks and the open rest."""

from __future__ import annotations

import pytest

from chatcli.render.blocks import Fence, Split, split_blocks

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
