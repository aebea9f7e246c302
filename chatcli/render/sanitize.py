"""Neutralise terminal control sequences in untrusted text before it reaches a terminal."""

from __future__ import annotations

# Invisible formatting marks: zero-width space, direction marks (U+200E/F), the Arabic letter mark, the
# byte-order mark / zero-width no-break space, line and paragraph separators, soft hyphen. They can hide or
# reorder text on screen, so they are shown as <U+XXXX> (and dropped from titles). The zero-width joiner and
# non-joiner (U+200D, U+200C) stay: emoji sequences and Persian and Indic scripts need them, and alone they
# neither hide nor reorder anything.
INVISIBLE_MARKS = (0x200B, 0x200E, 0x200F, 0x061C, 0xFEFF, 0x2028, 0x2029, 0x00AD)


def _visible_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if code not in (0x09, 0x0A):  # tab and newline stay
            table[code] = "^" + chr(code + 0x40)  # ESC -> ^[, BEL -> ^G, CR -> ^M
    table[0x7F] = "^?"
    # C1 controls (CSI U+009B, OSC U+009D, …), bidi overrides and isolates, Unicode tag characters.
    invisible = [
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xE0000, 0xE0080),
        *INVISIBLE_MARKS,
    ]
    for code in invisible:
        table[code] = f"<U+{code:04X}>"
    return table


_TABLE = _visible_table()
_DROP_MARKS = dict.fromkeys(INVISIBLE_MARKS)


def sanitize(text: str) -> str:
    """Return `text` with every control character shown in a visible, inert form; CRLF becomes LF."""
    return text.replace("\r\n", "\n").translate(_TABLE)


def sanitize_title(text: str) -> str:
    """A one-line label (a conversation's title): invisible marks dropped, other controls made visible."""
    return sanitize(text.translate(_DROP_MARKS))


class StreamSanitizer:
    """`sanitize` for text that arrives in pieces: a CR at the end of a piece waits for the next one,
    so a CRLF split across two pieces still becomes one newline. Mapping is per character, so an escape
    sequence split across pieces is neutralised just the same."""

    __slots__ = ("_pending_cr",)

    def __init__(self) -> None:
        self._pending_cr = False

    def feed(self, piece: str) -> str:
        if self._pending_cr:
            piece = "\r" + piece
            self._pending_cr = False
        if piece.endswith("\r"):
            piece = piece[:-1]
            self._pending_cr = True
        return sanitize(piece)

    def flush(self) -> str:
        """What is still held back once the stream has ended."""
        if self._pending_cr:
            self._pending_cr = False
            return sanitize("\r")
        return ""
