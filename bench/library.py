"""Library scale: `history list` and `history search` on 10 000 conversations of 10 turns, and the cost of recording.

Fills a private library (about 50 MB of text) through `Library.add_conversation`, then measures, as wall time of
the installed command on a pipe, start-up included: `history list`, `history search` for a common word and for a
rare one (each under 300 ms), next to `chatcli --version` as the start-up floor. Then what recording a turn on that
library adds (under 5 ms): to `ask` (timed inside the process: importing the library module, opening the
library, recording the turn), and to each turn of a session (the Session's observers
recorder, timed in-process). `ask -b echo hi` with and without --no-log is shown beside them, for reference.
Usage: python bench/library.py [--conversations N] [--rounds N] [--quick]   (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import shutil
import sys
import time
from pathlib import Path

from answers import GLUE_WORDS
from harness import CHATCLI, Target, bench_env, median, private_home, run_piped, targets_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatcli.backends.echo import EchoBackend
from chatcli.core.conversation import Conversation, Message
from chatcli.core.session import Session
from chatcli.core.stream import BackendSettings
from chatcli.core.turn import TurnResult
from chatcli.render.plain import PlainRenderer
from chatcli.storage.library import LATEST, Library
from chatcli.storage.recorder import Recorder

COMMAND_LIMIT = 0.300
RECORD_LIMIT = 0.005
TURNS = 10
RARE_WORD = "quixotry"  # in a handful of messages only
COMMON_WORD = "the"  # in nearly every message
RECORDED, UNRECORDED = "ask -b echo hi", "ask -b echo --no-log hi"


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """English glue words plus 20 000 made-up ones, with Zipf-like weights."""
    letters = "abcdefghijklmnoprstuvwy"
    made_up = {"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(20_000)} - {RARE_WORD}
    words = [*GLUE_WORDS, *sorted(made_up)]
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    return words, list(itertools.accumulate(weights))


def fill(path: Path, conversations: int, seed: int = 7) -> int:
    """Add `conversations` conversations of TURNS exchanges; return the number of characters of text."""
    rng = random.Random(seed)
    words, cumulative = _vocabulary(rng)
    rare_at = set(rng.sample(range(conversations * TURNS * 2), 3))
    characters = 0
    counter = itertools.count()
    with Library(path) as library:
        for number in range(conversations):
            messages = [Message("system", "You are a helpful assistant.")]
            for _ in range(TURNS):
                for role, length in (("user", rng.randint(8, 40)), ("assistant", rng.randint(40, 110))):
                    text = " ".join(rng.choices(words, cum_weights=cumulative, k=length))
                    if next(counter) in rare_at:
                        text += f" {RARE_WORD}"
                    characters += len(text)
                    messages.append(Message(role, text))
            library.add_conversation(Conversation(messages, f"model-{number % 3}"))
    return characters


def _command_costs(env: dict[str, str], rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and median CPU seconds of each command, run interleaved."""
    commands = {
        "chatcli --version (floor)": [CHATCLI, "--version"],
        "history list": [CHATCLI, "history", "list"],
        f"history search {COMMON_WORD}": [CHATCLI, "history", "search", COMMON_WORD],
        f"history search {RARE_WORD}": [CHATCLI, "history", "search", RARE_WORD],
        RECORDED: [CHATCLI, "ask", "-b", "echo", "hi"],
        UNRECORDED: [CHATCLI, "ask", "-b", "echo", "--no-log", "hi"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for name, argv in commands.items():  # warm the page cache and the bytecode caches
        run = run_piped(argv, env)
        assert run.returncode == 0 and (run.output or name.startswith("chatcli")), (name, run)
    for _ in range(rounds):
        for name, argv in commands.items():
            run = run_piped(argv, env)
            walls[name].append(run.wall)
            cpus[name].append(run.cpu)
    return {name: median(values) for name, values in walls.items()}, {
        name: median(v) for name, v in cpus.items()
    }


class _TimedRecorder:
    """Wraps the recorder and keeps how long each call took."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.seconds: list[float] = []

    def turn_committed(self, session: Session, result: TurnResult) -> None:
        started = time.perf_counter()
        self.recorder.turn_committed(session, result)
        self.seconds.append(time.perf_counter() - started)


# `chatcli ask -b echo` run in-process, exactly as the command runs, with the library's share of it timed:
# importing the library module (after what `ask` imports anyway), then the recorder's call (opening the library,
# WAL recovery included, and recording the turn). The process exits the way `ask` does.
_FIRST_TURN = """
import os, sys, time
import chatcli.cli.app, chatcli.storage.conversation_file, chatcli.core.session
started = time.perf_counter()
import chatcli.storage.library, chatcli.storage.recorder
spent = [time.perf_counter() - started]
record = chatcli.storage.recorder.Recorder.turn_committed

def timed(self, session, result):
    started = time.perf_counter()
    record(self, session, result)
    spent.append(time.perf_counter() - started)

chatcli.storage.recorder.Recorder.turn_committed = timed
_os_exit = os._exit


def report_then_exit(code):  # chatcli leaves by os._exit, where no atexit handler runs
    print(sum(spent), file=sys.stderr, flush=True)
    _os_exit(code)


os._exit = report_then_exit
sys.argv = ["chatcli", "ask", "-b", "echo", "a question in a new process"]
chatcli.cli.app.main()
"""


def _first_turn_cost(env: dict[str, str], rounds: int) -> float:
    """Median seconds recording adds to the first (in `ask`: the only) turn of a new process."""
    import subprocess

    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", _FIRST_TURN], env=env, capture_output=True, check=True, text=True
            ).stderr
        )
        for _ in range(rounds)
    ]
    return median(runs)


def _recording_cost(path: Path, turns: int) -> float:
    """Median seconds the recorder adds to each turn of a session (the REPL), continuing the latest conversation."""
    recorder = Recorder(path, sys.exit, backend="echo")
    timed = _TimedRecorder(recorder)
    conversation = recorder.resume(LATEST)
    before = sum(message.role == "user" for message in conversation.messages)
    session = Session(EchoBackend(BackendSettings()), conversation, "model-0", observers=[timed])
    for number in range(turns):
        session.turn(f"one more question, number {number}", PlainRenderer(io.BytesIO()))
    with Library(path) as library:  # every turn went into the continued conversation
        assert library.summary(library.resolve(LATEST)).turns == before + turns
    return median(timed.seconds)


def _query_seconds(path: Path, rounds: int) -> dict[str, float]:
    """The library's own share of each command: median in-process query time, start-up excluded."""
    queries = {
        "list": lambda library: library.summaries(20),
        f"search {COMMON_WORD}": lambda library: library.search(COMMON_WORD, 20),
        f"search {RARE_WORD}": lambda library: library.search(RARE_WORD, 20),
    }
    seconds: dict[str, float] = {}
    with Library(path) as library:
        for name, query in queries.items():
            runs = []
            for _ in range(rounds):
                started = time.perf_counter()
                query(library)
                runs.append(time.perf_counter() - started)
            seconds[name] = median(runs)
    return seconds


def measure(conversations: int = 10_000, rounds: int = 15) -> tuple[list[Target], str]:
    home = private_home()
    try:
        return _measure(home, conversations, rounds)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _measure(home: Path, conversations: int, rounds: int) -> tuple[list[Target], str]:
    env = bench_env(home)
    path = Path(env["XDG_DATA_HOME"]) / "chatcli" / "library.db"
    started = time.monotonic()
    characters = fill(path, conversations)
    fill_seconds = time.monotonic() - started
    size = sum(f.stat().st_size for f in path.parent.iterdir())
    notes = (
        f"library: {conversations} conversations x {TURNS} turns, {characters / 1e6:.1f} M characters of text, "
        f"{size / 2**20:.0f} MiB on disk, filled in {fill_seconds:.0f} s"
    )
    walls, cpus = _command_costs(env, rounds)
    queries = _query_seconds(path, rounds)
    per_turn = _recording_cost(path, 30)
    in_ask = _first_turn_cost(env, rounds)
    targets = [
        Target(f"{name} wall (CPU)", f"{wall * 1000:.0f} ms ({cpus[name] * 1000:.0f} ms)", "", None)
        for name, wall in walls.items()
        if "floor" in name
    ]
    targets += [
        Target(
            f"`{name}` wall (CPU), start-up included",
            f"{wall * 1000:.0f} ms ({cpus[name] * 1000:.0f} ms)",
            f"< {COMMAND_LIMIT * 1000:.0f} ms",
            wall < COMMAND_LIMIT,
        )
        for name, wall in walls.items()
        if "history" in name
    ]
    targets += [
        Target(f"`{name}` wall / CPU", f"{walls[name] * 1000:.0f} ms / {cpus[name] * 1000:.0f} ms", "", None)
        for name in (RECORDED, UNRECORDED)
    ]
    targets += [
        Target(f"{name}: the query alone, in-process", f"{seconds * 1000:.2f} ms", "", None)
        for name, seconds in queries.items()
    ]
    targets += [
        Target(
            "recording added to `ask` (import, open, record; timed inside the process)",
            f"{in_ask * 1000:.1f} ms",
            f"< {RECORD_LIMIT * 1000:.0f} ms",
            in_ask < RECORD_LIMIT,
        ),
        Target(
            "recording added to each turn of a session (in-process, median of 30)",
            f"{per_turn * 1000:.2f} ms",
            f"< {RECORD_LIMIT * 1000:.0f} ms",
            per_turn < RECORD_LIMIT,
        ),
    ]
    return targets, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="2 000 conversations, 5 rounds")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.conversations, arguments.rounds = 2_000, 5
    targets, notes = measure(arguments.conversations, arguments.rounds)
    print(notes)
    print(targets_table(targets))
    sys.exit(0 if all(t.met is not False for t in targets) else 1)


if __name__ == "__main__":
    main()
