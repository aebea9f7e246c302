"""A fast streaming server on 127.0.0.1 for benchmarks, paced or unpaced, speaking four wire formats.

The answer's size and pace are in the URL, so any client can be pointed at it with a base URL:
`http://127.0.0.1:PORT/t/20000/r/2000/v1` streams 20 000 tokens at 2 000 tokens/s (`r/0`: as fast as
possible); `/t/10/r/0/f/0.3/v1` sends the events before the first token at once and the tokens 0.3 s later (a
model's time to first token). The wire format is chosen by the rest of the path, each the provider's own:
  /t/N/r/R[/f/F]/v1/chat/completions   OpenAI chat completions: `chat.completion.chunk` events, `data: [DONE]`
  /t/N/r/R[/f/F]/v1/messages           Anthropic Messages: message_start … content_block_delta … message_stop
  /t/N/r/R[/f/F]/v1/responses          OpenAI Responses: response.created … response.output_text.delta …
                                       response.completed
  /t/N/r/R[/f/F]/api/chat              Ollama: NDJSON message lines, then the `"done":true` line with the counts
                                       (and /api/show answers for a model that cannot think)
Every token is one event (one NDJSON line for Ollama) in its own HTTP chunk, as real servers send them; so is every
event before and after the tokens. After each stream the server prints `done TOKENS REQUEST LAST_BYTE` on stdout:
`time.monotonic()` when the request arrived and when the last byte was written (the clock is system-wide, so the
benchmark can compare them with its own).

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
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from answers import markdown_answer

_PATH = re.compile(r"^/t/(\d+)/r/(\d+(?:\.\d+)?)(?:/f/(\d+(?:\.\d+)?))?(/[a-z0-9/]+)$")
_LOCK = threading.Lock()
MODEL = "bench-model-2025-01-01"
PROMPT_TOKENS = 13  # what each format reports as the prompt's size
CHUNKED_END = b"0\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Stream:
    """A response body as HTTP chunks: the events before the first token, one per token, the events after."""

    content_type: str
    head: tuple[bytes, ...]
    tokens: tuple[bytes, ...]
    tail: tuple[bytes, ...]  # ends with the chunked body's end


def _frame(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _named_event(data: dict[str, object]) -> bytes:
    """One SSE event named by its `type`, as the Anthropic and Responses APIs send them."""
    return _frame(b"event: %s\ndata: %s\n\n" % (str(data["type"]).encode(), _json(data)))


def _chat_chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-BENCH0123456789abcdefghijklmn",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_0123456789",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return _frame(b"data: " + _json(data) + b"\n\n")


def chat_completions(tokens: list[str]) -> Stream:
    """A role chunk, one chunk per token, the finish chunk, [DONE]."""
    return Stream(
        "text/event-stream; charset=utf-8",
        (_chat_chunk({"role": "assistant", "content": "", "refusal": None}),),
        tuple(_chat_chunk({"content": token}) for token in tokens),
        (_chat_chunk({}, "stop"), _frame(b"data: [DONE]\n\n"), CHUNKED_END),
    )


def anthropic_messages(tokens: list[str]) -> Stream:
    """The Messages API's stream of one text block: message_start, content_block_start, ping, a text_delta per
    token, content_block_stop, message_delta (stop reason, cumulative usage), message_stop."""
    usage = {"input_tokens": PROMPT_TOKENS, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    message: dict[str, object] = {
        "id": "msg_01BENCH0123456789abcdefgh",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1, "service_tier": "standard"},
    }
    head = (
        _named_event({"type": "message_start", "message": message}),
        _named_event(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        ),
        _named_event({"type": "ping"}),
    )
    deltas = tuple(
        _named_event(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}}
        )
        for token in tokens
    )
    tail = (
        _named_event({"type": "content_block_stop", "index": 0}),
        _named_event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {**usage, "output_tokens": len(tokens)},
            }
        ),
        _named_event({"type": "message_stop"}),
        CHUNKED_END,
    )
    return Stream("text/event-stream; charset=utf-8", head, deltas, tail)


def _response(status: str, output: list[object], usage: object) -> dict[str, object]:
    """The Responses API's response object, as its lifecycle events carry it."""
    return {
        "id": "resp_BENCH0123456789abcdef",
        "object": "response",
        "created_at": 1767225600,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def openai_responses(tokens: list[str]) -> Stream:
    """The Responses API's stream of one message: response.created, response.in_progress, output_item.added,
    content_part.added, an output_text.delta per token, output_text.done, content_part.done, output_item.done,
    response.completed with the usage; every event numbered by sequence_number."""
    item_id = "msg_BENCH0123456789abcdef"
    text = "".join(tokens)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    item = {"id": item_id, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
    usage = {
        "input_tokens": PROMPT_TOKENS,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": len(tokens),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": PROMPT_TOKENS + len(tokens),
    }
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, object]] = [
        {"type": "response.created", "response": _response("in_progress", [], None)},
        {"type": "response.in_progress", "response": _response("in_progress", [], None)},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
    ]
    events += [
        {"type": "response.output_text.delta", **where, "delta": token, "logprobs": []} for token in tokens
    ]
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": _response("completed", [item], usage)},
    ]
    frames = [
        _named_event({"type": event["type"], "sequence_number": n, **event}) for n, event in enumerate(events)
    ]
    return Stream(
        "text/event-stream; charset=utf-8",
        tuple(frames[:4]),
        tuple(frames[4:-4]),
        (*frames[-4:], CHUNKED_END),
    )


def _go_json(data: object) -> bytes:
    """JSON as Go's encoding/json writes it (Ollama is written in Go): UTF-8, with <, > and & escaped."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def ollama_chat(tokens: list[str]) -> Stream:
    """Ollama's /api/chat stream: one NDJSON line per token, then the `done` line with the counts and durations."""

    def line(n: int, content: str, **rest: object) -> bytes:
        created = f"2026-01-01T00:00:00.{n * 500_000:09d}Z"  # a token every half millisecond
        message = {"role": "assistant", "content": content}
        return _frame(_go_json({"model": MODEL, "created_at": created, "message": message, **rest}) + b"\n")

    lines = tuple(line(n, token, done=False) for n, token in enumerate(tokens))
    done = line(
        len(tokens),
        "",
        done=True,
        done_reason="stop",
        total_duration=len(tokens) * 500_000 + 20_000_000,
        load_duration=1_334_875,
        prompt_eval_count=PROMPT_TOKENS,
        prompt_eval_duration=18_000_000,
        eval_count=len(tokens),
        eval_duration=len(tokens) * 500_000,
    )
    return Stream("application/x-ndjson", (), lines, (done, CHUNKED_END))


FORMATS: dict[str, Callable[[list[str]], Stream]] = {
    "/v1/chat/completions": chat_completions,
    "/v1/messages": anthropic_messages,
    "/v1/responses": openai_responses,
    "/api/chat": ollama_chat,
}

# What Ollama answers about a model that cannot think (POST /api/show): chatcli's ollama backend asks before its
# first turn when reasoning is shown, as it is by default.
OLLAMA_SHOW = _go_json(
    {
        "modelfile": f'# Modelfile generated by "ollama show"\nFROM {MODEL}\nTEMPLATE {{{{ .Prompt }}}}\n',
        "parameters": 'num_ctx 8192\nstop "<|eot_id|>"',
        "template": "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
        "{{ end }}{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}"
        "<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "8.0B",
            "quantization_level": "Q4_K_M",
        },
        "model_info": {
            "general.architecture": "llama",
            "general.parameter_count": 8030261248,
            "llama.context_length": 131072,
            "llama.embedding_length": 4096,
        },
        "capabilities": ["completion"],
        "modified_at": "2026-01-01T00:00:00.000000000Z",
    }
)


@lru_cache(maxsize=16)
def stream_for(endpoint: str, n_tokens: int) -> Stream:
    """The whole response body of an `n_tokens` answer at `endpoint` (a key of FORMATS)."""
    return FORMATS[endpoint](markdown_answer(n_tokens))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        arrived = time.monotonic()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _PATH.match(self.path)
        if match is not None and match[4] == "/api/show":
            self._answer_json(OLLAMA_SHOW)
            return
        if match is None or match[4] not in FORMATS:
            self.send_error(404, "use /t/TOKENS/r/RATE[/f/SECONDS] and an endpoint: " + ", ".join(FORMATS))
            return
        n_tokens, rate, first = int(match[1]), float(match[2]), float(match[3] or 0)
        stream = stream_for(match[4], n_tokens)
        self.send_response(200)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._send(stream, rate, first)
        except (BrokenPipeError, ConnectionResetError):
            return
        last_byte = time.monotonic()
        self.close_connection = True
        with _LOCK:
            print(f"done {n_tokens} {arrived:.6f} {last_byte:.6f}", flush=True)

    def _answer_json(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send(self, stream: Stream, rate: float, first: float) -> None:
        if first:
            self.connection.sendall(b"".join(stream.head))
            time.sleep(first)
            head: tuple[bytes, ...] = ()
        else:
            head = stream.head
        if rate <= 0 or not stream.tokens:
            self.connection.sendall(b"".join((*head, *stream.tokens, *stream.tail)))
        else:
            self._paced(head, stream, rate)

    def _paced(self, head: tuple[bytes, ...], stream: Stream, rate: float) -> None:
        """Token i leaves at start + i / rate, the events before it with token 0 and those after it with the last;
        whatever is due is sent in one write."""
        start = time.monotonic()
        tokens = stream.tokens
        sent = 0
        while sent < len(tokens):
            due = min(len(tokens), int((time.monotonic() - start) * rate) + 1)
            if due > sent:
                frames = (
                    *(head if sent == 0 else ()),
                    *tokens[sent:due],
                    *(stream.tail if due == len(tokens) else ()),
                )
                self.connection.sendall(b"".join(frames))
                sent = due
            else:
                time.sleep(max(0.0, start + sent / rate - time.monotonic()))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--warm", type=int, nargs="*", default=[], help="token counts to pre-build, every format"
    )
    args = parser.parse_args()
    for n_tokens in args.warm:
        for endpoint in FORMATS:
            stream_for(endpoint, n_tokens)
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
