"""One-shot latency (issues 13 and 24): the wall time of `chatcli ask` (a 10-token answer) and `chatcli models`
against a local server, next to the least a Python command-line client can do, piped and on a pseudo-terminal; and
the same for `chatcli ask -b anthropic|responses|ollama`, each against a minimal client of its own wire format.

Subjects, each a child process; every round runs each once, interleaved, and the verdicts use medians:
  minimal  a minimal Typer app that POSTs with http.client and prints the stream (or GETs /models)
  chatcli  `chatcli ask --base-url URL -m bench-model hi` / `chatcli models --base-url URL`
  minimal WIRE, chatcli WIRE
           the same app speaking Anthropic Messages, OpenAI Responses or Ollama's /api/chat, and
           `chatcli ask -b WIRE --base-url URL -m bench-model hi` against the same server
  sdk      the 8-line openai SDK script (when openai is installed)
  llm      `llm -m bench hi` through an extra-openai-models.yaml (when llm is on PATH; skipped otherwise)
Targets: chatcli ≤ 1.5 × the minimal client (of the same wire format) piped, ≤ 1.6 × on a terminal (where chatcli
renders Markdown).
Also shown: how long after the server's first token the first text reaches the terminal, when the model takes
0.3 s to its first token (chatcli imports its Markdown renderer while it waits).
Usage: python bench/oneshot.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from answers import markdown_answer
from harness import (
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

TOKENS = 10
FIRST_TOKEN_DELAY = 0.3  # seconds: the model's time to first token, for the first-text measurement
LLM = shutil.which("llm")
PIPE_LIMIT, TERMINAL_LIMIT = 1.5, 1.6
MODES: dict[str, Callable[[Sequence[str], dict[str, str]], Run]] = {
    "piped": run_piped,
    "terminal": run_on_terminal,
}

# The floor: what any Python CLI pays (Typer, one HTTP request with the standard library, printing).
MINIMAL = """
import http.client, json, sys
from typing import Annotated
from urllib.parse import urlsplit
import typer

app = typer.Typer(pretty_exceptions_enable=False)

def connect(base_url):
    url = urlsplit(base_url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=60), url.path.rstrip("/")

@app.command()
def ask(prompt: list[str], base_url: Annotated[str, typer.Option()], model: Annotated[str, typer.Option("-m")]):
    connection, path = connect(base_url)
    body = {"model": model, "messages": [{"role": "user", "content": " ".join(prompt)}], "stream": True}
    connection.request("POST", path + "/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    for line in connection.getresponse():
        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
            for choice in json.loads(line[5:])["choices"]:
                sys.stdout.write(choice["delta"].get("content") or "")
                sys.stdout.flush()
    print()

@app.command()
def models(base_url: Annotated[str, typer.Option()]):
    connection, path = connect(base_url)
    connection.request("GET", path + "/models")
    for model in sorted(json.loads(connection.getresponse().read())["data"], key=lambda m: m["id"]):
        print(model["id"])

app()
"""

# The floor for each other wire format: the same app, with its provider's request and stream.
MINIMAL_WIRE_HEAD = """
import http.client, json, sys
from typing import Annotated
from urllib.parse import urlsplit
import typer

app = typer.Typer(pretty_exceptions_enable=False)

@app.callback()
def main():
    pass

@app.command()
def ask(prompt: list[str], base_url: Annotated[str, typer.Option()], model: Annotated[str, typer.Option("-m")]):
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    messages = [{"role": "user", "content": " ".join(prompt)}]
"""
MINIMAL_WIRE_ASK = {
    "anthropic": """
    body = {"model": model, "max_tokens": 4096, "messages": messages, "stream": True}
    headers = {"Content-Type": "application/json", "x-api-key": "no-key", "anthropic-version": "2023-06-01"}
    connection.request("POST", url.path.rstrip("/") + "/messages", json.dumps(body), headers)
    for line in connection.getresponse():
        if line.startswith(b"data:"):
            event = json.loads(line[5:])
            if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                sys.stdout.write(event["delta"]["text"])
                sys.stdout.flush()
""",
    "responses": """
    body = {"model": model, "input": messages, "store": False, "stream": True}
    headers = {"Content-Type": "application/json"}
    connection.request("POST", url.path.rstrip("/") + "/responses", json.dumps(body), headers)
    for line in connection.getresponse():
        if line.startswith(b"data:"):
            event = json.loads(line[5:])
            if event["type"] == "response.output_text.delta":
                sys.stdout.write(event["delta"])
                sys.stdout.flush()
""",
    "ollama": """
    body = {"model": model, "messages": messages, "stream": True}
    headers = {"Content-Type": "application/json"}
    connection.request("POST", url.path.rstrip("/") + "/api/chat", json.dumps(body), headers)
    for line in connection.getresponse():
        sys.stdout.write(json.loads(line)["message"]["content"])
        sys.stdout.flush()
""",
}
MINIMAL_WIRE_TAIL = """
    print()

app()
"""

# What most scripts do: the openai SDK, eight lines.
SDK = """
import sys
import openai
client = openai.OpenAI(api_key="no-key", base_url=sys.argv[1])
stream = client.chat.completions.create(model="bench-model", messages=[{"role": "user", "content": "hi"}], stream=True)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
"""


class ModelList(ThreadingHTTPServer):
    """GET /v1/models on 127.0.0.1, in a thread: three models, as a small server lists them."""

    daemon_threads = True
    BODY = json.dumps(
        {
            "object": "list",
            "data": [{"id": f"model-{n}", "object": "model", "owned_by": "bench"} for n in range(3)],
        }
    ).encode()

    def __init__(self) -> None:
        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def llm_config(home: Path, url: str) -> Iterator[dict[str, str] | None]:
    """An LLM_USER_PATH whose extra-openai-models.yaml names the bench server as model `bench`; None without llm."""
    if LLM is None:
        yield None
        return
    user_path = home / "llm"
    user_path.mkdir()
    (user_path / "extra-openai-models.yaml").write_text(
        f"- model_id: bench\n  model_name: bench-model\n  api_base: {url}\n", encoding="utf-8"
    )
    yield {"LLM_USER_PATH": str(user_path)}


def subjects(server: SSEServer, models_url: str, with_llm: bool, first: float = 0) -> dict[str, list[str]]:
    ask_url = server.url(TOKENS, first=first)
    minimal = [PYTHON, "-c", MINIMAL]
    chosen = {
        "minimal ask": [*minimal, "ask", "--base-url", ask_url, "-m", "bench-model", "hi"],
        "chatcli ask": [CHATCLI, "ask", "--base-url", ask_url, "-m", "bench-model", "hi"],
        "minimal models": [*minimal, "models", "--base-url", models_url],
        "chatcli models": [CHATCLI, "models", "--base-url", models_url],
    }
    if importlib.util.find_spec("openai") is not None:
        chosen["openai SDK script"] = [PYTHON, "-c", SDK, ask_url]
    if with_llm:
        chosen["llm"] = [LLM, "-m", "bench", "--no-log", "hi"]
    for wire in NATIVE_WIRES:
        url = server.url(TOKENS, first=first, wire=wire)
        script = MINIMAL_WIRE_HEAD + MINIMAL_WIRE_ASK[wire] + MINIMAL_WIRE_TAIL
        request = ["--base-url", url, "-m", "bench-model", "hi"]
        chosen[f"minimal {wire} ask"] = [PYTHON, "-c", script, "ask", *request]
        chosen[f"chatcli {wire} ask"] = [CHATCLI, "ask", "-b", wire, *request]
    return chosen


def measure(rounds: int) -> tuple[list[Target], str]:
    with temporary_home() as home, SSEServer(warm=[TOKENS]) as server:
        models = ModelList()
        try:
            with llm_config(home, server.url(TOKENS)) as llm_env:
                env = {**bench_env(home), **(llm_env or {})}
                chosen = subjects(server, models.url, llm_env is not None)
                runs = _measure(chosen, env, rounds)
            lags = _first_text_lags(server, bench_env(home), rounds)
        finally:
            models.shutdown()
            models.server_close()
    targets, text = _report(runs, rounds, llm_env is not None)
    lag_target, lag_text = _report_lags(lags, rounds)
    return [*targets, lag_target], text + "\n\n" + lag_text


def _measure(
    chosen: dict[str, list[str]], env: dict[str, str], rounds: int
) -> dict[tuple[str, str], list[Run]]:
    answer = "".join(markdown_answer(TOKENS)).encode()
    for name, argv in chosen.items():  # warm the page cache and the .pyc files, and check each answers right
        expected = b"model-0" if name.endswith("models") else answer
        if expected not in run_piped(argv, env).output:
            raise RuntimeError(f"{name} did not print {expected!r}")
    runs: dict[tuple[str, str], list[Run]] = {}
    for _ in range(rounds):
        for mode, runner in MODES.items():
            for name, argv in chosen.items():
                runs.setdefault((name, mode), []).append(runner(argv, env))
    return runs


def _first_text_lags(
    server: SSEServer, env: dict[str, str], rounds: int
) -> dict[tuple[str, str], list[float]]:
    """Seconds from the server sending the first token to the first byte on the client's stdout, for the
    minimal client and chatcli, piped and on a terminal, against a model that takes FIRST_TOKEN_DELAY s."""
    every = subjects(server, "", with_llm=False, first=FIRST_TOKEN_DELAY)
    chosen = {name: every[name] for name in ("minimal ask", "chatcli ask")}
    server.forget_reports()
    lags: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for mode, runner in MODES.items():
            for name, argv in chosen.items():
                run = runner(argv, env)
                arrived, _ = server.next_stream(requested_after=run.ended - run.wall)
                assert run.first_output is not None
                lags.setdefault((name, mode), []).append(run.first_output - (arrived + FIRST_TOKEN_DELAY))
    return lags


def _report_lags(lags: dict[tuple[str, str], list[float]], rounds: int) -> tuple[Target, str]:
    rows = [
        (LABELS[name], *(f"{median(lags[(name, mode)]) * 1e3:.1f}" for mode in ("piped", "terminal")))
        for name in ("minimal ask", "chatcli ask")
    ]
    terminal = median(lags[("chatcli ask", "terminal")]) * 1e3
    text = (
        f"First text after the server's first token, the model taking {FIRST_TOKEN_DELAY} s to it, median of "
        f"{rounds} interleaved rounds:\n\n" + markdown_table(("client", "piped ms", "terminal ms"), rows)
    )
    target = Target(
        f"terminal: first text after the server's first token (time to first token {FIRST_TOKEN_DELAY} s)",
        f"{terminal:.1f} ms",
        "informational",
        None,
    )
    return target, text


def _report(runs: dict[tuple[str, str], list[Run]], rounds: int, with_llm: bool) -> tuple[list[Target], str]:
    def seconds(name: str, mode: str, cpu: bool = False) -> float:
        return median([run.cpu if cpu else run.wall for run in runs[(name, mode)]])

    def ms(name: str, mode: str, cpu: bool = False) -> str:
        return f"{seconds(name, mode, cpu) * 1e3:.0f}"

    def ratio(name: str, floor: str, mode: str, cpu: bool = False) -> float:
        return seconds(name, mode, cpu) / seconds(floor, mode, cpu)

    rows = []
    for name, floor in (
        ("minimal ask", "minimal ask"),
        ("chatcli ask", "minimal ask"),
        ("openai SDK script", "minimal ask"),
        ("llm", "minimal ask"),
        ("minimal models", "minimal models"),
        ("chatcli models", "minimal models"),
        *(
            (f"{side} {wire} ask", f"minimal {wire} ask")
            for wire in NATIVE_WIRES
            for side in ("minimal", "chatcli")
        ),
    ):
        if (name, "piped") not in runs:
            continue
        rows.append(
            (
                LABELS[name],
                ms(name, "piped"),
                f"{ratio(name, floor, 'piped'):.2f}",
                ms(name, "terminal"),
                f"{ratio(name, floor, 'terminal'):.2f}",
                ms(name, "piped", cpu=True),
                f"{ratio(name, floor, 'piped', cpu=True):.2f}",
            )
        )
    targets = []
    compared = [(f"`chatcli {command}`", command, "") for command in ("ask", "models")]
    compared += [
        (f"`chatcli ask -b {wire}`", f"{wire} ask", f", {NATIVE_WIRES[wire]}") for wire in NATIVE_WIRES
    ]
    for label, command, wire_name in compared:
        for mode, limit in (("piped", PIPE_LIMIT), ("terminal", TERMINAL_LIMIT)):
            value = ratio(f"chatcli {command}", f"minimal {command}", mode)
            targets.append(
                Target(
                    f"{label} {mode} vs minimal Typer + http.client{wire_name} (median wall)",
                    f"{value:.2f} ×",
                    f"≤ {limit} ×",
                    value <= limit,
                )
            )
    header = ("client", "piped wall ms", "ratio", "terminal wall ms", "ratio", "piped CPU ms", "ratio")
    absent = "" if with_llm else " `llm` is not installed here, so it has no row."
    text = (
        f"One-shot latency, {TOKENS}-token answer from a local server, median of {rounds} interleaved rounds "
        f"(CPU: the child's own; on a quiet machine the wall time follows it).{absent}\n\n"
        + markdown_table(header, rows)
    )
    return targets, text


LABELS = {
    "minimal ask": "minimal Typer + http.client app, ask",
    "chatcli ask": "`chatcli ask`",
    "openai SDK script": "8-line openai SDK script",
    "llm": "`llm -m bench` (extra-openai-models.yaml)",
    "minimal models": "minimal Typer + http.client app, models",
    "chatcli models": "`chatcli models`",
    **{
        f"minimal {wire} ask": f"minimal Typer + http.client app, ask, {name}"
        for wire, name in NATIVE_WIRES.items()
    },
    **{f"chatcli {wire} ask": f"`chatcli ask -b {wire}`" for wire in NATIVE_WIRES},
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args(argv)
    targets, details = measure(args.rounds or (3 if args.quick else 7))
    print(details)
    print()
    print(targets_table(targets))
    sys.exit(0 if all(target.met for target in targets) else 1)


if __name__ == "__main__":
    main()
