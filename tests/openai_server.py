"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests, scripted per test.

Each request takes the next queued `Reply` (or the default one) and is recorded, so tests can assert what
chatcli sent. Replies can stream SSE chunks with pauses, send any status and body, or drop the connection.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A reply is a status, headers and a body given as pieces: bytes are written and flushed,
# a float pauses that many seconds, DROP closes the connection at once, a threading.Event waits
# until the test sets it (a gate), and a callable gets the RecordedRequest and returns the bytes to send.
DROP = object()
GATE_TIMEOUT = 60.0


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/event-stream"})
    body: list[Any] | Iterator[Any] = field(default_factory=list)  # an iterator: a body made as it is sent
    interim: Iterable[bytes] = ()  # raw bytes sent before the status line: interim (1xx) responses


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def sse_event(data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"data: {text}\n\n".encode()


def chunk(content: str | None = None, finish_reason: str | None = None, **delta: Any) -> dict[str, Any]:
    """One chat.completion.chunk object."""
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def sse_reply(
    *pieces: str,
    finish_reason: str | None = "stop",
    usage: dict[str, int] | None = None,
    delay: float = 0.0,
    done: bool = True,
) -> Reply:
    """A streamed answer made of `pieces`, `delay` seconds apart."""
    body: list[Any] = [sse_event(chunk(role="assistant", content=""))]
    for piece in pieces:
        if delay:
            body.append(delay)
        body.append(sse_event(chunk(piece)))
    if finish_reason is not None:
        body.append(sse_event(chunk(finish_reason=finish_reason)))
    if usage is not None:
        body.append(sse_event({**chunk(), "choices": [], "usage": usage}))
    if done:
        body.append(b"data: [DONE]\n\n")
    return Reply(body=body)


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, [json.dumps(data).encode()])


def text_reply(status: int, text: str, content_type: str = "text/html") -> Reply:
    return Reply(status, {"Content-Type": content_type}, [text.encode()])


def echo_auth_reply(status: int = 401) -> Reply:
    """An error whose message quotes the Authorization header it received, as careless servers do."""

    def body(request: RecordedRequest) -> bytes:
        received = request.headers.get("authorization", "")
        return json.dumps(
            {"error": {"message": f"Incorrect API key provided: {received}", "type": "auth"}}
        ).encode()

    return Reply(status, {"Content-Type": "application/json"}, [body])


def redirect_reply(status: int, location: str) -> Reply:
    return Reply(status, {"Location": location, "Content-Length": "0"}, [])


def hang_up_reply() -> Reply:
    """Accept the request, then close the connection without sending any response."""
    return Reply(status=0, headers={}, body=[])


@functools.cache  # compressing 256 MiB takes most of a second; the parametrized tests share one bomb
@functools.lru_cache(maxsize=8)  # the same bomb for several tests of a worker: 0.7 s of CPU each 256 MiB
def gzip_bomb(expanded: int, content: bytes = b"\0", piece: int = 1 << 20) -> bytes:
    """`content` repeated to `expanded` bytes, gzip-compressed (about a thousandth of that size)."""
    import zlib

    # One byte repeated: run-length matching finds the same longest matches in half the time.
    strategy = zlib.Z_RLE if len(set(content)) == 1 else zlib.Z_DEFAULT_STRATEGY
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, strategy)
    block = (content * (piece // len(content) + 1))[:piece]
    parts = [packer.compress(block) for _ in range(expanded // piece)]
    return b"".join([*parts, packer.flush()])


def stream_bytes(reply: Reply) -> bytes:
    """The bytes a reply's body sends (pauses and gates left out): a recorded stream, for parsing offline."""
    return b"".join(piece for piece in reply.body if isinstance(piece, bytes))


INPUT_TOKENS_PATH = "/v1/chat/completions/input_tokens"  # llama.cpp's count of a chat request's prompt
TOKENIZE_PATH = "/tokenize"  # llama.cpp's tokenizer, beside /v1
MESSAGES_COUNT_PATH = "/v1/messages/count_tokens"  # Anthropic's count (llama-server has it too)
RESPONSES_COUNT_PATH = "/v1/responses/input_tokens"  # OpenAI's count of a Responses request
COUNT_PATHS = (INPUT_TOKENS_PATH, TOKENIZE_PATH, MESSAGES_COUNT_PATH, RESPONSES_COUNT_PATH)


class OpenAIServer:
    """Start with `start()`; `url` ends in /v1. Thread-safe recording of requests and disconnects."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.models: list[str] | None = [
            "test-model",
            "other-model",
        ]  # None: GET /models takes a queued reply
        self.model_fields: dict[str, dict[str, Any]] = {}  # more fields of a model's entry (max_model_len…)
        self.props: dict[str, Any] | None = None  # llama.cpp's GET /props beside /v1; None: 404
        self.ollama_version: str | None = None  # Ollama's GET /api/version beside /v1; None: 404
        self.ollama_loaded: list[dict[str, Any]] = []  # Ollama's GET /api/ps: the models loaded
        # llama.cpp's token counters by path (COUNT_PATHS): the tokens each answers; a path not here: 404. Their
        # requests go to `count_requests`, never to `requests`, and never take a queued reply.
        self.token_counts: dict[str, int] = {}
        self.count_errors: dict[str, int] = {}  # a counter's path -> the error status it answers instead
        self.count_requests: list[RecordedRequest] = []
        self.ollama_show: dict[str, Any] | None = None  # Ollama's POST /api/show (any model); None: 404
        self.default = sse_reply("Hello", " from", " the", " test", " server.")
        self.client_disconnects = 0
        self.disconnected = threading.Event()
        self._arrived = threading.Condition()
        self._replies: queue.Queue[Reply] = queue.Queue()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> OpenAIServer:
        # A short poll interval: `stop()` waits for the next poll, and every test using the server pays it.
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def enqueue(self, *replies: Reply) -> None:
        for reply in replies:
            self._replies.put(reply)

    @property
    def bodies(self) -> list[Any]:
        return [request.body for request in self.requests if request.method == "POST"]

    def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        return self.disconnected.wait(timeout)

    def wait_for_requests(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until `count` requests have arrived (their reply may still be going out)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def _next_reply(self, method: str, path: str) -> Reply:
        if method == "GET" and path.endswith("/models") and self.models is not None:
            entries = [{"id": m, "object": "model", **self.model_fields.get(m, {})} for m in self.models]
            return json_reply(200, {"object": "list", "data": entries})
        if method == "GET" and path in ("/props", "/api/version", "/api/ps"):
            return self._beside_v1(path)  # asked in the background: never a queued reply
        if method == "POST" and path == "/api/show":  # the same
            found = self.ollama_show
            return json_reply(200, found) if found else json_reply(404, {"error": "model not found"})
        try:
            return self._replies.get_nowait()
        except queue.Empty:
            return self.default

    def _beside_v1(self, path: str) -> Reply:
        """llama.cpp's /props, Ollama's /api/version and /api/ps, when this server plays one of them; else 404."""
        found: dict[str, Any] | None = {"/props": self.props}.get(path)
        if self.ollama_version is not None and path != "/props":
            found = (
                {"version": self.ollama_version} if path == "/api/version" else {"models": self.ollama_loaded}
            )
        return json_reply(200, found) if found else json_reply(404, {"error": "Not Found"})

    def _count_reply(self, path: str) -> Reply:
        """llama.cpp's answer to a token count: `input_tokens`, or /tokenize's token list; 404 when not playing it."""
        if path in self.count_errors:
            return json_reply(self.count_errors[path], {"error": {"message": "the counter failed"}})
        tokens = self.token_counts.get(path)
        if tokens is None:
            return json_reply(404, {"error": {"code": 404, "message": "File Not Found"}})
        if path == TOKENIZE_PATH:
            return json_reply(200, {"tokens": list(range(tokens))})
        return json_reply(200, {"input_tokens": tokens})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer("GET", None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                self._answer("POST", body)

            def _answer(self, method: str, body: Any) -> None:
                request = RecordedRequest(
                    method, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                if method == "POST" and self.path in COUNT_PATHS:
                    server.count_requests.append(request)
                    self.close_connection = True
                    reply = server._count_reply(self.path)
                    send_head(self, reply)
                    send_body(self, reply, request)
                    return
                with server._arrived:
                    server.requests.append(request)
                    server._arrived.notify_all()
                reply = server._next_reply(method, self.path)
                self.close_connection = True
                if reply.status == 0:  # hang_up_reply()
                    return
                try:
                    send_head(self, reply)
                    send_body(self, reply, request)
                except (BrokenPipeError, ConnectionResetError):
                    with server._lock:
                        server.client_disconnects += 1
                    server.disconnected.set()

        return Handler


def send_head(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    for interim in reply.interim:
        handler.wfile.write(interim)
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.send_header("Connection", "close")
    handler.end_headers()


def send_body(handler: BaseHTTPRequestHandler, reply: Reply, request: RecordedRequest) -> None:
    for piece in reply.body:
        if piece is DROP:
            return
        if isinstance(piece, float | int):
            time.sleep(piece)
            continue
        if isinstance(piece, threading.Event):
            piece.wait(GATE_TIMEOUT)
            continue
        handler.wfile.write(piece(request) if callable(piece) else piece)
        handler.wfile.flush()


def tool_calls_reply(*calls: tuple[str, str, str], text: str = "", piece_chars: int = 4) -> Reply:
    """A streamed answer that asks for tool `calls` (id, name, JSON arguments): `text` first, then each call's
    id and name, then the arguments in pieces of `piece_chars` characters, the calls' pieces interleaved
    round-robin as parallel calls arrive; finish_reason `tool_calls`."""
    body: list[Any] = [sse_event(chunk(role="assistant", content=text or None))]
    pieces = [
        [arguments[start : start + piece_chars] for start in range(0, len(arguments), piece_chars)]
        for _, _, arguments in calls
    ]
    for index, (call_id, name, _) in enumerate(calls):
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        body.append(sse_event(chunk(tool_calls=[first])))
    for round_ in range(max((len(p) for p in pieces), default=0)):
        for index, call_pieces in enumerate(pieces):
            if round_ < len(call_pieces):
                delta = {"index": index, "function": {"arguments": call_pieces[round_]}}
                body.append(sse_event(chunk(tool_calls=[delta])))
    body += [sse_event(chunk(finish_reason="tool_calls")), b"data: [DONE]\n\n"]
    return Reply(body=body)
