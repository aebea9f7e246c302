"""Realistic Markdown answers for benchmarks, deterministic, cut into tokens of about 4 characters.

Shared by every script under bench/: `markdown_answer(n)` returns n tokens whose concatenation is a plausible
model answer (headings, paragraphs with emphasis, inline code and links, tight and loose lists, fenced code,
tables, block quotes), the same text for the same n and seed.
"""

from __future__ import annotations

import random
import re

VOCABULARY = (
    "the a of to and in is it that for on with as this by be are from or an at which can not you your we "
    "stream server client request response token buffer render terminal model answer message session "
    "function value return error file line block cache memory latency throughput connection timeout "
    "python markdown parser event chunk delta output input configuration default option command "
    "simple fast small large quick careful linear constant efficient robust streaming incremental "
    "data bytes text string list table code example result test benchmark process thread signal"
)
WORDS = VOCABULARY.split()
# The commonest English words, for text that reads like a conversation's (bench/library.py, conversation_tree.py).
GLUE_WORDS = tuple(
    [
        "the",
        "of",
        "and",
        "to",
        "a",
        "in",
        "is",
        "it",
        "that",
        "for",
        "you",
        "was",
        "with",
        "on",
        "as",
        "have",
        "be",
        "at",
        "by",
        "this",
        "not",
        "are",
        "but",
        "from",
        "or",
    ]
)

CODE_LINES = (
    "def {w}_{v}(items: list[str]) -> int:",
    "    total = 0",
    "    for item in items:",
    '        if item.startswith("{w}"):',
    "            total += len(item)",
    "    return total",
    'with open("{w}.txt", encoding="utf-8") as handle:',
    '    {v} = [line.rstrip("\\n") for line in handle]',
    "result = {w}_{v}({v})  # count the {w} lines",
    'print(f"{{result}} {w} found")',
    "class {W}{V}:",
    "    def __init__(self, {v}: int = 0) -> None:",
    "        self.{v} = {v}",
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    for index in range(len(words)):
        roll = rng.random()
        if roll < 0.04:
            words[index] = f"**{words[index]}**"
        elif roll < 0.07:
            words[index] = f"`{words[index]}()`"
        elif roll < 0.08:
            words[index] = f"*{words[index]}*"
        elif roll < 0.085:
            words[index] = f"[{words[index]}](https://example.com/docs/{words[index]})"
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....?!:")


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _code(rng: random.Random) -> str:
    w, v = rng.choice(WORDS[20:]), rng.choice(WORDS[20:])
    lines = [
        rng.choice(CODE_LINES).format(w=w, v=v, W=w.title(), V=v.title()) for _ in range(rng.randint(4, 14))
    ]
    return "```python\n" + "\n".join(lines) + "\n```"


def _table(rng: random.Random) -> str:
    columns = rng.randint(2, 4)
    header = [rng.choice(WORDS[20:]).title() for _ in range(columns)]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * columns]
    for _ in range(rng.randint(2, 6)):
        cells = [f"{rng.choice(WORDS)} {rng.randint(1, 999)}" for _ in range(columns)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _block(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.10:
        return "#" * rng.randint(2, 3) + " " + _sentence(rng).rstrip(".?!:")
    if roll < 0.45:
        return _paragraph(rng)
    if roll < 0.62:
        marker = rng.choice(("-", "*", "1."))
        items = []
        for number in range(1, rng.randint(3, 7)):
            bullet = f"{number}." if marker == "1." else marker
            items.append(f"{bullet} {_sentence(rng)}")
            if rng.random() < 0.2:
                items.append(f"   - {_sentence(rng)}")
        return "\n".join(items)
    if roll < 0.80:
        return _code(rng)
    if roll < 0.90:
        return _table(rng)
    return "> " + _sentence(rng) + "\n> " + _sentence(rng)


_TOKEN = re.compile(r"\n|[ \t]*[^\s]+|[ \t]+")


def tokenize(text: str) -> list[str]:
    """Cut text like a BPE tokenizer roughly does: words with their leading space, long words in 4-char pieces."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        piece = match.group()
        while len(piece) > 6:
            tokens.append(piece[:4])
            piece = piece[4:]
        tokens.append(piece)
    return tokens


def markdown_answer(n_tokens: int, seed: int = 0) -> list[str]:
    """Exactly `n_tokens` tokens of a Markdown answer (the last block may be cut off mid-way)."""
    rng = random.Random(seed)
    tokens: list[str] = []
    first = True
    while len(tokens) < n_tokens:
        block = _paragraph(rng) if first else _block(rng)
        tokens.extend(tokenize(block if first else "\n\n" + block))
        first = False
    return tokens[:n_tokens]


if __name__ == "__main__":
    sample = markdown_answer(400)
    print("".join(sample))
    print(f"\n[{len(sample)} tokens, {sum(map(len, sample)) / len(sample):.2f} chars/token]")
