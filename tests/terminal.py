"""Reading what a pyte terminal emulator shows, scrollback included, for the rendering tests."""

from __future__ import annotations

import pyte


def shown_lines(screen: pyte.HistoryScreen) -> list[str]:
    """Every line in the scrollback and on the screen, without trailing blanks and final blank lines."""
    lines = ["".join(line[x].data for x in sorted(line)).rstrip() for line in screen.history.top]
    lines += [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines
