"""REPL start-up on a pseudo-terminal: how soon the first prompt appears, and the first answer after it.

The openai backend is built in a background thread, so its first prompt should come as soon as the echo
backend's (which never imports openai). The baseline, measured in the same run, is the same chatcli with
`import openai` done
before start-up, as it was when the backend was created before the prompt.
Usage: python bench/repl_startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.openai_server import OpenAIServer, sse_reply  # noqa: E402 - after the path insert above

PYTHON = sys.executable
CPR_REQUEST = "\x1b[6n"
LIMIT = 1.15  # first prompt with the openai backend, over the echo backend's


def _expect(child: pexpect.spawn, text: str) -> None:
    """Wait for `text`, answering prompt_toolkit's cursor-position requests as a terminal would."""
    while child.expect_exact([text, CPR_REQUEST]) == 1:
        child.send("\x1b[12;1R")


def time_to_prompt(argv: list[str], env: dict[str, str], ask: bool) -> tuple[float, float]:
    """Seconds from spawn to the first prompt, and (if `ask`) from typing a question at once to its answer."""
    started = time.perf_counter()
    child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(24, 80), encoding="utf-8", timeout=30)
    _expect(child, "Ctrl-D exits")
    _expect(child, "›")
    prompt = time.perf_counter() - started
    answer = 0.0
    if ask:
        asked = time.perf_counter()
        child.send("hi\r")
        _expect(child, "served")
        answer = time.perf_counter() - asked
    child.send("\x04")
    child.expect(pexpect.EOF)
    child.close()
    return prompt, answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    home = Path(tempfile.mkdtemp(prefix="chatcli-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
    env["TERM"] = "xterm-256color"
    server = OpenAIServer().start()
    server.default = sse_reply("served")
    chatcli = [PYTHON, "-c", "from chatcli.cli.app import main; main()"]
    eager = [PYTHON, "-c", "import openai; from chatcli.cli.app import main; main()"]
    openai_args = ["--base-url", server.url, "--no-log"]
    subjects = {
        "echo backend": ([*chatcli, "-b", "echo", "--no-log"], False),
        "openai backend (ours)": ([*chatcli, *openai_args], True),
        "openai imported first (baseline)": ([*eager, *openai_args], True),
    }
    prompts: dict[str, list[float]] = {name: [] for name in subjects}
    answers: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, (argv, ask) in subjects.items():
            prompt, answer = time_to_prompt(argv, env, ask)
            prompts[name].append(prompt)
            answers[name].append(answer)
    server.stop()
    print(f"median of {rounds} rounds, interleaved\n")
    print("| subject | first prompt (s) | typed at once: answer after (s) |")
    print("|---|---|---|")
    for name, (_, ask) in subjects.items():
        answer = f"{statistics.median(answers[name]):.3f}" if ask else "-"
        print(f"| {name} | {statistics.median(prompts[name]):.3f} | {answer} |")
    ratio = statistics.median(prompts["openai backend (ours)"]) / statistics.median(prompts["echo backend"])
    saved = statistics.median(prompts["openai imported first (baseline)"]) - statistics.median(
        prompts["openai backend (ours)"]
    )
    verdict = "ok" if ratio <= LIMIT else "SLOW"
    print(
        f"\nfirst prompt, openai / echo: {ratio:.2f} (limit {LIMIT}) {verdict}; "
        f"earlier than the baseline by {saved:.3f} s"
    )


if __name__ == "__main__":
    main()
