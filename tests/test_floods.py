"""A server that floods chatcli with what is not progress — keep-alive comments, empty deltas, chunks with a
null finish_reason, endless interim (103) responses — sent as fast as it can: the first-token and
between-chunk timeouts hold in wall-clock time, and the work chatcli does for the flood is bounded."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.inprocess import invoke
from tests.leaks import one_line_error
from tests.openai_server import OpenAIServer, Reply, chunk, sse_event, sse_reply

pytestmark = pytest.mark.e2e  # each case waits out a real timeout while a server floods a CPU

FLOOD_SECONDS = 20.0  # the longest a flood lasts: far past every timeout below

FILLERS = {
    "keep-alive comments": b": keep-alive\n\n",
    "empty deltas": sse_event(chunk("")),
    "role-only deltas": sse_event(chunk(role="assistant")),
    "null finish_reason chunks": sse_event({"choices": [{"index": 0, "delta": {}, "finish_reason": None}]}),
}


class Flood:
    """A body that sends `filler` as fast as the connection takes it, for at most FLOOD_SECONDS, after `head`;
    `sent_until` is when it stopped (the client hung up, or the time ran out)."""

    def __init__(self, filler: bytes, head: list[bytes] | None = None) -> None:
        self.filler = filler * 64
        self.head = head or []
        self.sent_until: float | None = None
        self.ran_out = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        end = time.monotonic() + FLOOD_SECONDS
        try:
            while time.monotonic() < end:
                yield self.filler
            self.ran_out = True
        finally:
            self.sent_until = time.monotonic()


def ask(server: OpenAIServer, home: Path, settings: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    config = home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(settings)
    return invoke("ask", "--base-url", server.url, *args, "hi", env={"OPENAI_API_KEY": TEST_KEY})


@pytest.mark.parametrize("filler", FILLERS.values(), ids=FILLERS.keys())
def test_a_flood_before_the_first_token_ends_the_turn_in_one_line(
    server: OpenAIServer, isolated_home: Path, filler: bytes
) -> None:
    flood = Flood(filler)
    server.enqueue(Reply(body=iter(flood)))
    result = ask(server, isolated_home, "first_token_timeout = 2\n")
    assert result.returncode == 1 and result.stdout == b""
    message = one_line_error(result)
    assert message.startswith((f"no answer from {server.url} within 2 s", f"{server.url} sent 100 000 lines"))
    assert not flood.ran_out  # chatcli hung up long before the flood would have ended


@pytest.mark.parametrize("filler", FILLERS.values(), ids=FILLERS.keys())
def test_a_flood_between_chunks_ends_the_turn_keeping_the_partial_answer(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path, filler: bytes
) -> None:
    flood = Flood(filler, head=[sse_event(chunk("Once upon"))])
    server.enqueue(Reply(body=iter(flood)))
    saved = tmp_path / "chat.json"
    result = ask(server, isolated_home, "", "--timeout", "2", "-o", str(saved))
    assert result.returncode == 1 and result.stdout == b"Once upon\n"
    assert one_line_error(result).startswith(("the answer stalled", f"{server.url} sent 100 000 lines"))
    assert json.loads(saved.read_text())["messages"][-1]["status"] == "failed"
    assert not flood.ran_out


def test_a_slow_trickle_of_keep_alives_cannot_hold_the_turn_either(
    server: OpenAIServer, isolated_home: Path
) -> None:
    """Fewer lines than the flood bound, each one just before a read would time out: wall-clock time."""
    server.enqueue(Reply(body=[b": keep-alive\n\n", 0.05] * 200 + [sse_event(chunk("late"))]))
    started = time.monotonic()
    result = ask(server, isolated_home, "first_token_timeout = 1\n")
    assert one_line_error(result).startswith(f"no answer from {server.url} within 1 s")
    assert time.monotonic() - started < 9  # the trickle lasts 10 s


def test_endless_interim_responses_end_in_one_line(server: OpenAIServer, isolated_home: Path) -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    interim = Flood(hints)
    server.enqueue(Reply(interim=iter(interim), body=sse_reply("never").body))
    result = ask(server, isolated_home, "first_token_timeout = 30\n")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{server.url} sent more than 1 MiB without a response (endless interim responses); "
        "chatcli stopped reading"
    )
    assert not interim.ran_out


def test_a_finished_answer_whose_usage_never_comes_is_complete_after_the_grace(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    """After finish_reason the server holds the connection open, sending neither the usage chatcli asked for
    nor [DONE]: the answer is complete after the short grace, and the usage is reported missing."""
    held = sse_reply("All", " done", done=False)
    assert isinstance(held.body, list)
    held.body.append(FLOOD_SECONDS)
    server.enqueue(held)
    saved = tmp_path / "chat.json"
    started = time.monotonic()
    result = ask(server, isolated_home, "", "-u", "-o", str(saved))
    assert time.monotonic() - started < 10  # far below the 60 s idle timeout
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"All done\n"
    assert "usage: the server reported no token counts" in result.stderr.decode()
    assert '"status"' not in saved.read_text()
