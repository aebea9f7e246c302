"""Counting in messages: `plural(1, "turn")` is "1 turn", `plural(2, "turn")` is "2 turns"."""


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun, singular for exactly one; `nouns` when adding an s is wrong."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"
