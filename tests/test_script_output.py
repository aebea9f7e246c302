"""Answers shaped for scripts: -x/--extract-last, --schema against the local server; -u totals and
`history stats` from the library. The commands run in-process (`invoke`); the import probe is a process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply, sse_reply
from tests.probe import exit_probe

pytestmark = pytest.mark.e2e

ANSWER = "Two ways:\n\n```python\nprint('a')\n```\n\nor\n\n~~~sh\necho \x1b[31mb\n~~~\n"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "people": {"type": "integer"}},
    "required": ["city", "people"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("flag", "block"), [("-x", b"print('a')\n"), ("--extract-last", b"echo \x1b[31mb\n")]
)
def test_extract_prints_one_code_block_without_fences(server: OpenAIServer, flag: str, block: bytes) -> None:
    server.enqueue(sse_reply(*ANSWER.partition("```")))
    result = invoke("ask", "--base-url", server.url, flag, "how?")
    assert (result.returncode, result.stdout, result.stderr) == (0, block, b"")


def test_extract_takes_a_code_block_in_a_list_item_or_quote_as_the_screen_shows_it(
    server: OpenAIServer,
) -> None:
    server.enqueue(
        sse_reply("Steps:\n\n1. Build:\n   ```sh\n   make\n   ```\n2. Then:\n\n> ~~~\n> ./run\n> ~~~\n")
    )
    result = invoke("ask", "--base-url", server.url, "-x", "how?")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"make\n", b"")
    server.enqueue(sse_reply("> ~~~\n> ./run\n> ~~~\n"))
    result = invoke("ask", "--base-url", server.url, "--extract-last", "how?")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"./run\n", b"")


def test_extract_without_a_code_block_exits_1_with_one_line(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("No code here."))
    result = invoke("ask", "--base-url", server.url, "-x", "how?")
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr == b"chatcli: error: the answer has no fenced code block to extract\n"


def test_schema_is_sent_strict_and_the_validated_json_printed(server: OpenAIServer, tmp_path: Path) -> None:
    schema_file = tmp_path / "city facts.json"
    schema_file.write_text(json.dumps(SCHEMA))
    server.enqueue(sse_reply('{"city": "Paris",', ' "people": 2100000}'))
    result = invoke("ask", "--base-url", server.url, "--schema", str(schema_file), "Paris?")
    assert (result.returncode, result.stderr) == (0, b"")
    assert json.loads(result.stdout) == {"city": "Paris", "people": 2100000}
    assert server.bodies[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city_facts", "strict": True, "schema": SCHEMA},
    }


def test_an_answer_that_breaks_the_schema_exits_1_with_the_first_violation(server: OpenAIServer) -> None:
    server.enqueue(sse_reply('{"city": "Paris", "people": "many"}'))
    result = invoke("ask", "--base-url", server.url, "--schema", json.dumps(SCHEMA), "Paris?")
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr == (
        b"chatcli: error: the answer does not match the schema at $.people: 'many' is not of type 'integer'\n"
    )


def test_an_answer_that_is_not_json_exits_1(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("Paris has many people."))
    result = invoke("ask", "--base-url", server.url, "--schema", json.dumps(SCHEMA), "Paris?")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("chatcli: error: the answer is not JSON (")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("{not json", "--schema is not valid JSON"),
        ('{"type": "objekt"}', "--schema is not a valid JSON schema: "),
        ("missing.json", "schema file 'missing.json' cannot be read"),
        ("/dev/zero", "schema file '/dev/zero' is a device, not a regular file"),
    ],
)
def test_a_bad_schema_is_refused_before_any_request(server: OpenAIServer, schema: str, message: str) -> None:
    result = invoke("ask", "--base-url", server.url, "--schema", schema, "hi")
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"chatcli: error: {message}")
    assert server.requests == []


def test_a_server_that_rejects_response_format_gets_one_line(server: OpenAIServer) -> None:
    server.enqueue(
        json_reply(400, {"error": {"message": "json_schema is not supported", "param": "response_format"}})
    )
    result = invoke("ask", "--base-url", server.url, "--schema", json.dumps(SCHEMA), "hi")
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"chatcli: error: {server.url} does not accept the request option 'response_format' (400: json_schema "
        "is not supported); remove it (-O, [options], /set, or --schema for response_format)\n"
    )


def test_a_server_error_naming_response_format_is_a_rejection_not_retried(server: OpenAIServer) -> None:
    """llama-cpp-python answers a response_format it does not support with a 500 that names it."""
    message = "Error: response_format of type json_schema is not supported by this server"
    server.enqueue(json_reply(500, {"error": {"message": message, "type": "internal_server_error"}}))
    result = invoke("ask", "--base-url", server.url, "--schema", json.dumps(SCHEMA), "hi")
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"chatcli: error: {server.url} does not accept the request option 'response_format' (500: {message}); "
        "remove it (-O, [options], /set, or --schema for response_format)\n"
    )
    assert len(server.requests) == 1  # no "waiting 1s (server error 500)…" and no second try


def test_a_server_error_naming_nothing_sent_is_still_retried(server: OpenAIServer) -> None:
    server.enqueue(
        json_reply(500, {"error": {"message": "the GPU fell over"}}),
        sse_reply('{"city": "Oslo", "people": 3}'),
    )
    result = invoke("ask", "--base-url", server.url, "--schema", json.dumps(SCHEMA), "hi")
    assert len(server.requests) == 2 and "waiting 1s (server error 500)" in result.stderr.decode()


def test_output_shapes_cannot_be_combined(server: OpenAIServer) -> None:
    result = invoke("ask", "--base-url", server.url, "-x", "--json", "hi")
    assert result.returncode == 2
    assert result.stderr == b"chatcli: error: --json and -x cannot be combined; choose one output\n"


def test_usage_adds_the_conversation_totals_when_continuing_and_stats_sums_the_library(
    server: OpenAIServer, isolated_home: Path
) -> None:
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'backend = "openai"\nbase_url = "{server.url}"\n[prices]\n"m1" = {{ input = 1.0, output = 2.0 }}\n'
    )
    server.enqueue(
        sse_reply("a", usage={"prompt_tokens": 10, "completion_tokens": 20}),
        sse_reply("b", usage={"prompt_tokens": 30, "completion_tokens": 40}),
        sse_reply("c", usage={"prompt_tokens": 1, "completion_tokens": 2}),
    )
    first = invoke("ask", "-m", "m1", "-u", "one")
    assert (
        first.stderr.decode().splitlines()[0].startswith("chatcli: usage: 10 prompt + 20 completion tokens, ")
    )
    # A new conversation: its totals are this turn, so only the context line follows.
    assert first.stderr.decode().splitlines()[1:] == [
        "chatcli: prompt: 10 tokens (estimated 5 from the text's length, $0.000005)",
        "chatcli: context: 30 tokens; the model's context window is unknown "
        "(set context_window, or [context_windows] per model, in the config file)",
    ]
    second = invoke("ask", "-m", "m1", "-c", "-u", "two")
    assert second.stderr.decode().splitlines()[2] == (
        "chatcli: conversation: 2 turns, 40 prompt + 60 completion tokens, $0.000160"
    )
    assert invoke("ask", "-m", "m2", "three").returncode == 0

    stats = json.loads(invoke("history", "stats", "--json").stdout)
    assert stats["models"] == [
        {"model": "m1", "turns": 2, "prompt_tokens": 40, "completion_tokens": 60, "cost": 0.00016},
        {"model": "m2", "turns": 1, "prompt_tokens": 1, "completion_tokens": 2, "cost": None},
    ]
    assert [day["turns"] for day in stats["days"]] == [3]
    assert stats["total"] == {"turns": 3, "prompt_tokens": 41, "completion_tokens": 62, "cost": 0.00016}
    table = invoke("history", "stats").stdout.decode().splitlines()
    assert table[1].split() == ["m1", "2", "40", "60", "$0.0002"]
    assert table[3].split() == ["total", "3", "41", "62", "$0.0002"]


# Runs the CLI's main() under the given argv and reports at exit whether jsonschema was imported.
PROBE = exit_probe('"JSONSCHEMA=%s" % ("jsonschema" in sys.modules)')


@pytest.mark.parametrize(("args", "loaded"), [(("-x",), False), (("--schema", '{"type": "string"}'), True)])
def test_jsonschema_is_imported_only_for_schema(args: tuple[str, ...], loaded: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "ask", "-b", "echo", *args, "hi"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert f"JSONSCHEMA={loaded}" in done.stderr.decode()
