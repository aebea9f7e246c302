"""The baseline clients chatcli is measured against, each writing every delta to stdout and flushing it.

`python bench/baselines.py stdlib BASE_URL`: a standard-library-only SSE reader (http.client + json), the floor.
`python bench/baselines.py sdk BASE_URL`: the openai SDK iterating `Stream[ChatCompletionChunk]`, what most
tools do. Both print the answer's raw text, unrendered, to stdout (a pipe or a terminal).
"""

from __future__ import annotations

import http.client
import json
import sys
from urllib.parse import urlsplit

PROMPT = "Write a long answer."
REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": PROMPT}], "stream": True}


def stdlib_reader(base_url: str) -> None:
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=60)
    body = json.dumps(REQUEST)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer no-key"}
    connection.request("POST", url.path.rstrip("/") + "/chat/completions", body, headers)
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}")
    out = sys.stdout.buffer
    for line in response:
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        for choice in json.loads(data)["choices"]:
            if content := choice["delta"].get("content"):
                out.write(content.encode())
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
    kind, url = sys.argv[1], sys.argv[2]
    {"stdlib": stdlib_reader, "sdk": sdk_client}[kind](url)
