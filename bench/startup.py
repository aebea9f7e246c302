"""Start-up: `chatcli --help`, `--version` and piped `ask -b echo` against the same calls of a minimal Typer app.

Runs every command once per round, interleaved, for several rounds, and compares median wall times (the floor is
bench/minimal_app.py, measured in the same run). Also shows the reference costs the design avoids paying.
Usage: python bench/startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import BENCH, CHATCLI, PYTHON, Target, bench_env, markdown_table, median, private_home, run_piped

LIMIT = 1.25
MINIMAL = [PYTHON, str(BENCH / "minimal_app.py")]

# name -> (chatcli argv, minimal app argv, stdin)
PAIRS: dict[str, tuple[list[str], list[str], bytes]] = {
    "--help": ([CHATCLI, "--help"], [*MINIMAL, "--help"], b""),
    "--version": ([CHATCLI, "--version"], [*MINIMAL, "--version"], b""),
    "echo hi \\| ask -b echo": ([CHATCLI, "ask", "-b", "echo"], [*MINIMAL, "ask"], b"hi\n"),
}
REFERENCES: dict[str, list[str]] = {
    "python -c pass": [PYTHON, "-c", "pass"],
    "python -c 'import typer'": [PYTHON, "-c", "import typer"],
    "python -c 'import rich.markdown'": [PYTHON, "-c", "import rich.markdown"],
    "python -c 'import prompt_toolkit'": [PYTHON, "-c", "import prompt_toolkit"],
    "python -c 'import openai'": [PYTHON, "-c", "import openai"],
}


def measure(rounds: int = 15, references: bool = True) -> tuple[list[Target], str]:
    env = bench_env(private_home())
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    subjects: list[tuple[str, Sequence[str], bytes]] = []
    for name, (ours, floor, stdin) in PAIRS.items():
        subjects += [(f"chatcli {name}", ours, stdin), (f"minimal {name}", floor, stdin)]
    if references:
        subjects += [(name, argv, b"") for name, argv in REFERENCES.items()]
    for argv_name, argv, stdin in subjects:  # warm the page cache and the .pyc files
        run_piped(argv, env, stdin)
    for _ in range(rounds):
        for name, argv, stdin in subjects:
            run = run_piped(argv, env, stdin)
            walls.setdefault(name, []).append(run.wall)
            cpus.setdefault(name, []).append(run.cpu)

    rows = []
    targets = []
    for name in PAIRS:
        ours, floor = median(walls[f"chatcli {name}"]), median(walls[f"minimal {name}"])
        ratio = ours / floor
        rows.append(
            (
                f"`chatcli {name}`",
                f"{ours * 1e3:.0f}",
                f"{median(cpus[f'chatcli {name}']) * 1e3:.0f}",
                f"{floor * 1e3:.0f}",
                f"{ratio:.2f}",
            )
        )
        targets.append(
            Target(
                f"start-up `{name}` vs minimal Typer app", f"{ratio:.2f} ×", f"≤ {LIMIT} ×", ratio <= LIMIT
            )
        )
    table = markdown_table(("command", "wall ms (median)", "CPU ms", "minimal app wall ms", "ratio"), rows)
    if references:
        reference_rows = [(f"`{name}`", f"{median(walls[name]) * 1e3:.0f}") for name in REFERENCES]
        table += "\n\n" + markdown_table(("reference", "wall ms (median)"), reference_rows)
    return targets, f"Start-up, median of {rounds} interleaved rounds:\n\n{table}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    targets, details = measure(args.rounds)
    print(details)
    print()
    from harness import targets_table

    print(targets_table(targets))
    sys.exit(0)


if __name__ == "__main__":
    main()
