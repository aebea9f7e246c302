"""The fenced code blocks of a Markdown answer: for /copy in the chat and `ask -x/--extract`."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks in `markdown`; an unclosed last one (a cut-off answer) too."""
    blocks: list[str] = []
    lines: list[str] | None = None
    fence = ""
    for line in markdown.splitlines():
        if lines is None:
            match = _FENCE.match(line)
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence, lines = match.group(1), []
            continue
        closing = line.strip()
        if closing.startswith(fence) and closing == fence[0] * len(closing):
            blocks.append("\n".join(lines))
            lines = None
        else:
            lines.append(line)
    if lines is not None:
        blocks.append("\n".join(lines))
    return blocks
