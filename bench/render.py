"""Rendering cost of streamed Markdown: chatcli's renderer, a naive re-render per token, plain writes.

`python bench/render.py` feeds recorded answers (bench/answers.py: 1k, 2k, 5k, 20k and 100k tokens of about
four characters) and three worst cases (one 200 KB line without a newline, 10 000 one-line list items, a
5 000-line code block) through (a) chatcli's MarkdownRenderer, (b) a naive `Live(Markdown(whole_text))`
refreshed per token, the way most chat tools render, and (c) plain writes of the sanitised text, all to a
100x30 terminal `Console` writing to /dev/null, and prints CPU seconds and ratios. Tokens are fed as fast as
possible; a second table paces the stream at 2 000 tokens/s in real time. The naive renderer is quadratic: it
is run in full up to 1k tokens; for larger inputs its cost is estimated from re-renders at evenly spaced
prefixes (marked ~), an estimate checked against the full run at 1k. A last table (issue 18) grows one block
that never closes: a single line of 1 to 4 MB streamed, a 100 to 400 KB table of 2 000 columns streamed
(both on a clock simulating 2 000 tokens/s, see run_simulated), and `render_markdown` of 1 to 8 MiB of one
paragraph; each must stay linear (CPU at most 1.5 x the length ratio). The whole run takes about three minutes (--quick: about one); it exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from answers import WORDS, markdown_answer, tokenize
from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from chatcli.render.markdown import PieceContext, render_markdown
from chatcli.render.markdown_renderer import MarkdownRenderer
from chatcli.render.plain import PlainRenderer
from chatcli.render.sanitize import StreamSanitizer

WIDTH, HEIGHT = 100, 30
NAIVE_FULL_UP_TO = 1_000  # tokens; beyond, the naive cost is estimated from samples
NAIVE_SAMPLES = 16
RATE = 2_000  # tokens per second for the paced runs


def terminal() -> Console:
    return Console(
        file=open(os.devnull, "w"), width=WIDTH, height=HEIGHT, force_terminal=True, color_system="truecolor"
    )


def cpu(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return time.process_time() - started


def run_chatcli(tokens: Sequence[str]) -> None:
    with MarkdownRenderer(terminal()) as renderer:
        for token in tokens:
            renderer.feed(token)


def run_plain(tokens: Sequence[str]) -> None:
    with open(os.devnull, "wb") as out, PlainRenderer(out, StreamSanitizer()) as renderer:
        for token in tokens:
            renderer.feed(token)


def run_naive(tokens: Sequence[str]) -> None:
    text = ""
    with Live(console=terminal(), auto_refresh=False) as live:
        for token in tokens:
            text += token
            live.update(Markdown(text), refresh=True)


def estimate_naive(tokens: Sequence[str], samples: int = NAIVE_SAMPLES) -> float:
    """Sum of the naive renderer's per-token cost, from `samples` re-renders at evenly spaced prefixes."""
    ends = [int((index + 0.5) * len(tokens) / samples) + 1 for index in range(samples)]
    spent = 0.0
    with Live(console=terminal(), auto_refresh=False) as live:
        for end in ends:
            text = "".join(tokens[:end])
            spent += cpu(lambda text=text: live.update(Markdown(text), refresh=True))  # type: ignore[misc]
    return spent * len(tokens) / samples


def best_of(runs: int, action: Callable[[], object]) -> float:
    return min(cpu(action) for _ in range(runs))


def worst_cases() -> dict[str, list[str]]:
    words = [WORDS[index % len(WORDS)] for index in range(40_000)]
    for index in range(0, len(words), 23):
        words[index] = f"**{words[index]}**" if index % 2 else f"`{words[index]}`"
    line = " ".join(words)
    while len(line) < 200_000:
        line += " " + line[: 200_000 - len(line)]
    items = "".join(f"- item {index}: {WORDS[index % len(WORDS)]} *value*\n" for index in range(10_000))
    code = "```python\n" + "".join(
        f"result_{index} = compute({index}, 'x')  # step\n" for index in range(5_000)
    )
    return {
        "200 KB line": tokenize(line[:200_000]),
        "10 000 list items": tokenize(items),
        "5 000-line code block": tokenize(code + "```\n"),
    }


MB = 1_000_000
LINEAR_SLACK = 1.5  # CPU may grow up to 1.5 x the length ratio


def one_line(size: int) -> str:
    words = " ".join(WORDS)
    return (words * (size // len(words) + 1))[:size]


def wide_table(size: int, columns: int = 2_000) -> str:
    header = "|" + "|".join(f"c{column}" for column in range(columns)) + "|\n"
    rule = "|" + "|".join("---" for _ in range(columns)) + "|\n"
    row = "|" + "|".join(str(column % 97) for column in range(columns)) + "|\n"
    return header + rule + row * max(1, (size - len(header) - len(rule)) // len(row))


def pieces_of(text: str, size: int = 4) -> list[str]:
    return [text[at : at + size] for at in range(0, len(text), size)]


def run_simulated(tokens: Sequence[str], rate: float = RATE) -> None:
    """chatcli's renderer fed as fast as possible, but on a clock that says the tokens come `rate` per second:
    its updates then happen where they would in real time (on a real clock, a short run makes fewer updates
    than a long one, which hides their cost), and the run takes only its CPU time."""
    fed = 0
    with MarkdownRenderer(terminal(), clock=lambda: fed / rate) as renderer:
        for token in tokens:
            renderer.feed(token)
            fed += 1


def huge_blocks(quick: bool) -> list[tuple[str, float]]:
    """(text, met) lines of the table of blocks that never close; prints as it goes."""
    scale = 4 if quick else 1

    def streamed(text: str, size: int) -> float:
        tokens = pieces_of(text, size)
        return cpu(lambda: run_simulated(tokens))

    def rendered(text: str) -> float:
        console = terminal()
        return best_of(3, lambda: render_markdown(console, text, PieceContext(), "monokai"))

    families: list[tuple[str, list[int], Callable[[int], float]]] = [
        (
            "one line, streamed",
            [MB // scale, 2 * MB // scale, 4 * MB // scale],
            lambda size: streamed(one_line(size), 4),
        ),
        (
            "2 000-column table, streamed",
            [100_000, 200_000, 400_000],
            lambda size: streamed(wide_table(size), 16),
        ),
        (
            "render_markdown, one paragraph",
            [(1 << 20) // scale, (2 << 20) // scale, (4 << 20) // scale, (8 << 20) // scale],
            lambda size: rendered(one_line(size)),
        ),
    ]
    print(f"\none block that never closes (issue 18): CPU seconds, {WIDTH}x{HEIGHT} terminal")
    print(f"{'case':<32}{'chars':>12}{'CPU':>9}{'CPU per MB':>12}")
    targets = []
    for name, sizes, measure in families:
        spent = []
        for size in sizes:
            spent.append(measure(size))
            print(f"{name:<32}{size:>12,}{spent[-1]:>9.3f}{spent[-1] / (size / MB):>12.3f}")
        growth, length = spent[-1] / spent[0], sizes[-1] / sizes[0]
        targets.append(
            (
                f"{name}: CPU x {growth:.1f} for length x {length:.0f} (<= {LINEAR_SLACK * length:.0f} x)",
                growth <= LINEAR_SLACK * length,
            )
        )
    return targets


def paced(tokens: Sequence[str], rate: float) -> tuple[float, float]:
    """(stream seconds, CPU seconds) of chatcli's renderer fed `rate` tokens per second in real time."""
    renderer = MarkdownRenderer(terminal())
    started, cpu_started = time.monotonic(), time.process_time()
    fed = 0
    with renderer:
        while fed < len(tokens):
            due = min(len(tokens), int((time.monotonic() - started) * rate) + 1)
            for token in tokens[fed:due]:
                renderer.feed(token)
            fed = due
            time.sleep(0.002)
    return time.monotonic() - started, time.process_time() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100k answer and the paced 20k run")
    args = parser.parse_args()
    sizes = [1_000, 2_000, 5_000, 20_000] + ([] if args.quick else [100_000])
    cases = {f"answer {size // 1000}k": markdown_answer(size) for size in sizes}
    cases.update(worst_cases())
    run_chatcli(cases["answer 1k"])  # warm up imports and caches

    print(
        f"CPU seconds, tokens fed as fast as possible, {WIDTH}x{HEIGHT} terminal (~: estimated, see --help)\n"
    )
    header = (
        f"{'case':<24}{'tokens':>8}{'chars':>9}{'chatcli':>10}{'naive':>12}{'plain':>9}{'naive/chatcli':>15}"
    )
    print(header + f"{'chatcli/plain':>15}")
    results: dict[str, tuple[float, float]] = {}
    for name, tokens in cases.items():
        ours = best_of(3 if len(tokens) <= 20_000 else 1, lambda tokens=tokens: run_chatcli(tokens))
        plain = best_of(3, lambda tokens=tokens: run_plain(tokens))
        if len(tokens) <= NAIVE_FULL_UP_TO:
            naive, naive_text = cpu(lambda tokens=tokens: run_naive(tokens)), ""
        else:
            naive, naive_text = estimate_naive(tokens), "~"
        naive_text += f"{naive:.2f}"
        results[name] = (ours, naive)
        chars = sum(map(len, tokens))
        print(
            f"{name:<24}{len(tokens):>8}{chars:>9}{ours:>10.3f}{naive_text:>12}{plain:>9.3f}"
            f"{naive / ours:>14.0f}x{ours / plain:>14.1f}x"
        )
    check = estimate_naive(cases["answer 1k"])
    print(f"\nnaive estimate check at 1k: measured {results['answer 1k'][1]:.2f} s, estimated {check:.2f} s")

    print(f"\nchatcli at {RATE} tokens/s in real time")
    print(f"{'case':<24}{'tokens':>8}{'seconds':>10}{'CPU':>8}{'CPU per stream second':>24}")
    paced_cpu: dict[str, float] = {}
    worst = ["200 KB line", "10 000 list items", "5 000-line code block"]
    for name in ["answer 2k", *worst] + ([] if args.quick else ["answer 20k"]):
        tokens = cases[name][:20_000]
        runs = sorted(
            (paced(tokens, RATE) for _ in range(3 if len(tokens) < 5_000 else 1)), key=lambda run: run[1]
        )
        seconds, spent = runs[len(runs) // 2]  # short runs are noisy: the one with the median CPU
        paced_cpu[name] = spent
        print(f"{name:<24}{len(tokens):>8}{seconds:>10.2f}{spent:>8.3f}{spent / seconds:>24.3f}")

    ours_2k, ours_20k, naive_20k = results["answer 2k"][0], results["answer 20k"][0], results["answer 20k"][1]
    targets = [
        (
            f"CPU(20k) <= 15 x CPU(2k), fed at full speed: {ours_20k / ours_2k:.1f} x",
            ours_20k <= 15 * ours_2k,
        ),
        (f"naive CPU(20k) >= 20 x ours: {naive_20k / ours_20k:.0f} x", naive_20k >= 20 * ours_20k),
    ]
    if "answer 20k" in paced_cpu:
        ratio = paced_cpu["answer 20k"] / paced_cpu["answer 2k"]
        targets.append((f"CPU(20k) <= 15 x CPU(2k), at {RATE} tokens/s: {ratio:.1f} x", ratio <= 15))
        per_second = paced_cpu["answer 20k"] / (20_000 / RATE)
        targets.append(
            (f"CPU per second of a {RATE} tokens/s stream < 0.5 s: {per_second:.3f} s", per_second < 0.5)
        )
    targets += huge_blocks(args.quick)
    print("\ntargets")
    for text, met in targets:
        print(f"  {'met ' if met else 'MISSED'}  {text}")
    if not all(met for _, met in targets):
        sys.exit(1)


if __name__ == "__main__":
    main()
