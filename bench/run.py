"""Run every benchmark under bench/ and print one report: the targets and their verdicts, then the details.

Usage: python bench/run.py [--quick] [--readme]
  --quick   smaller sizes and fewer rounds; the full run takes about five minutes on two CPUs
  --readme  also write the report into README.md, between the bench markers of its Performance section
Every other script under bench/ (render.py, library.py, config.py, repl_startup.py, written with those features) runs
too, in its own process; its output is included as it prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence

import oneshot
import startup
import stream
from harness import BENCH, PYTHON, Target, targets_table

README = BENCH.parent / "README.md"
START_MARK = "<!-- bench:start -->"
END_MARK = "<!-- bench:end -->"
OWN = {
    "answers.py",
    "baselines.py",
    "harness.py",
    "minimal_app.py",
    "oneshot.py",
    "run.py",
    "sse_server.py",
    "startup.py",
    "stream.py",
}
EXTERNAL_TIMEOUT = 240


def _external(name: str, quick: bool) -> str:
    path = BENCH / name
    argv = [PYTHON, str(path)]
    if quick and "--quick" in path.read_text(encoding="utf-8"):
        argv.append("--quick")
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=EXTERNAL_TIMEOUT, cwd=BENCH
        )
    except subprocess.TimeoutExpired:
        return f"`bench/{name}` did not finish within {EXTERNAL_TIMEOUT} s."
    text = done.stdout.strip()
    if not any(line.startswith("|") for line in text.splitlines()):  # plain-text columns: keep them aligned
        text = f"```text\n{text}\n```"
    if done.returncode != 0:  # a benchmark may exit 1 for a missed target: its report still counts
        text += f"\n\n(exit {done.returncode})"
        if done.stderr.strip():
            text += f"\n\n```\n{done.stderr.strip()[-1500:]}\n```"
    return text


def report(quick: bool) -> str:
    began = time.monotonic()
    sections: list[str] = []
    targets: list[Target] = []
    start_targets, start_details = startup.measure(rounds=7 if quick else 15)
    targets += start_targets
    sections.append(start_details)
    stream_targets, stream_details = stream.measure(quick)
    targets += stream_targets
    sections.append(stream_details)
    oneshot_targets, oneshot_details = oneshot.measure(rounds=3 if quick else 7)
    targets += oneshot_targets
    sections.append(oneshot_details)
    for path in sorted(BENCH.glob("*.py")):
        if path.name not in OWN:
            sections.append(f"`bench/{path.name}`:\n\n{_external(path.name, quick)}")
    elapsed = time.monotonic() - began
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    machine = (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load}; suite took {elapsed:.0f} s{' (--quick)' if quick else ''}."
    )
    return "\n\n".join([machine, "Targets (issues 6, 13 and 24):\n\n" + targets_table(targets), *sections])


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    start, end = readme.find(START_MARK), readme.find(END_MARK)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no {START_MARK} … {END_MARK} section")
    README.write_text(
        readme[: start + len(START_MARK)] + "\n\n" + text + "\n\n" + readme[end:], encoding="utf-8"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args(argv)
    text = report(args.quick)
    print(text)
    if args.readme:
        write_readme(text)
    sys.exit(0)


if __name__ == "__main__":
    main()
