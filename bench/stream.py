"""Streaming: CPU, wall and memory of `chatcli ask` against the baselines, piped and on a pseudo-terminal.

Clients, each a child process fed by bench/sse_server.py over 127.0.0.1:
  stdlib   a standard-library SSE reader (http.client + json), piped             (bench/baselines.py)
  sdk      the openai SDK iterating Stream[ChatCompletionChunk], printing raw deltas, piped and on a terminal
  chatcli  `chatcli ask -b openai --base-url …`: raw text when piped, Markdown on an 80x24 terminal
  stdlib WIRE, chatcli WIRE
           the same two, piped, for each other wire format (Anthropic Messages, OpenAI Responses, Ollama's
           /api/chat): the standard-library reader of that format and `chatcli ask -b WIRE`, at 10 and 20 000
           tokens and paced
Streaming cost = CPU(N tokens) − CPU(10 tokens), so start-up is excluded. Paced runs stream at 2 000 tokens/s and
also check that chatcli keeps up: it exits within 0.1 s of the server's last byte, and its wall time is within
0.2 s of N / rate plus its start-up. Time to first token is measured in-process, after everything is imported.
Usage: python bench/stream.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from answers import markdown_answer
from harness import (
    BENCH,
    CHATCLI,
    NATIVE_WIRES,
    PYTHON,
    Run,
    SSEServer,
    Target,
    bench_env,
    markdown_table,
    median,
    run_on_terminal,
    run_piped,
    targets_table,
    temporary_home,
)

PROMPT = "Write a long answer."
RATE = 2000.0
START = 10  # tokens of the start-up reference run


@dataclass(frozen=True, slots=True)
class Client:
    """A client's wire format (which base URL it gets) and its command line for a base URL."""

    wire: str
    argv: Callable[[str], list[str]]


def _baseline(kind: str, *wire: str) -> Client:
    return Client(
        wire[0] if wire else "openai", lambda url: [PYTHON, str(BENCH / "baselines.py"), kind, url, *wire]
    )


def _chatcli(wire: str) -> Client:
    return Client(
        wire, lambda url: [CHATCLI, "ask", "-b", wire, "--base-url", url, "-m", "bench-model", PROMPT]
    )


CLIENTS: dict[str, Client] = {
    "stdlib": _baseline("stdlib"),
    "sdk": _baseline("sdk"),
    "chatcli": _chatcli("openai"),
    **{f"stdlib {wire}": _baseline("stdlib", wire) for wire in NATIVE_WIRES},
    **{f"chatcli {wire}": _chatcli(wire) for wire in NATIVE_WIRES},
}
# (client, mode) in table order; mode is "pipe" or "pty".
SUBJECTS = [("stdlib", "pipe"), ("sdk", "pipe"), ("chatcli", "pipe"), ("sdk", "pty"), ("chatcli", "pty")]
# The other wire formats, piped, measured at START and the big size only: what differs between formats is the
# parsing of each event, which those two sizes and the paced run show.
WIRE_SUBJECTS = [(f"{client} {wire}", "pipe") for wire in NATIVE_WIRES for client in ("stdlib", "chatcli")]
LABELS = {
    ("stdlib", "pipe"): "stdlib SSE reader, piped",
    ("sdk", "pipe"): "openai SDK Stream, piped",
    ("chatcli", "pipe"): "chatcli ask, piped",
    ("sdk", "pty"): "openai SDK Stream, raw deltas on a terminal",
    ("chatcli", "pty"): "chatcli ask, Markdown on a terminal",
    **{(f"stdlib {wire}", "pipe"): f"stdlib {name} reader, piped" for wire, name in NATIVE_WIRES.items()},
    **{(f"chatcli {wire}", "pipe"): f"chatcli ask -b {wire}, piped" for wire in NATIVE_WIRES},
}


@dataclass(frozen=True, slots=True)
class Paced:
    """One paced run, timed against the server's own clock readings."""

    start_up: float  # from spawning the client to its request reaching the server
    streaming: float  # from the request to the server's last byte (N / rate when the server keeps its pace)
    exit_after: float  # from the server's last byte to the client's exit
    wall: float

    def behind(self, planned: float) -> float:
        """Wall time beyond N / rate plus this run's own start-up."""
        return self.wall - planned - self.start_up


@dataclass
class Results:
    runs: dict[tuple[str, str, int, float], list[Run]] = field(default_factory=dict)

    def add(self, client: str, mode: str, tokens: int, rate: float, run: Run) -> None:
        self.runs.setdefault((client, mode, tokens, rate), []).append(run)

    def has(self, client: str, mode: str, tokens: int, rate: float = 0) -> bool:
        return (client, mode, tokens, rate) in self.runs

    def cpu(self, client: str, mode: str, tokens: int, rate: float = 0) -> float:
        return median([run.cpu for run in self.runs[(client, mode, tokens, rate)]])

    def wall(self, client: str, mode: str, tokens: int, rate: float = 0) -> float:
        return median([run.wall for run in self.runs[(client, mode, tokens, rate)]])

    def rss(self, client: str, mode: str, tokens: int, rate: float = 0) -> float:
        return max(run.rss_mib for run in self.runs[(client, mode, tokens, rate)])

    def cost(self, client: str, mode: str, tokens: int, rate: float = 0) -> float:
        """Streaming CPU: the run's CPU minus the start-up reference run's."""
        return self.cpu(client, mode, tokens, rate) - self.cpu(client, mode, START)


def _run(server: SSEServer, env: dict[str, str], client: str, mode: str, tokens: int, rate: float = 0) -> Run:
    chosen = CLIENTS[client]
    argv = chosen.argv(server.url(tokens, rate, wire=chosen.wire))
    timeout = 60 + tokens / (rate or 2000)
    run = (
        run_piped(argv, env, timeout=timeout)
        if mode == "pipe"
        else run_on_terminal(argv, env, timeout=timeout)
    )
    if mode == "pipe":
        expected = "".join(markdown_answer(tokens)).encode() + b"\n"
        if run.output != expected:
            raise RuntimeError(f"{client} printed {len(run.output)} bytes, not the {len(expected)} streamed")
    return replace(run, output=b"")  # keep this process small: its size at spawn counts in a child's peak RSS


def time_to_first_token(server: SSEServer, rounds: int) -> tuple[float, float]:
    """Median seconds from the call to the first answer byte written: (bare SDK, chatcli's Session)."""
    import openai

    from chatcli.backends import create_backend
    from chatcli.core.conversation import Conversation
    from chatcli.core.session import Session
    from chatcli.core.stream import BackendSettings
    from chatcli.render.plain import PlainRenderer

    url = server.url(START)
    client = openai.OpenAI(api_key="no-key", base_url=url)
    backend = create_backend("openai", BackendSettings(base_url=url))

    class Sink:
        """A stdout stand-in that remembers when the first byte arrived."""

        first: float | None = None

        def write(self, data: bytes) -> int:
            if self.first is None and data:
                self.first = time.perf_counter()
            return len(data)

        def flush(self) -> None:
            pass

    def bare_sdk() -> float:
        sink = Sink()
        started = time.perf_counter()
        for chunk in client.chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": PROMPT}], stream=True
        ):
            if chunk.choices and (content := chunk.choices[0].delta.content):
                sink.write(content.encode())
                sink.flush()
        assert sink.first is not None
        return sink.first - started

    def ours() -> float:
        sink = Sink()
        session = Session(
            backend=backend, conversation=Conversation(model="bench-model"), model="bench-model"
        )
        started = time.perf_counter()
        session.turn(PROMPT, PlainRenderer(sink))  # type: ignore[arg-type]  # a stdout stand-in
        assert sink.first is not None
        return sink.first - started

    sdk_times, our_times = [], []
    for _ in range(3):  # warm-up: imports, connection code paths, caches
        bare_sdk(), ours()
    for _ in range(rounds):
        sdk_times.append(bare_sdk())
        our_times.append(ours())
    server.forget_reports()
    return median(sdk_times), median(our_times)


def _subjects_at(tokens: int, big: int) -> list[tuple[str, str]]:
    """What runs at `tokens`: the SDK up to the big size (beyond, 10+ s per run and nothing new to learn), the
    other wire formats at START and the big size."""
    chosen = [(client, mode) for client, mode in SUBJECTS if tokens <= big or client != "sdk"]
    return chosen + (WIRE_SUBJECTS if tokens in (START, big) else [])


def measure(quick: bool = False) -> tuple[list[Target], str]:
    sizes = [START, 1000, 20000] if quick else [START, 1000, 20000, 100000]
    repeats = {START: 3, 1000: 1, 20000: 1 if quick else 3, 100000: 1}
    big = 20000
    paced_tokens = 4000 if quick else big
    results = Results()
    with temporary_home() as home, SSEServer(warm=sizes) as server:
        env = bench_env(home)
        for tokens in sizes:
            for _ in range(repeats[tokens]):
                for client, mode in _subjects_at(tokens, big):
                    results.add(client, mode, tokens, 0, _run(server, env, client, mode, tokens))
                    server.forget_reports()
        paced: dict[tuple[str, str], Paced] = {}
        for client, mode in SUBJECTS + WIRE_SUBJECTS:
            server.forget_reports()
            run = _run(server, env, client, mode, paced_tokens, RATE)
            results.add(client, mode, paced_tokens, RATE, run)
            spawned = run.ended - run.wall
            arrived, last_byte = server.next_stream(requested_after=spawned)
            paced[(client, mode)] = Paced(
                arrived - spawned, last_byte - arrived, run.ended - last_byte, run.wall
            )
        ttft_sdk, ttft_ours = time_to_first_token(server, rounds=10 if quick else 30)
    return _report(results, sizes, big, paced_tokens, paced, ttft_sdk, ttft_ours)


def _report(
    results: Results,
    sizes: Sequence[int],
    big: int,
    paced_tokens: int,
    paced: dict[tuple[str, str], Paced],
    ttft_sdk: float,
    ttft_ours: float,
) -> tuple[list[Target], str]:
    rss_sizes = [START, big, *(n for n in sizes if n > big)]
    header = [
        "client",
        *(f"CPU s, {n:,} tok" for n in sizes),
        f"stream cost {big:,}",
        "peak RSS MiB, " + " / ".join(f"{n:,}" for n in rss_sizes) + " tok",
    ]
    rows = []
    for client, mode in SUBJECTS + WIRE_SUBJECTS:
        cells: list[object] = [LABELS[(client, mode)]]
        cells += [
            f"{results.cpu(client, mode, n):.2f}" if results.has(client, mode, n) else "—" for n in sizes
        ]
        cells.append(f"{results.cost(client, mode, big):.2f}")
        cells.append(
            " / ".join(
                f"{results.rss(client, mode, n):.0f}" if results.has(client, mode, n) else "—"
                for n in rss_sizes
            )
        )
        rows.append(cells)
    unpaced = markdown_table(header, rows)

    paced_rows = []
    for client, mode in SUBJECTS + WIRE_SUBJECTS:
        run = paced[(client, mode)]
        paced_rows.append(
            (
                LABELS[(client, mode)],
                f"{results.cost(client, mode, paced_tokens, RATE):.2f}",
                f"{run.wall:.2f}",
                f"{run.start_up:.3f}",
                f"{run.streaming:.3f}",
                f"{run.exit_after:+.3f}",
                f"{run.behind(paced_tokens / RATE):+.3f}",
            )
        )
    paced_table = markdown_table(
        (
            "client",
            "stream cost s",
            "wall s",
            "start-up s (spawn → request)",
            f"server streaming s ({paced_tokens / RATE:g} planned)",
            "exit − server's last byte s",
            "wall − N/rate − start-up s",
        ),
        paced_rows,
    )

    targets = []

    def ratio(
        what: str, ours: tuple[str, str], theirs: tuple[str, str], tokens: int, rate: float, limit: float
    ) -> None:
        value = results.cost(*ours, tokens, rate) / results.cost(*theirs, tokens, rate)
        pace = f"{rate:,.0f} tok/s" if rate else "unpaced"
        targets.append(
            Target(f"{what}, {tokens:,} tok {pace}", f"{value:.2f} ×", f"≤ {limit} ×", value <= limit)
        )

    for rate, tokens in ((0.0, big), (RATE, paced_tokens)):
        ratio("piped CPU vs stdlib reader", ("chatcli", "pipe"), ("stdlib", "pipe"), tokens, rate, 2.0)
        ratio("piped CPU vs SDK Stream", ("chatcli", "pipe"), ("sdk", "pipe"), tokens, rate, 0.5)
        ratio(
            "Markdown on a terminal vs SDK raw on a terminal",
            ("chatcli", "pty"),
            ("sdk", "pty"),
            tokens,
            rate,
            0.6,
        )
        for wire, name in NATIVE_WIRES.items():
            ratio(
                f"piped CPU vs stdlib reader, {name}",
                (f"chatcli {wire}", "pipe"),
                (f"stdlib {wire}", "pipe"),
                tokens,
                rate,
                2.0,
            )
    for mode in ("pipe", "pty"):
        late = paced[("chatcli", mode)].exit_after
        targets.append(
            Target(
                f"{mode}: chatcli exits after the server's last byte", f"{late:.3f} s", "≤ 0.1 s", late <= 0.1
            )
        )
        behind = paced[("chatcli", mode)].behind(paced_tokens / RATE)
        targets.append(
            Target(
                f"{mode}: keeps up at {RATE:,.0f} tok/s (wall − N/rate − start-up)",
                f"{behind:.3f} s",
                "≤ 0.2 s",
                behind <= 0.2,
            )
        )
    added = (ttft_ours - ttft_sdk) * 1e3
    targets.append(
        Target(
            "time to first token added over a bare SDK call",
            f"{added:.2f} ms ({ttft_ours * 1e3:.2f} vs {ttft_sdk * 1e3:.2f})",
            "< 5 ms",
            added < 5,
        )
    )
    rss = results.rss("chatcli", "pty", big)
    targets.append(
        Target(f"peak RSS, {big:,} tokens of Markdown on a terminal", f"{rss:.0f} MiB", "< 80 MiB", rss < 80)
    )
    if sizes[-1] > big:
        last = sizes[-1]
        for mode in ("pipe", "pty"):
            small_step = (results.rss("chatcli", mode, big) - results.rss("chatcli", mode, 1000)) / (
                big - 1000
            )
            big_step = (results.rss("chatcli", mode, last) - results.rss("chatcli", mode, big)) / (last - big)
            growth = results.cost("chatcli", mode, last) / results.cost("chatcli", mode, big)
            # RSS grows in allocator steps: a step below 256 B per token counts as flat
            linear = growth <= 1.3 * last / big and big_step <= 2 * max(small_step, 0.25 / 1024)
            targets.append(
                Target(
                    f"{mode}: linear in length, {big:,} → {last:,} tok",
                    f"CPU × {growth:.1f} (length × {last / big:.0f}); RSS +{big_step * 1024 * 1000:.0f} KiB "
                    f"per 1k tok (was +{small_step * 1024 * 1000:.0f})",
                    f"CPU ≤ {1.3 * last / big:.1f} ×, RSS per 1k tok ≤ 2 × earlier (or ≤ 512 KiB)",
                    linear,
                )
            )
    details = (
        f"Streaming, unpaced (CPU: median of the runs; {os.cpu_count()} CPUs):\n\n{unpaced}\n\n"
        f"Streaming, paced at {RATE:,.0f} tokens/s, {paced_tokens:,} tokens:\n\n{paced_table}"
    )
    return targets, details


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args(argv)
    targets, details = measure(args.quick)
    print(details)
    print()
    print(targets_table(targets))


if __name__ == "__main__":
    main()
