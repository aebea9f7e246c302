"""The fenced code blocks of a Markdown answer, found by the parser that renders it (markdown-it's `fence`
tokens), so that /copy in the chat and `ask -x/--extract` take the blocks the screen shows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One fenced code block: its code (without its fences, the indentation of its fence, the markers of a list
    or quote around it and the blank lines at its end, which the screen does not show either), its language (the info string's first word, "" for none), and
    its first and past-last line in the answer, fences included."""

    code: str
    language: str
    lines: tuple[int, int]


def fenced_code_blocks(markdown: str) -> list[CodeBlock]:
    """The fenced code blocks of `markdown`, at any depth, in order; an unclosed last one (a cut-off answer)
    runs to the end of its list item, quote or answer, as on the screen."""
    from chatcli.render.blocks import block_tokens

    return [
        CodeBlock(
            _without_blank_end(token.content), token.info.partition(" ")[0], (token.map[0], token.map[1])
        )
        for token in block_tokens(markdown)
        if token.type == "fence" and token.map is not None
    ]


def _without_blank_end(code: str) -> str:
    lines = code.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def code_blocks(markdown: str) -> list[str]:
    """The code of each fenced code block of `markdown` (see `fenced_code_blocks`)."""
    return [block.code for block in fenced_code_blocks(markdown)]
