"""What the separate first-token and idle timeouts cost: CPU to consume an answer through `OpenAIBackend.stream`
with its phased network layer (backends/http/transport.py, as shipped) against the same backend on
httpcore's plain network layer, in one process, same server, same run. The streaming cost is the CPU of an
N-token answer minus that of a 10-token answer, so client start-up is left out. Unpaced, the whole answer arrives in a few reads; paced,
about one read per token, which is where a per-read layer would show.

Usage: python bench/timeouts.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import httpcore2
import httpx2
from harness import SSEServer, markdown_table, median

from chatcli.backends.http.transport import PhasedTransport, tls_context
from chatcli.backends.openai.client import OpenAIBackend
from chatcli.core.conversation import Message
from chatcli.core.stream import BackendSettings, ChatRequest

SMALL = 10


def backend(url: str, phased: bool) -> OpenAIBackend:
    settings = BackendSettings(base_url=url)
    chosen = OpenAIBackend(settings)
    if not phased:  # the same client on httpcore's own network layer: one fixed read timeout
        plain = PhasedTransport(settings, httpcore2.SyncBackend(), lambda: tls_context(None))
        chosen._http = httpx2.Client(transport=plain)
    return chosen


def cpu_of_one_answer(url: str, phased: bool) -> float:
    client = backend(url, phased)
    request = ChatRequest([Message("user", "Write a long answer.")], "bench-model")
    started = time.process_time()
    for _ in client.stream(request):
        pass
    return time.process_time() - started


def streaming_cpu(server: SSEServer, tokens: int, rate: float, phased: bool, rounds: int) -> float:
    big = median([cpu_of_one_answer(server.url(tokens, rate), phased) for _ in range(rounds)])
    small = median([cpu_of_one_answer(server.url(SMALL, rate), phased) for _ in range(rounds)])
    return big - small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    cases = [(5_000, 0.0), (2_000, 4_000.0)] if args.quick else [(20_000, 0.0), (8_000, 4_000.0)]
    rows = []
    with SSEServer(warm=[tokens for tokens, _ in cases] + [SMALL]) as server:
        cpu_of_one_answer(server.url(SMALL), True)  # warm imports and connections
        for tokens, rate in cases:
            plain = streaming_cpu(server, tokens, rate, phased=False, rounds=rounds)
            phased = streaming_cpu(server, tokens, rate, phased=True, rounds=rounds)
            pace = f"{rate:g} tokens/s" if rate else "unpaced"
            for name, seconds in (("httpcore plain network", plain), ("phased timeouts (shipped)", phased)):
                per_token = f"{seconds / tokens * 1e6:.1f}"
                rows.append(
                    (f"{tokens} tokens, {pace}", name, f"{seconds:.3f}", per_token, f"{seconds / plain:.2f}")
                )
    print(
        f"Streaming CPU through OpenAIBackend.stream, N-token answer minus 10-token answer (median of {rounds}):\n"
    )
    print(markdown_table(("answer", "transport", "CPU s", "µs/token", "ratio"), rows))


if __name__ == "__main__":
    main()
