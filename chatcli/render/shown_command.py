"""A shell command as the terminal shows it before it may run: whole, line by line, with every character that
could act on the terminal or hide what the shell will see made visible.

Stricter than `sanitize`, which is for reading: a CR (also in CRLF), a tab, the zero-width joiners, private-use
and unassigned code points and every space but the ASCII one are shown too, because here the reader decides
whether to run exactly these characters."""

from __future__ import annotations

GUTTER = "│ "  # before each line of the command, so that blank and look-alike lines are seen as part of it


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return "^" + chr(code ^ 0x40)  # ESC -> ^[, CR -> ^M, TAB -> ^I, DEL -> ^?
    return f"<U+{code:04X}>"


def visible_command(command: str) -> str:
    """`command` with every character but the newline and the printable ones shown in an inert, visible form.

    Python's printable characters are exactly those outside Unicode's Other (control, format, surrogate,
    private-use, unassigned) and Separator categories, the ASCII space aside: bidi overrides, zero-width
    characters, tags and no-break spaces (which look like a space but join words) are all shown."""
    lines = command.split("\n")
    if all(line.isprintable() for line in lines):
        return command
    return "\n".join(
        "".join(char if char.isprintable() else _visible(char) for char in line) for line in lines
    )


def command_lines(command: str) -> list[str]:
    """The command's lines as shown: visible characters, each line behind the gutter."""
    return [GUTTER + line for line in visible_command(command).split("\n")]
