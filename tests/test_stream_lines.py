"""The event stream is split into lines by chatcli itself: any line ending, any split between network reads."""

from __future__ import annotations

import json

import pytest

from chatcli.backends.http.sse import read_lines
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, Reply, chunk


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"data: 1\n\ndata: 2\n\n"], [b"data: 1\n", b"\n", b"data: 2\n", b"\n"]),
        ([b"data: 1\r\n\r\n"], [b"data: 1\r\n", b"\r\n"]),
        ([b"data: 1\r\rdata: 2\r"], [b"data: 1\r", b"\r", b"data: 2\r"]),
        ([b"da", b"ta: ", b"1\n"], [b"data: 1\n"]),
        ([b"data: 1\r", b"\ndata: 2"], [b"data: 1\r", b"\n", b"data: 2"]),
        ([b"", b"data: 1", b"", b"\n"], [b"data: 1\n"]),
        ([b"no end"], [b"no end"]),
        ([], []),
    ],
)
def test_lines_keep_every_byte_whatever_the_chunking(chunks: list[bytes], lines: list[bytes]) -> None:
    assert list(read_lines(iter(chunks))) == lines


def test_lines_do_not_split_on_other_control_bytes() -> None:
    """str.splitlines would also split on \\x0b, \\x0c, \\x1c… and NEL; bytes only on CR and LF."""
    assert list(read_lines(iter([b"a\x0bb\x0cc\x1cd\x85e\n"]))) == [b"a\x0bb\x0cc\x1cd\x85e\n"]


def test_answer_survives_crlf_events_split_mid_json_across_reads(server: OpenAIServer) -> None:
    events = [
        chunk(role="assistant", content=""),
        chunk("héllo "),
        chunk("wörld"),
        chunk(finish_reason="stop"),
    ]
    stream = b"".join(
        b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\r\n\r\n" for event in events
    )
    stream += b"data: [DONE]\r\n\r\n"
    # Cut inside the JSON and inside a multi-byte UTF-8 character; the pauses make them separate reads.
    cut_json, cut_utf8 = stream.index(b"content") + 3, stream.index("ö".encode()) + 1
    body: list[object] = [stream[:cut_json], 0.05, stream[cut_json:cut_utf8], 0.05, stream[cut_utf8:]]
    server.enqueue(Reply(body=body))
    result = invoke("ask", "--base-url", server.url, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "héllo wörld\n".encode()
