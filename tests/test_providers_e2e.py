"""Profiles, aliases, key commands, `models`, usage, `ask --json` and `-f`, through the local server: in-process,
with shell completion and one test each of `models` and `--json` through the installed command (e2e)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from chatcli.core.conversation import Message
from chatcli.core.stream import BackendSettings, ChatRequest
from tests.conftest import CHATCLI, TEST_KEY, run_chatcli, write_config
from tests.fakes import read_whole
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply, sse_reply

USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
REJECTION = {
    "error": {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid"}
}


# -- profiles, aliases, keys ---------------------------------------------------------------------------------


def test_profile_supplies_base_url_model_and_sampling(isolated_home: Path, server: OpenAIServer) -> None:
    write_config(
        isolated_home,
        f'model = "file-model"\n[profiles.local]\nbase_url = "{server.url}"\nmodel = "llama3.2"\ntemperature = 0.2\n',
    )
    result = invoke("ask", "-p", "local", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello from the test server.\n"
    body = server.bodies[0]
    assert (body["model"], body["temperature"]) == ("llama3.2", 0.2)


def test_profile_from_the_environment_and_flags_still_win(isolated_home: Path, server: OpenAIServer) -> None:
    write_config(isolated_home, f'[profiles.local]\nbase_url = "{server.url}"\nmodel = "llama3.2"\n')
    result = invoke("ask", "-m", "flag-model", "hi", env={"CHATCLI_PROFILE": "local"})
    assert result.returncode == 0, result.stderr
    assert server.bodies[0]["model"] == "flag-model"


def test_alias_becomes_the_model_id_the_server_receives(isolated_home: Path, server: OpenAIServer) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\n[aliases]\nfast = "qwen2.5:0.5b"\n')
    assert invoke("ask", "-m", "fast", "hi").returncode == 0
    assert invoke("ask", "hi", env={"CHATCLI_MODEL": "fast"}).returncode == 0
    assert [body["model"] for body in server.bodies] == ["qwen2.5:0.5b", "qwen2.5:0.5b"]


def test_key_command_output_is_sent_as_the_key_and_never_shown(
    isolated_home: Path, server: OpenAIServer
) -> None:
    command = shlex.join([sys.executable, "-c", f"print('{TEST_KEY}')"])
    write_config(isolated_home, f"base_url = {json.dumps(server.url)}\napi_key_cmd = {json.dumps(command)}\n")
    result = invoke("ask", "hi")
    assert result.returncode == 0, result.stderr
    assert server.requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"
    shown = invoke("config", "show")
    for output in (result.stdout, result.stderr, shown.stdout, shown.stderr):
        assert TEST_KEY.encode() not in output


def test_failing_key_command_stops_before_any_request(isolated_home: Path, server: OpenAIServer) -> None:
    command = shlex.join([sys.executable, "-c", f"import sys; sys.stderr.write('{TEST_KEY}'); sys.exit(1)"])
    write_config(isolated_home, f"base_url = {json.dumps(server.url)}\napi_key_cmd = {json.dumps(command)}\n")
    result = invoke("ask", "hi")
    assert result.returncode == 1
    assert (
        result.stderr == b"chatcli: error: api_key_cmd failed (exit status 1); run it yourself to see why\n"
    )
    assert server.requests == []


# -- models --------------------------------------------------------------------------------------------------


def test_models_lists_sorted_ids_with_control_characters_made_visible(server: OpenAIServer) -> None:
    server.models = ["zeta", "alpha\x1b]52;c;ZXZpbA==\x07", "line\nbreak"]
    result = invoke("models", "--base-url", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"alpha^[]52;c;ZXZpbA==^G\nline^Jbreak\nzeta\n"
    assert server.requests[0].method == "GET" and server.requests[0].path == "/v1/models"


def test_models_json_is_a_parsable_list(server: OpenAIServer) -> None:
    result = invoke("models", "--json", env={"OPENAI_BASE_URL": server.url})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"id": "other-model", "owned_by": None},
        {"id": "test-model", "owned_by": None},
    ]


def test_models_uses_the_profile_and_reports_a_missing_endpoint(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(isolated_home, f'[profiles.local]\nbase_url = "{server.url}"\n')
    server.models = None
    server.enqueue(json_reply(404, {"error": {"message": "Not Found"}}))
    result = invoke("models", "-p", "local")
    assert result.returncode == 1
    assert result.stderr.decode().endswith("has no model list (404); does the base URL end in /v1?\n")


def test_models_without_a_string_id_are_skipped_and_owners_must_be_strings(server: OpenAIServer) -> None:
    from chatcli.backends.openai.client import OpenAIBackend
    from chatcli.core.stream import ModelEntry

    server.models = None
    listing = {
        "data": [{"object": "model"}, {"id": 5}, {"id": "a", "owned_by": 3}, {"id": "b", "owned_by": "me"}]
    }
    server.enqueue(json_reply(200, listing))
    entries = OpenAIBackend(BackendSettings(base_url=server.url, timeout=15)).list_models()
    assert entries == [ModelEntry("a", None), ModelEntry("b", "me")]


def test_models_without_a_server_is_a_usage_error() -> None:
    result = invoke("models")
    assert result.returncode == 2
    assert result.stderr.startswith(b"chatcli: error: the echo backend has no model list")


# -- usage -----------------------------------------------------------------------------------------------------


def test_usage_is_requested_and_printed_with_its_cost(isolated_home: Path, server: OpenAIServer) -> None:
    write_config(isolated_home, '[prices]\n"test-model" = { input = 1.0, output = 4.0 }\n')
    server.enqueue(sse_reply("Hi", usage=USAGE))
    result = invoke("ask", "-u", "--base-url", server.url, "-m", "test-model", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hi\n"
    assert server.bodies[0]["stream_options"] == {"include_usage": True}
    backend, line, estimate, context = result.stderr.decode().splitlines()
    assert backend == "chatcli: backend: openai (picked by auto)"  # -b names it: no such line
    assert line.startswith("chatcli: usage: 12 prompt + 5 completion tokens, ")
    assert line.endswith(" s, $0.000032")  # 12 * 1.0 + 5 * 4.0 dollars per million tokens
    # "hi" and its message: 1 + 4 tokens from the text's length (the server has no counter), at $1 per million
    assert estimate == "chatcli: prompt: 12 tokens (estimated 5 from the text's length, $0.000005)"
    assert context.startswith("chatcli: context: 17 tokens; the model's context window is unknown")


def test_server_that_rejects_stream_options_is_asked_again_without_them(server: OpenAIServer) -> None:
    server.enqueue(json_reply(400, REJECTION), sse_reply("Fine"))
    result = invoke("ask", "-u", "-b", "openai", "--base-url", server.url, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Fine\n"
    assert "stream_options" in server.bodies[0]
    assert "stream_options" not in server.bodies[1]
    assert result.stderr.decode().startswith("chatcli: usage: the server reported no token counts; ")


def test_server_that_ignores_stream_options_just_reports_no_counts(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("Fine"))
    result = invoke("ask", "-u", "-b", "openai", "--base-url", server.url, "hi")
    assert result.returncode == 0
    assert len(server.bodies) == 1
    assert result.stderr.decode().startswith("chatcli: usage: the server reported no token counts; ")


def test_other_400_errors_are_not_retried(server: OpenAIServer) -> None:
    server.enqueue(json_reply(400, {"error": {"message": "temperature must be at most 2"}}))
    result = invoke("ask", "--base-url", server.url, "hi")
    assert result.returncode == 1
    assert len(server.bodies) == 1
    assert b"temperature must be at most 2" in result.stderr


def test_rejection_is_remembered_for_the_rest_of_the_session(server: OpenAIServer) -> None:
    from chatcli.backends.openai.client import OpenAIBackend

    backend = OpenAIBackend(BackendSettings(base_url=server.url, timeout=15))
    server.enqueue(json_reply(400, REJECTION), sse_reply("one"), sse_reply("two", usage=USAGE))
    for expected in ("one", "two"):
        stream = backend.stream(ChatRequest([Message("user", "hi")], "m"))
        text, info = read_whole(stream)
        assert text == expected
    assert ["stream_options" in body for body in server.bodies] == [True, False, False]
    assert info.usage is not None and info.usage.completion_tokens == 5


def test_no_stream_asks_for_the_whole_answer_and_still_gets_usage(
    isolated_home: Path, server: OpenAIServer
) -> None:
    completion = {
        "model": "m",
        "choices": [{"message": {"content": "Whole"}, "finish_reason": "stop"}],
        "usage": USAGE,
    }
    server.enqueue(json_reply(200, completion), json_reply(200, completion))
    assert invoke("ask", "--no-stream", "--base-url", server.url, "hi").stdout == b"Whole\n"
    write_config(isolated_home, f'backend = "openai"\nbase_url = "{server.url}"\nstream = false\n')
    result = invoke("ask", "-u", "hi")
    assert result.stdout == b"Whole\n"
    assert result.stderr.decode().startswith("chatcli: usage: 12 prompt + 5 completion tokens, ")
    for body in server.bodies:
        assert body["stream"] is False and "stream_options" not in body


# -- ask --json ------------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_json_output_is_one_object_and_nothing_else(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("Bonjour", " à tous\x1b[2J", usage=USAGE))
    result = run_chatcli("ask", "--json", "--base-url", server.url, "-m", "asked-model", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b"}\n") and result.stdout.count(b"\n") == 1
    assert json.loads(result.stdout) == {
        "content": "Bonjour à tous\x1b[2J",
        "model": "test-model",
        "backend": "openai",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        "estimate": {"prompt_tokens": 5, "method": "text length", "cost": None},
    }
    assert b"\x1b" not in result.stdout


def test_json_on_echo_names_the_requested_model_and_no_usage() -> None:
    result = invoke("ask", "--json", "-b", "echo", "-m", "mine", "hi")
    assert json.loads(result.stdout) == {
        "content": "Echo: hi",
        "model": "mine",
        "backend": "echo",
        "finish_reason": "stop",
        "usage": None,
        "estimate": {"prompt_tokens": 5, "method": "text length", "cost": None},
    }


def test_json_with_a_failed_request_prints_nothing_on_stdout(server: OpenAIServer) -> None:
    server.enqueue(json_reply(401, {"error": {"message": "bad key"}}))
    result = invoke("ask", "--json", "--base-url", server.url, "hi")
    assert result.returncode == 1
    assert result.stdout == b""


# -- -f/--file -------------------------------------------------------------------------------------------------


def test_text_files_come_first_each_under_its_name(tmp_path: Path, server: OpenAIServer) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n```py\nx = 1\n```\n", encoding="utf-8")
    (tmp_path / "todo.txt").write_text("buy milk", encoding="utf-8")
    result = invoke(
        "ask",
        "--base-url",
        server.url,
        "-f",
        str(tmp_path / "notes.md"),
        "--file",
        str(tmp_path / "todo.txt"),
        "summarise",
        input=b"from stdin\n",
    )
    assert result.returncode == 0, result.stderr
    expected = (
        f"### {tmp_path / 'notes.md'}\n\n````\n# Notes\n```py\nx = 1\n```\n````\n\n"
        f"### {tmp_path / 'todo.txt'}\n\n```\nbuy milk\n```\n\n"
        "from stdin\n\nsummarise"
    )
    assert server.bodies[0]["messages"] == [{"role": "user", "content": expected}]


def test_a_file_alone_is_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "q.txt").write_text("what is 2+2?\n", encoding="utf-8")
    result = invoke("ask", "-b", "echo", "-f", str(tmp_path / "q.txt"))
    assert result.stdout == f"Echo: ### {tmp_path / 'q.txt'}\n\n```\nwhat is 2+2?\n```\n".encode()


@pytest.mark.parametrize(
    ("content", "extra", "problem"),
    [
        (
            b"\x7fELF\x02\x01\x00\x00",  # a binary that is not an image
            [],
            "is binary (NUL byte at offset 6) and not a PNG, JPEG, GIF or WebP image; "
            "only text and those images are sent",
        ),
        (b"caf\xe9\n", [], "is not valid UTF-8 (byte offset 3); only UTF-8 text is sent"),
        (
            b"x" * 101,
            ["--max-input-bytes", "100"],
            "is larger than 100 bytes; raise --max-input-bytes to send it",
        ),
    ],
)
def test_binary_undecodable_or_oversized_files_are_refused_before_any_request(
    tmp_path: Path, server: OpenAIServer, content: bytes, extra: list[str], problem: str
) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    result = invoke("ask", "--base-url", server.url, *extra, "-f", str(path), "describe")
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode() == f"chatcli: error: attached file '{path}' {problem}\n"
    assert server.requests == []


def test_missing_file_is_refused(tmp_path: Path) -> None:
    result = invoke("ask", "-b", "echo", "-f", str(tmp_path / "nope.txt"), "hi")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"chatcli: error: attached file '{tmp_path / 'nope.txt'}' cannot be read (No such file or directory); check the path\n"
    )


# -- shell completion ---------------------------------------------------------------------------------------------


def under_bash(option: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        # `; exit` keeps bash from exec-ing the command, so bash is its parent whatever started the tests
        ["bash", "-c", f"{shlex.quote(CHATCLI)} {option}; exit $?"],
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.e2e
def test_completion_script_and_completions_work(isolated_home: Path) -> None:
    """Typer detects the shell from the parent process, so the commands run under bash as a user's would."""
    shown = under_bash("--show-completion")
    assert shown.returncode == 0, shown.stderr
    assert b"_CHATCLI_COMPLETE=complete_bash" in shown.stdout
    completed = run_chatcli(
        env={"_CHATCLI_COMPLETE": "complete_bash", "COMP_WORDS": "chatcli mo", "COMP_CWORD": "1"}
    )
    assert completed.stdout.split() == [b"models"]
    installed = under_bash("--install-completion")
    assert installed.returncode == 0, installed.stderr
    script = isolated_home / ".bash_completions" / "chatcli.sh"
    assert b"_CHATCLI_COMPLETE=complete_bash" in script.read_bytes()
    assert str(script) in (isolated_home / ".bashrc").read_text()


@pytest.mark.e2e
def test_profile_names_complete_from_the_config_file(isolated_home: Path) -> None:
    write_config(isolated_home, "[profiles.ollama]\n[profiles.vllm]\n[profiles.work]\n")
    for words, expected in [("chatcli ask -p ", [b"ollama", b"vllm", b"work"]), ("chatcli -p w", [b"work"])]:
        current = len(words.split()) - (
            0 if words.endswith(" ") else 1
        )  # the index of the word being completed
        env = {"_CHATCLI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(current)}
        assert run_chatcli(env=env).stdout.split() == expected


def test_options_work_before_or_after_the_sub_command_and_after_wins(server: OpenAIServer) -> None:
    server.enqueue(sse_reply("one"), sse_reply("two"), sse_reply("three"))
    before = invoke("--base-url", server.url, "-m", "early", "ask", "hi")
    after = invoke("--base-url", server.url, "-m", "early", "ask", "-m", "late", "hi")
    bare = invoke("-m", "bare", "--base-url", server.url, "what is 2+2")
    assert (before.stdout, after.stdout, bare.stdout) == (b"one\n", b"two\n", b"three\n")
    assert [request.body["model"] for request in server.requests] == ["early", "late", "bare"]
    assert server.requests[2].body["messages"][-1]["content"] == "what is 2+2"


def test_chat_options_before_history_or_config_are_refused_not_ignored() -> None:
    result = invoke("-m", "x", "history", "list")
    assert result.returncode == 2
    assert result.stderr == b"chatcli: error: --model does not apply to `history`\n"


def test_a_key_in_a_config_file_others_can_read_is_warned_about(
    isolated_home: Path, server: OpenAIServer
) -> None:
    path = write_config(isolated_home, f'base_url = "{server.url}"\napi_key = "{TEST_KEY}"\n')
    path.chmod(0o644)
    warned = invoke("ask", "hi")
    assert warned.returncode == 0
    warning = f"warning: {path} holds your API key and other users can read it; run: chmod 600 {path}"
    assert warning in warned.stderr.decode()
    path.chmod(0o600)
    quiet = invoke("ask", "hi")
    assert quiet.returncode == 0
    assert quiet.stderr == b""
    assert TEST_KEY.encode() not in warned.stderr + quiet.stderr


def test_plain_after_the_sub_command_is_not_mistaken_for_unset(server: OpenAIServer) -> None:
    """--plain is a False that was given: it must win over --markdown given before `ask`."""
    server.enqueue(sse_reply("**bold**"))
    result = invoke("--markdown", "ask", "--plain", "--base-url", server.url, "hi")
    assert result.stdout == b"**bold**\n"


def test_cached_and_reasoning_tokens_the_server_details_are_counted(server: OpenAIServer) -> None:
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    server.enqueue(sse_reply("Hi", usage=usage))
    result = invoke("ask", "--json", "-b", "openai", "--base-url", server.url, "hi")
    assert json.loads(result.stdout)["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
        "cache_read_tokens": 8,
        "reasoning_tokens": 3,
    }
    bad_details = {**usage, "prompt_tokens_details": {"cached_tokens": "lots"}}
    server.enqueue(sse_reply("Hi", usage=bad_details))
    result = invoke("ask", "--json", "-b", "openai", "--base-url", server.url, "hi")
    assert json.loads(result.stdout)["usage"]["prompt_tokens"] == 12  # a bad detail drops only itself
    assert "cache_read_tokens" not in json.loads(result.stdout)["usage"]
