"""chatcli against a real server written by someone else: llama.cpp's llama-server, which speaks chat completions,
the Responses API and Anthropic Messages, with the tiny model ../shared/realserver/ makes on the spot.

Each backend's answer to a greedy request (temperature 0, a token limit) must be byte for byte the answer the
provider's own SDK gets from the same server. The tier is skipped, saying why, when the server is not built
(`../shared/realserver/setup.sh --with-llama-server`); REALSERVER_HOME says where it was built (/tmp/realserver).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import run_chatcli

REALSERVER = Path(__file__).resolve().parent.parent.parent / "shared" / "realserver"
HOME = Path(os.environ.get("REALSERVER_HOME", "/tmp/realserver"))
MODEL = "tiny-random-llama"
MAX_TOKENS = 48
PROMPTS = [
    "Say hello.",
    "Écris une phrase en français, s'il te plaît — avec des accents.",
    "List three fruits as a Markdown list.",
]

pytestmark = [pytest.mark.realserver, pytest.mark.e2e]


def _missing() -> str | None:
    if not (REALSERVER / "serve.sh").exists():
        return f"{REALSERVER}/serve.sh is not there"
    if not (HOME / "bin" / "llama-server").exists():
        return f"llama.cpp's llama-server is not built: run {REALSERVER}/setup.sh --with-llama-server"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def root_url() -> Iterator[str]:
    """The llama-server's root URL (no /v1), started for this module and stopped after it."""
    if (why := _missing()) is not None:
        pytest.skip(why)
    port = str(_free_port())
    serve = str(REALSERVER / "serve.sh")
    started = subprocess.run([serve, port, "cpp"], capture_output=True, text=True, timeout=180, check=False)
    if started.returncode != 0:
        pytest.fail(f"serve.sh could not start llama-server: {started.stderr.strip()[-500:]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([serve, "stop", port], capture_output=True, timeout=30, check=False)


def _openai_sdk(root: str, prompt: str, system: str | None) -> str:
    import openai

    client = openai.OpenAI(base_url=f"{root}/v1", api_key="none")
    system_message = [{"role": "system", "content": system}] if system else []
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[*system_message, {"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=MAX_TOKENS,
        stream=True,
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def _responses_sdk(root: str, prompt: str, system: str | None) -> str:
    import openai

    client = openai.OpenAI(base_url=f"{root}/v1", api_key="none")
    # The raw event stream: the SDK's responses.stream() accumulator needs the output indexes llama-server omits.
    stream = client.responses.create(
        model=MODEL,
        input=prompt,
        instructions=system or openai.omit,
        temperature=0,
        max_output_tokens=MAX_TOKENS,
        store=False,
        stream=True,
    )
    return "".join(event.delta for event in stream if event.type == "response.output_text.delta")


def _anthropic_sdk(root: str, prompt: str, system: str | None) -> str:
    import anthropic

    client = anthropic.Anthropic(base_url=root, api_key="none")
    with client.messages.stream(
        model=MODEL,
        max_tokens=MAX_TOKENS,
        system=system or anthropic.omit,
        messages=[{"role": "user", "content": prompt}],
        extra_body={"temperature": 0},  # anthropic 2.x's types have no temperature; the API takes it
    ) as stream:
        return "".join(stream.text_stream)


SDKS: dict[str, tuple[Callable[[str, str, str | None], str], str]] = {
    # backend: (the SDK's answer, the base URL chatcli is given: each provider's own convention)
    "openai": (_openai_sdk, "{root}/v1"),
    "responses": (_responses_sdk, "{root}/v1"),
    "anthropic": (_anthropic_sdk, "{root}"),
}


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("backend", list(SDKS))
@pytest.mark.parametrize(
    ("streamed", "system"),
    [(True, None), (False, None), (True, "Answer in one line.")],
    ids=["stream", "no-stream", "stream-system"],
)
def test_each_backend_answers_byte_for_byte_as_the_providers_sdk(
    root_url: str, backend: str, prompt: str, streamed: bool, system: str | None
) -> None:
    sdk, base_url = SDKS[backend]
    expected = sdk(root_url, prompt, system)
    assert expected, "the SDK got an empty answer: the check would prove nothing"
    args = ["ask", "-b", backend, "--base-url", base_url.format(root=root_url), "-m", MODEL]
    args += ["--temperature", "0", "--max-tokens", str(MAX_TOKENS), "--no-log", prompt]
    if system:
        args[1:1] = ["-s", system]
    if not streamed:
        args.insert(1, "--no-stream")
    result = run_chatcli(*args, env={"OPENAI_API_KEY": "none", "ANTHROPIC_API_KEY": "none"}, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    answer = result.stdout.decode()
    assert answer.removesuffix("\n") == expected.removesuffix("\n")
    assert answer == (expected if expected.endswith("\n") else expected + "\n")


@pytest.mark.parametrize("backend", list(SDKS))
def test_each_backend_lists_the_servers_model(root_url: str, backend: str) -> None:
    base_url = SDKS[backend][1].format(root=root_url)
    result = run_chatcli("models", "-b", backend, "--base-url", base_url, env={"ANTHROPIC_API_KEY": "none"})
    assert result.returncode == 0, result.stderr.decode()
    assert MODEL in result.stdout.decode().split()


def test_the_cost_guard_estimate_is_the_servers_own_count(root_url: str) -> None:
    """llama-server counts the prompt (`/v1/chat/completions/input_tokens`) as it then counts the request."""
    args = ["ask", "--json", "--base-url", f"{root_url}/v1", "-m", MODEL, "--max-tokens", "4", "--no-log"]
    result = run_chatcli(*args, "-s", "Be brief.", PROMPTS[1], env={"OPENAI_API_KEY": "none"}, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    answer = json.loads(result.stdout)
    assert answer["estimate"]["method"] == "server"
    assert answer["estimate"]["prompt_tokens"] == answer["usage"]["prompt_tokens"] > 10
