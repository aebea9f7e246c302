"""Start-up: `chatcli --help`, `--version` and piped `ask -b echo` against the same calls of a minimal Typer app.

Runs every command once per round, interleaved, for several rounds, and compares median wall times (the floor is
bench/minimal_app.py, measured in the same run). Also shows the reference costs the design avoids paying.
Usage: python bench/startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence

from harness import (
    BENCH,
    CHATCLI,
    PYTHON,
    Target,
    bench_env,
    markdown_table,
    median,
    run_piped,
    temporary_home,
)

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


def measure(rounds: int = 15) -> tuple[list[Target], str]:
    with temporary_home() as home:
        return _measure(bench_env(home), rounds)


def _measure(env: dict[str, str], rounds: int) -> tuple[list[Target], str]:
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    subjects: list[tuple[str, Sequence[str], bytes]] = []
    for name, (ours_argv, floor_argv, stdin) in PAIRS.items():
        subjects += [(f"chatcli {name}", ours_argv, stdin), (f"minimal {name}", floor_argv, stdin)]
    subjects += [(name, argv, b"") for name, argv in REFERENCES.items()]
    for _argv_name, argv, stdin in subjects:  # warm the page cache and the .pyc files
        run_piped(argv, env, stdin)
    for _ in range(rounds):
        for name, argv, stdin in subjects:
            run = run_piped(argv, env, stdin)
            walls.setdefault(name, []).append(run.wall)
            cpus.setdefault(name, []).append(run.cpu)

    rows = []
    targets = []
    for name in PAIRS:
        ours, floor = walls[f"chatcli {name}"], walls[f"minimal {name}"]
        # The verdict uses each command's best wall time: other load on the machine only ever adds to it.
        ratio = min(ours) / min(floor)
        ours_cpu, floor_cpu = median(cpus[f"chatcli {name}"]), median(cpus[f"minimal {name}"])
        rows.append(
            (
                f"`chatcli {name}`",
                f"{min(ours) * 1e3:.0f} / {min(floor) * 1e3:.0f}",
                f"{ratio:.2f}",
                f"{median(ours) * 1e3:.0f} / {median(floor) * 1e3:.0f}",
                f"{median(ours) / median(floor):.2f}",
                f"{ours_cpu * 1e3:.0f} / {floor_cpu * 1e3:.0f}",
                f"{ours_cpu / floor_cpu:.2f}",
            )
        )
        targets.append(
            Target(
                f"start-up `{name}` vs minimal Typer app (best wall)",
                f"{ratio:.2f} ×",
                f"≤ {LIMIT} ×",
                ratio <= LIMIT,
            )
        )
    header = (
        "command",
        "best wall ms, chatcli / minimal app",
        "ratio",
        "median wall ms",
        "ratio",
        "median CPU ms",
        "ratio",
    )
    table = markdown_table(header, rows)
    reference_rows = [(f"`{name}`", f"{median(walls[name]) * 1e3:.0f}") for name in REFERENCES]
    table += "\n\n" + markdown_table(("reference", "wall ms (median)"), reference_rows)

    prompt_walls = repl_first_prompt(env, min(rounds, 7))
    echo, background = median(prompt_walls["echo"]), median(prompt_walls["openai"])
    import_openai = median(walls["python -c 'import openai'"]) - median(walls["python -c pass"])
    table += "\n\n" + markdown_table(
        ("REPL on an 80x24 terminal", "first prompt drawn, ms (median)"),
        [
            ("`chatcli -b echo`", f"{echo * 1e3:.0f}"),
            ("`chatcli -b openai` (openai imported in the background)", f"{background * 1e3:.0f}"),
        ],
    )
    waited = background - echo
    targets.append(
        Target(
            "REPL's first prompt does not wait for `import openai`",
            f"{waited * 1e3:+.0f} ms over echo (the import alone: {import_openai * 1e3:.0f} ms)",
            "< half the import",
            waited < import_openai / 2,
        )
    )
    return (
        targets,
        f"Start-up, {rounds} interleaved rounds (the REPL: {min(rounds, 7)}, median):\n\n{table}",
    )


def repl_first_prompt(env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Seconds from spawning the REPL to its first prompt being drawn (prompt_toolkit shows the cursor last)."""
    import pexpect  # type: ignore[import-untyped]

    # Asked of a child: importing prompt_toolkit here would grow this process, and its size at spawn counts
    # in the peak RSS of every child measured after it.
    ask = "from chatcli.repl.prompt import PROMPT; print(PROMPT.strip())"
    prompt = subprocess.run([PYTHON, "-c", ask], capture_output=True, check=True, env=env).stdout.strip()
    drawn = re.escape(prompt) + rb"[\s\S]*?\x1b\[\?25h"
    argvs = {"echo": ["-b", "echo"], "openai": ["-b", "openai", "--base-url", "http://127.0.0.1:9/v1"]}
    walls: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(rounds):
        for name, args in argvs.items():
            started = time.monotonic()
            child = pexpect.spawn(CHATCLI, args, env=env, dimensions=(24, 80), timeout=60)
            child.expect(drawn)
            walls[name].append(time.monotonic() - started)
            child.sendeof()
            child.expect(pexpect.EOF)
            child.close()
    return walls


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
