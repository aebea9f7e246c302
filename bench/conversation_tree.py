"""A long conversation and its family: `history show` and `history list --tree` grow linearly with their size.

For 2 500, 5 000 and 10 000 messages: a fresh library holding one conversation of that many messages and a tenth as
many conversations made from it (half forked from it at message 2, half a chain, each forked from the one before),
then the installed command's wall time on a pipe, start-up included, of `history show` of the long conversation
(piped: its Markdown; on an 80x24 terminal: rendered), and of `history list --tree` of every conversation; then
the same work in-process, without start-up (reading and printing the conversation piped; reading and arranging
the tree). The
target: the cost per message (per listed conversation for the tree) at the largest size, start-up (`chatcli
--version`) subtracted, stays within 1.5 times the cost at the smallest, as it does when time is linear.
Usage: python bench/conversation_tree.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import (
    CHATCLI,
    Run,
    Target,
    bench_env,
    median,
    private_home,
    run_on_terminal,
    run_piped,
    targets_table,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from answers import GLUE_WORDS

from chatcli.cli.history import _tree as arrange_tree
from chatcli.cli.history import print_conversation
from chatcli.core.conversation import Conversation, Message
from chatcli.storage.library import Library

SIZES = (2_500, 5_000, 10_000)
LINEAR_SLACK = 1.5  # the largest size's cost per element over the smallest's


def fill(path: Path, messages: int, seed: int = 11) -> str:
    """One conversation of `messages` messages and messages // 10 made from it; return its id."""
    rng = random.Random(seed)
    body = [
        Message(role, " ".join(rng.choices(GLUE_WORDS, k=rng.randint(10, 60))))
        for role in ("user", "assistant") * (messages // 2)
    ]
    with Library(path) as library:
        long_id = library.add_conversation(Conversation(body, "model-0"))
        parent = long_id
        for number in range(messages // 10):
            if number % 2:
                library.fork(long_id, 2)
            else:
                parent = library.fork(parent, 2)
    return long_id


Runner = Callable[[Sequence[str], dict[str, str]], Run]


def _seconds(argv: Sequence[str], env: dict[str, str], rounds: int, runner: Runner) -> float:
    runs = [runner(argv, env) for _ in range(rounds + 1)][1:]  # the first warms the caches
    assert all(run.returncode == 0 and run.output for run in runs), argv
    return median([run.wall for run in runs])


def _in_process(path: Path, long_id: str, listed: int, rounds: int) -> dict[str, float]:
    """The commands' work without start-up: reading and printing the conversation as a pipe gets it, and
    reading and arranging the tree."""

    def show() -> None:
        with Library(path) as library:
            print_conversation(library.load(library.resolve(long_id)), io.StringIO(), terminal=False)

    def tree() -> None:
        with Library(path) as library:
            summaries = library.summaries(listed)
            arrange_tree(summaries, library.descendants([summary.id for summary in summaries]))

    seconds = {}
    for name, work in (("show, in-process", show), ("tree, in-process", tree)):
        runs = []
        for _ in range(max(rounds, 7)):
            started = time.perf_counter()
            work()
            runs.append(time.perf_counter() - started)
        seconds[name] = min(runs)  # the least disturbed run: other processes share the CPUs
    return seconds


def _costs(messages: int, rounds: int) -> dict[str, float]:
    """Seconds of each command on a library of `messages` messages, start-up included."""
    home = private_home()
    try:
        env = bench_env(home)
        path = Path(env["XDG_DATA_HOME"]) / "chatcli" / "library.db"
        long_id = fill(path, messages)
        listed = str(messages // 10 + 1)
        return {
            **_in_process(path, long_id, int(listed), rounds),
            "floor": _seconds([CHATCLI, "--version"], env, rounds, run_piped),
            "history show (piped)": _seconds([CHATCLI, "history", "show", long_id], env, rounds, run_piped),
            "history show (terminal)": _seconds(
                [CHATCLI, "history", "show", long_id], env, max(rounds // 3, 1), run_on_terminal
            ),
            "history list --tree": _seconds(
                [CHATCLI, "history", "list", "--tree", "-n", listed], env, rounds, run_piped
            ),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(sizes: Sequence[int] = SIZES, rounds: int = 5) -> tuple[list[Target], str]:
    costs = {size: _costs(size, rounds) for size in sizes}
    smallest, largest = sizes[0], sizes[-1]
    targets = []
    names = ("history show (piped)", "history show (terminal)", "history list --tree")
    for name in (*names, "show, in-process", "tree, in-process"):
        elements = {size: size // 10 + 1 if "tree" in name else size for size in sizes}
        floor = {size: costs[size]["floor"] if name in names else 0.0 for size in sizes}
        per = {size: max(costs[size][name] - floor[size], 0.0) / elements[size] for size in sizes}
        ratio = per[largest] / per[smallest] if per[smallest] else 0.0
        shown = ", ".join(f"{elements[size]}: {costs[size][name] * 1000:.0f} ms" for size in sizes)
        unit = "conversation" if "tree" in name else "message"
        targets.append(
            Target(
                f"`{name}` of a {largest}-message conversation's family: wall by size (per-{unit} cost, "
                f"largest / smallest)",
                f"{shown} ({ratio:.2f}x)",
                f"< {LINEAR_SLACK}x",
                ratio < LINEAR_SLACK,
            )
        )
    floor = median([costs[size]["floor"] for size in sizes])
    return targets, f"start-up floor (chatcli --version): {floor * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    arguments = parser.parse_args()
    targets, notes = measure(SIZES, 3 if arguments.quick else arguments.rounds)
    print(notes)
    print(targets_table(targets))
    sys.exit(0 if all(t.met is not False for t in targets) else 1)


if __name__ == "__main__":
    main()
