"""Any request option: -O, the [options] tables of the config file and its profiles, `config show`, a server
that rejects one, and /set in the chat (on a real pty)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcli.cli.options import declared_parameters, take_key_values
from chatcli.core.request_options import parse_option_value
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli


def config_file(home: Path, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.9", 0.9),
        ("7", 7),
        ("true", True),
        ("null", None),
        ('["\\n\\n"]', ["\n\n"]),
        ('{"type": "json_object"}', {"type": "json_object"}),
        ("high", "high"),
        ("NaN", "NaN"),
        ("two words", "two words"),
    ],
)
def test_a_value_is_json_when_it_parses_else_text(text: str, value: object) -> None:
    assert parse_option_value(text) == value


def test_key_value_options_become_dicts_up_to_a_double_dash() -> None:
    params = list(declared_parameters().values())
    args = ["-O", "a", "1", "--option", "b", "x y", "-P", "lang", "7", "--", "-O", "c", "2"]
    rest, found = take_key_values(args, params, stop_at_argument=False)
    assert rest == ["--", "-O", "c", "2"]
    assert found == {"request_options": {"a": 1, "b": "x y"}, "template_params": {"lang": "7"}}


def test_a_group_takes_key_values_only_before_its_sub_command() -> None:
    params = list(declared_parameters().values())
    args = ["-s", "-O", "-O", "a", "1", "ask", "-O", "b", "2"]
    rest, found = take_key_values(args, params, stop_at_argument=True)
    assert rest == ["-s", "-O", "ask", "-O", "b", "2"]  # -s took "-O" as its value
    assert found == {"request_options": {"a": 1}}


def test_a_key_value_option_needs_a_key_and_a_value() -> None:
    empty_key = invoke("ask", "-b", "echo", "-O", " ", "1", "hi")
    assert (empty_key.returncode, empty_key.stdout) == (2, b"")
    assert empty_key.stderr == b"chatcli: error: -O takes a KEY and a VALUE: -O top_p 0.9\n"
    no_value = invoke("-b", "echo", "hi", "-P", "language")
    assert (no_value.returncode, no_value.stdout) == (2, b"")
    assert no_value.stderr == b"chatcli: error: --param takes a KEY and a VALUE: --param top_p 0.9\n"


def test_the_last_of_repeated_key_value_options_wins(server: OpenAIServer) -> None:
    result = invoke(
        "-O", "seed", "1", "ask", "--base-url", server.url, "-O", "seed", "2", "-O", "seed", "3", "hi"
    )
    assert result.returncode == 0, result.stderr
    assert server.bodies[0]["seed"] == 3


@pytest.mark.e2e
def test_options_reach_the_request_body_key_by_key(server: OpenAIServer) -> None:
    result = invoke(
        "ask",
        "--base-url",
        server.url,
        "-O",
        "top_p",
        "0.9",
        "-O",
        "stop",
        '["\\n\\n"]',
        "-O",
        "seed",
        "7",
        "-O",
        "reasoning_effort",
        "high",
        "-O",
        "logit_bias",
        '{"50256": -100}',
        "hi",
    )
    assert result.returncode == 0, result.stderr
    body = server.bodies[0]
    assert body["top_p"] == 0.9
    assert body["stop"] == ["\n\n"]
    assert body["seed"] == 7
    assert body["reasoning_effort"] == "high"
    assert body["logit_bias"] == {"50256": -100}
    assert body["model"] == "gpt-4o-mini"
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert set(body) == {
        "model",
        "messages",
        "stream",
        "stream_options",
        "top_p",
        "stop",
        "seed",
        "reasoning_effort",
        "logit_bias",
    }


@pytest.mark.e2e
def test_options_follow_precedence_file_then_profile_then_flag(
    server: OpenAIServer, isolated_home: Path
) -> None:
    config_file(
        isolated_home,
        f'base_url = "{server.url}"\n'
        '[options]\ntop_p = 0.5\nseed = 1\nuser = "file"\n'
        '[profiles.work.options]\nseed = 2\nuser = "profile"\n',
    )
    assert invoke("ask", "-p", "work", "-O", "user", "flag", "hi").returncode == 0
    assert invoke("ask", "hi").returncode == 0
    first, second = server.bodies
    assert (first["top_p"], first["seed"], first["user"]) == (0.5, 2, "flag")
    assert (second["top_p"], second["seed"], second["user"]) == (0.5, 1, "file")

    shown = invoke("config", "show", "-p", "work", "-O", "user", "flag").stdout.decode().splitlines()
    assert [line for line in shown if line.startswith("option")] == [
        'option "top_p" = 0.5  file',
        'option "seed" = 2  profile work',
        'option "user" = "flag"  flag',
    ]


@pytest.mark.e2e
@pytest.mark.parametrize("key", ["model", "messages", "stream"])
def test_keys_chatcli_sets_itself_are_refused_before_any_request(server: OpenAIServer, key: str) -> None:
    result = invoke("ask", "--base-url", server.url, "-O", key, "x", "hi")
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"chatcli: error: option {key!r} is set by chatcli itself")
    assert len(result.stderr.splitlines()) == 1
    assert server.requests == []


@pytest.mark.e2e
def test_a_reserved_key_in_the_config_file_names_the_file(isolated_home: Path) -> None:
    config_file(isolated_home, "[profiles.p.options]\nstream = false\n")
    result = invoke("ask", "-b", "echo", "-p", "p", "hi")
    assert result.returncode == 2
    assert "remove it from [profiles.p] in" in result.stderr.decode()


@pytest.mark.e2e
def test_a_server_that_rejects_an_option_gets_one_line_naming_it(server: OpenAIServer) -> None:
    rejection = json_reply(
        400,
        {"error": {"message": "Unrecognized request argument supplied: frobnicate", "param": None}},
    )
    server.enqueue(rejection)
    result = invoke("ask", "--base-url", server.url, "-O", "frobnicate", "1", "hi")
    assert result.returncode == 1
    assert len(server.bodies) == 1  # not mistaken for a server without stream_options, and not retried
    assert result.stderr.decode() == (
        f"chatcli: error: {server.url} does not accept the request option 'frobnicate' (400: Unrecognized "
        "request argument supplied: frobnicate); remove it (-O, [options], /set, or --schema for response_format)\n"
    )


@pytest.mark.e2e
def test_set_in_the_chat_changes_the_options_of_the_next_turns(server: OpenAIServer) -> None:
    server.default = sse_reply("ok")
    child = spawn_chatcli("--base-url", server.url, "-O", "seed", "1", dimensions=(24, 100), timeout=20)

    expect(child, "Ctrl-D exits")
    expect(child, TOOLBAR)
    say(child, "/set", "seed = 1")
    say(child, "/set top_p 0.25", "top_p = 0.25 from the next turn on")
    say(child, '/set stop ["END"]', 'stop = ["END"]')
    say(child, "/set model x", "option 'model' is set by chatcli itself")
    say(child, "first", "ok")
    say(child, "/set seed", "seed removed")
    say(child, "second", "ok")
    child.sendcontrol("d")
    assert exit_code(child) == 0
    first, second = server.bodies
    assert (first["seed"], first["top_p"], first["stop"], first["model"]) == (1, 0.25, ["END"], "gpt-4o-mini")
    assert "seed" not in second and second["top_p"] == 0.25


@pytest.mark.e2e
def test_a_toml_date_in_an_options_table_is_refused_with_one_line(isolated_home: Path) -> None:
    config_file(isolated_home, "[options]\nwhen = 2024-01-01\n")
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert result.stderr.decode().endswith("[options] when must be a JSON value, not a date or time\n")
