"""A fast OpenAI-compatible SSE server on 127.0.0.1 for benchmarks, paced or unpaced.

The answer's size and pace are in the URL, so any client can be pointed at it with a base URL:
`http://127.0.0.1:PORT/t/20000/r/2000/v1` streams 20 000 tokens at 2 000 tokens/s (`r/0`: as fast as
possible); `/t/10/r/0/f/0.3/v1` sends the role chunk at once and the tokens 0.3 s later (a model's time to first
token). Every token is one `chat.completion.chunk` event in its own HTTP chunk, as real servers send them.
After each stream the server prints `done TOKENS REQUEST LAST_BYTE` on stdout: `time.monotonic()` when the request
arrived and when the last byte was written (the clock is system-wide, so the benchmark can compare them with its own).

Run alone: `python bench/sse_server.py [--port N]`; it prints `port N` once it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import sys
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from answers import markdown_answer

_PATH = re.compile(r"^/t/(\d+)/r/(\d+(?:\.\d+)?)(?:/f/(\d+(?:\.\d+)?))?/v1/chat/completions$")
_LOCK = threading.Lock()


def _frame(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-BENCH0123456789abcdefghijklmn",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "bench-model-2025-01-01",
        "service_tier": "default",
        "system_fingerprint": "fp_0123456789",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


@lru_cache(maxsize=8)
def stream_frames(n_tokens: int) -> tuple[bytes, ...]:
    """The whole response body as HTTP chunks: a role chunk, one chunk per token, finish, [DONE], end."""
    frames = [_frame(_chunk({"role": "assistant", "content": "", "refusal": None}))]
    frames += [_frame(_chunk({"content": token})) for token in markdown_answer(n_tokens)]
    frames.append(_frame(_chunk({}, "stop")))
    frames.append(_frame(b"data: [DONE]\n\n"))
    frames.append(b"0\r\n\r\n")
    return tuple(frames)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        arrived = time.monotonic()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _PATH.match(self.path)
        if match is None:
            self.send_error(404, "use /t/TOKENS/r/RATE[/f/SECONDS]/v1/chat/completions")
            return
        n_tokens, rate, first = int(match[1]), float(match[2]), float(match[3] or 0)
        frames = stream_frames(n_tokens)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if first:
                self.connection.sendall(frames[0])
                time.sleep(first)
                frames = frames[1:]
            if rate <= 0:
                self.connection.sendall(b"".join(frames))
            else:
                self._paced(frames, rate)
        except (BrokenPipeError, ConnectionResetError):
            return
        last_byte = time.monotonic()
        self.close_connection = True
        with _LOCK:
            print(f"done {n_tokens} {arrived:.6f} {last_byte:.6f}", flush=True)

    def _paced(self, frames: tuple[bytes, ...], rate: float) -> None:
        """Token i (frame i + 1) leaves at start + i / rate; whatever is due is sent in one write."""
        start = time.monotonic()
        sent = 0
        while sent < len(frames):
            due = int((time.monotonic() - start) * rate) + 2
            if due >= len(frames) - 3:  # every token is due: finish, [DONE] and the end go with the last
                due = len(frames)
            if due > sent:
                self.connection.sendall(b"".join(frames[sent:due]))
                sent = due
            else:
                time.sleep(max(0.0, start + (sent - 1) / rate - time.monotonic()))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--warm", type=int, nargs="*", default=[], help="token counts to pre-build")
    args = parser.parse_args()
    for n_tokens in args.warm:
        stream_frames(n_tokens)
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
