"""The baseline clients chatcli is measured against, each writing every delta to stdout and flushing it.

`python bench/baselines.py stdlib BASE_URL [WIRE]`: a standard-library-only reader (http.client + json), the
floor, for one wire format: `openai` (chat completions, the default), `anthropic` (Messages), `responses` (OpenAI
Responses) or `ollama` (/api/chat); BASE_URL as bench/harness.py's SSEServer.url gives it (ending in /v1, but for
ollama's root). It parses every event, as a client that wants the stop reason and the usage must, and prints the
text deltas.
`python bench/baselines.py sdk BASE_URL`: the openai SDK iterating `Stream[ChatCompletionChunk]`, what most
tools do. Both print the answer's raw text, unrendered, to stdout (a pipe or a terminal).
"""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PROMPT = "Write a long answer."
MESSAGES = [{"role": "user", "content": PROMPT}]
REQUEST = {"model": "bench-model", "messages": MESSAGES, "stream": True}
JSON = {"Content-Type": "application/json"}
OPENAI_KEY = {**JSON, "Authorization": "Bearer no-key"}


def chat_completions_text(lines: Iterable[bytes]) -> Iterator[str]:
    for line in lines:
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        for choice in json.loads(data)["choices"]:
            if content := choice["delta"].get("content"):
                yield content


def anthropic_text(lines: Iterable[bytes]) -> Iterator[str]:
    for line in lines:
        if not line.startswith(b"data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
            yield event["delta"]["text"]
        elif event["type"] == "message_stop":
            return


def responses_text(lines: Iterable[bytes]) -> Iterator[str]:
    for line in lines:
        if not line.startswith(b"data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "response.output_text.delta":
            yield event["delta"]
        elif event["type"] == "response.completed":
            return


def ollama_text(lines: Iterable[bytes]) -> Iterator[str]:
    for line in lines:
        chunk = json.loads(line)
        if content := chunk["message"]["content"]:
            yield content
        if chunk["done"]:
            return


@dataclass(frozen=True, slots=True)
class Wire:
    """How to ask one provider for a streamed answer, and how to read the text out of its stream."""

    path: str  # appended to the base URL
    body: dict[str, Any]
    headers: dict[str, str]
    text: Callable[[Iterable[bytes]], Iterator[str]]


WIRES = {
    "openai": Wire("/chat/completions", REQUEST, OPENAI_KEY, chat_completions_text),
    "anthropic": Wire(
        "/messages",
        {"model": "bench-model", "max_tokens": 32000, "messages": MESSAGES, "stream": True},
        {**JSON, "x-api-key": "no-key", "anthropic-version": "2023-06-01"},
        anthropic_text,
    ),
    "responses": Wire(
        "/responses",
        {"model": "bench-model", "input": MESSAGES, "store": False, "stream": True},
        OPENAI_KEY,
        responses_text,
    ),
    "ollama": Wire("/api/chat", REQUEST, JSON, ollama_text),
}


def stdlib_reader(base_url: str, wire_name: str = "openai") -> None:
    wire = WIRES[wire_name]
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=60)
    connection.request("POST", url.path.rstrip("/") + wire.path, json.dumps(wire.body), wire.headers)
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}")
    out = sys.stdout.buffer
    for text in wire.text(response):
        out.write(text.encode())
        out.flush()
    out.write(b"\n")
    out.flush()
    connection.close()


def sdk_client(base_url: str) -> None:
    import openai

    client = openai.OpenAI(api_key="no-key", base_url=base_url)
    stream = client.chat.completions.create(
        model="bench-model", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    for chunk in stream:
        if chunk.choices and (content := chunk.choices[0].delta.content):
            print(content, end="", flush=True)
    print(flush=True)


if __name__ == "__main__":
    kind, url, *wire = sys.argv[1:]
    {"stdlib": lambda: stdlib_reader(url, *wire), "sdk": lambda: sdk_client(url)}[kind]()
