"""chatcli's own cost per tool call: `McpToolRunner.run` (argument parsing, approval check, the hop to the MCP
thread, result formatting, redaction, capping) against the MCP SDK's bare `ClientSession.call_tool`, both
calling `add` on the same kind of stdio server (tests/mcp_server.py), one after the other, same machine.

Wall time per call is the median over the calls, after a few warm-up calls, the best of a few alternating runs;
the overhead is the difference.
Also reported: the first tool-enabled turn's start-up (importing `mcp`, starting the server, listing tools).

Usage: python bench/tools.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from harness import markdown_table, median

SERVER = Path(__file__).resolve().parent.parent / "tests" / "mcp_server.py"
WARM_UP = 5


def bare_sdk(calls: int) -> list[float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def measure() -> list[float]:
        parameters = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
        with open("/dev/null", "w") as errlog:
            async with (
                stdio_client(parameters, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await session.list_tools()
                times = []
                for index in range(WARM_UP + calls):
                    started = time.perf_counter()
                    await session.call_tool("add", {"a": index, "b": 1}, read_timeout_seconds=60)
                    times.append(time.perf_counter() - started)
                return times[WARM_UP:]

    return asyncio.run(measure())


def chatcli_runner(calls: int, log_dir: Path) -> tuple[float, list[float]]:
    from chatcli.core.stream import ToolCall
    from chatcli.render.sanitize import sanitize
    from chatcli.tools.approval import Approver
    from chatcli.tools.runner import McpToolRunner
    from chatcli.tools.spec import ServerSpec, ToolLimits

    spec = ServerSpec("notes", sys.executable, (str(SERVER),))
    approver = Approver({"notes__add"}, None, None, styled=False, sanitize=sanitize)
    runner = McpToolRunner(
        [spec], ToolLimits(), approver, lambda message: None, log_dir / "mcp.log", lambda c, w: ""
    )
    started = time.perf_counter()
    runner.definitions()
    start_up = time.perf_counter() - started
    times = []
    try:
        for index in range(WARM_UP + calls):
            call = ToolCall(f"c{index}", "notes__add", f'{{"a": {index}, "b": 1}}')
            started = time.perf_counter()
            assert runner.run(call) == str(index + 1)
            times.append(time.perf_counter() - started)
    finally:
        runner.close()
    return start_up, times[WARM_UP:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating runs of each; the best median counts"
    )
    options = parser.parse_args()
    ours, bare, start_ups = [], [], []
    for _ in range(options.repeats):  # alternating, so a busy moment of the machine hits both
        with tempfile.TemporaryDirectory() as directory:
            start_up, times = chatcli_runner(options.calls, Path(directory))
        start_ups.append(start_up)
        ours.append(median(times) * 1000)
        bare.append(median(bare_sdk(options.calls)) * 1000)
    print(
        markdown_table(
            ("measure", "milliseconds"),
            [
                ("MCP SDK call_tool, per call", f"{min(bare):.3f}"),
                ("chatcli McpToolRunner.run, per call", f"{min(ours):.3f}"),
                ("chatcli's overhead per call", f"{min(ours) - min(bare):+.3f}"),
                (
                    "first tool turn start-up (import mcp, start server, list tools)",
                    f"{min(start_ups) * 1000:.0f}",
                ),
            ],
        )
    )
    print(
        f"\n{options.calls} calls per run after {WARM_UP} warm-up calls; best median of {options.repeats} runs each"
    )


if __name__ == "__main__":
    main()
