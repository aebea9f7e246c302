"""Table cells wrap instead of being cut with an ellipsis, streamed or rendered whole."""

from __future__ import annotations

from tests.test_render import Terminal, new_console, output, pieces, stream, whole

LONG_CELL = "w" * 80
TABLE = f"| name | data |\n|---|---|\n| {LONG_CELL} | short text |\n| x | {'v' * 70} |\n\nafter\n"


def test_a_long_cell_wraps_and_keeps_every_character_at_60_columns() -> None:
    lines = whole(TABLE, width=60)
    shown = "".join(lines)
    assert "…" not in shown
    assert shown.count("w") == 80
    assert shown.count("v") == 70
    assert all(len(line) <= 60 for line in lines)


def test_a_streamed_table_shows_what_the_whole_answer_shows() -> None:
    console = new_console(60)
    stream(pieces(TABLE, seed=3), console)
    assert Terminal.lines_of(output(console)) == whole(TABLE, width=60)
