"""No cost surprises: the prompt's estimate before sending (the server's count, else the text's length), the
question past confirm_above_tokens or confirm_above_cost (on a terminal), the refusal when piped, --yes; cache
prices in the cost; cache and reasoning tokens in -u, --json and the library (an old library migrated); the spend
per day and model in `history stats`."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from chatcli.backends.openai.client import OpenAIBackend
from chatcli.cli.json_output import answer_json
from chatcli.cli.settings import Price
from chatcli.cli.usage import token_counts
from chatcli.core.conversation import Conversation, Message
from chatcli.core.prompt_estimate import IMAGE_TOKENS, length_estimate
from chatcli.core.session import Session
from chatcli.core.stream import BackendSettings, ChatRequest, StreamInfo, Usage
from chatcli.render.plain import PlainRenderer
from chatcli.storage.library import MIGRATIONS, Library
from chatcli.storage.recorder import Recorder
from tests.conftest import write_config
from tests.fakes import ScriptedBackend
from tests.inprocess import invoke
from tests.openai_server import INPUT_TOKENS_PATH, TOKENIZE_PATH, OpenAIServer, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, spawn_chatcli

LONG = "word " * 400  # 2000 bytes: about 500 tokens by its length
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}


# -- prices and counts -----------------------------------------------------------------------------------------


def test_cache_reads_and_writes_are_priced_apart_and_default_to_the_input_price() -> None:
    usage = Usage(1000, 100, cache_read_tokens=600, cache_write_tokens=200)
    cached = Price.from_table({"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75})
    # 200 uncached at $3, 600 read at $0.30, 200 written at $3.75, 100 out at $15, per million
    assert cached.dollars(usage) == pytest.approx((200 * 3 + 600 * 0.3 + 200 * 3.75 + 100 * 15) / 1e6)
    assert Price.from_table({"input": 3, "output": 15}).dollars(usage) == pytest.approx(
        (1000 * 3 + 100 * 15) / 1e6
    )


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"input": 1, "output": 2, "cached": 1}, "has an unknown key 'cached'; a price takes input, output"),
        ({"input": 1, "output": 2, "cache_read": -1}, "cache_read must be a number ≥ 0"),
        ({"input": 1, "output": 2, "cache_write": "x"}, "cache_write must be a number ≥ 0"),
        ({"input": 1, "cache_read": 1}, "must be a table like { input = 0.15, output = 0.60 }"),
    ],
)
def test_a_wrong_price_says_what_is_wrong_in_one_line(table: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match="^" + error.replace("{", r"\{").replace("}", r"\}")):
        Price.from_table(table)


def test_usage_shows_cache_counts_when_not_zero_and_reasoning_when_reported() -> None:
    assert token_counts(Usage(12, 40)) == "12 prompt + 40 completion tokens"
    usage = Usage(1200, 40, cache_read_tokens=800, cache_write_tokens=100, reasoning_tokens=30)
    assert token_counts(usage) == (
        "1200 prompt (800 cache read, 100 cache write) + 40 completion (30 reasoning) tokens"
    )
    shown = json.loads(answer_json("hi", StreamInfo("stop", usage), "m"))["usage"]
    assert shown == {
        "prompt_tokens": 1200,
        "completion_tokens": 40,
        "total_tokens": 1240,
        "cache_read_tokens": 800,
        "cache_write_tokens": 100,
        "reasoning_tokens": 30,
    }


def test_usage_line_prices_the_cache_from_the_config(isolated_home: Path) -> None:
    write_config(isolated_home, "[prices]\nm = { input = 2, output = 10, cache_read = 0.5 }\n")
    from chatcli.cli.settings_resolution import resolve_config
    from chatcli.cli.usage import describe_usage

    config = resolve_config({}, {}, isolated_home / ".config" / "chatcli" / "config.toml").config
    info = StreamInfo("stop", Usage(1000, 100, cache_read_tokens=1000))
    # all 1000 prompt tokens read from the cache at $0.50, 100 out at $10: $0.0015
    assert describe_usage(info, "m", 1.0, config).endswith("1.0 s, $0.001500")


# -- the estimate ------------------------------------------------------------------------------------------------


def test_the_length_estimate_counts_bytes_images_tools_and_messages() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}
    request = ChatRequest(
        [Message("system", "a" * 40), Message("user", [{"type": "text", "text": "é" * 20}, image])], "m"
    )
    # 40 + 40 bytes / 4, one image, two messages of 4 tokens each
    assert length_estimate(request) == 20 + IMAGE_TOKENS + 8


def test_the_server_counts_the_prompt_with_input_tokens_when_it_can(server: OpenAIServer) -> None:
    server.token_counts = {INPUT_TOKENS_PATH: 1180}
    server.enqueue(sse_reply("Hi", usage={**USAGE, "prompt_tokens": 1204}))
    result = invoke("ask", "-u", "--base-url", server.url, "-m", "test-model", "hi")
    assert result.returncode == 0, result.stderr
    assert "chatcli: prompt: 1 204 tokens (estimated 1 180 by the server)\n" in result.stderr.decode()
    [count] = server.count_requests
    assert count.body["messages"] == server.bodies[0]["messages"]  # the same prompt the answer was asked for
    assert count.body["stream"] is False


def test_tokenize_counts_the_prompt_text_when_input_tokens_is_missing(server: OpenAIServer) -> None:
    server.token_counts = {TOKENIZE_PATH: 7}
    server.enqueue(sse_reply("Hi", usage=USAGE))
    result = invoke("ask", "--json", "--base-url", server.url, "-s", "be brief", "hi")
    assert json.loads(result.stdout)["estimate"] == {"prompt_tokens": 7, "method": "server", "cost": None}
    assert [request.path for request in server.count_requests] == [INPUT_TOKENS_PATH, TOKENIZE_PATH]
    assert server.count_requests[1].body == {"content": "be brief\nhi"}


def test_a_server_without_counters_is_asked_once_then_the_length_is_used(server: OpenAIServer) -> None:
    backend = OpenAIBackend(BackendSettings(base_url=server.url))
    request = ChatRequest([Message("user", "x" * 400)], "m")
    assert backend.count_prompt_tokens(request) is None
    assert backend.count_prompt_tokens(request) is None
    assert [r.path for r in server.count_requests] == [INPUT_TOKENS_PATH, TOKENIZE_PATH]  # each 404 once


def test_a_counter_that_fails_otherwise_stops_all_counting_for_the_session(server: OpenAIServer) -> None:
    server.count_errors = {INPUT_TOKENS_PATH: 500}
    server.token_counts = {TOKENIZE_PATH: 3}
    backend = OpenAIBackend(BackendSettings(base_url=server.url))
    request = ChatRequest([Message("user", "hi")], "m")
    assert backend.count_prompt_tokens(request) is None
    assert backend.count_prompt_tokens(request) is None
    assert [r.path for r in server.count_requests] == [INPUT_TOKENS_PATH]  # no second wait, ever


def test_nothing_is_estimated_without_a_limit_or_a_report(server: OpenAIServer) -> None:
    server.token_counts = {INPUT_TOKENS_PATH: 5}
    assert invoke("ask", "--base-url", server.url, "hi").returncode == 0
    assert server.count_requests == []


# -- the guard, piped ----------------------------------------------------------------------------------------------


def test_piped_ask_past_the_token_limit_is_refused_naming_yes(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\nconfirm_above_tokens = 100\n')
    result = invoke("ask", input=LONG.encode())
    assert result.returncode == 2
    assert result.stderr == (
        b"chatcli: error: this prompt is about 504 tokens, past confirm_above_tokens (100); nothing was sent; "
        b"--yes sends it\n"
    )
    assert server.requests == [] and result.stdout == b""
    sent = invoke("ask", "--yes", input=LONG.encode())
    assert sent.returncode == 0 and sent.stdout == b"Hello from the test server.\n"
    assert len(server.requests) == 1


def test_the_cost_limit_uses_the_price_and_a_profile_can_set_it(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(
        isolated_home,
        f'base_url = "{server.url}"\n[profiles.careful]\nconfirm_above_cost = 0.001\n'
        "[prices]\nbig = { input = 10, output = 30 }\n",
    )
    # 504 tokens at $10 per million: $0.00504, past $0.001
    refused = invoke("ask", "-p", "careful", "-m", "big", LONG)
    assert refused.returncode == 2
    assert b"this prompt is about 504 tokens, $0.00504, past confirm_above_cost ($0.001)" in refused.stderr
    assert invoke("ask", "-p", "careful", "-m", "cheap", LONG).returncode == 0  # no price: no cost to pass
    assert invoke("ask", "-m", "big", LONG).returncode == 0  # the limit is the profile's
    assert len(server.requests) == 2


def test_a_prompt_below_the_limits_is_sent_without_a_word(isolated_home: Path, server: OpenAIServer) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\nconfirm_above_tokens = 1000\n')
    result = invoke("ask", LONG)
    assert result.returncode == 0 and result.stderr == b""
    assert [r.path for r in server.count_requests] == [INPUT_TOKENS_PATH, TOKENIZE_PATH]


def test_the_limits_are_checked_like_other_settings(isolated_home: Path) -> None:
    write_config(isolated_home, "confirm_above_cost = 0\n")
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert b"confirm_above_cost must be a positive number of US dollars" in result.stderr


# -- the library -------------------------------------------------------------------------------------------------


def test_an_old_library_gains_the_cache_columns_and_keeps_its_turns(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    old = sqlite3.connect(path)
    for statements in MIGRATIONS[:3]:
        for statement in statements:
            old.execute(statement)
    old.execute("PRAGMA user_version = 3")
    old.execute(
        "INSERT INTO conversations (id, created_at, updated_at, title, turns) VALUES (?, ?, ?, ?, 1)",
        ("0123456789ab", "2026-01-01T10:00:00+00:00", "2026-01-01T10:00:00+00:00", "old one"),
    )
    old.execute(
        "INSERT INTO turns (conversation_id, created_at, model, prompt_tokens, completion_tokens) "
        "VALUES (?, ?, ?, ?, ?)",
        ("0123456789ab", "2026-01-01T10:00:00+00:00", "m1", 10, 20),
    )
    old.commit()
    old.close()
    recorder = Recorder(path, pytest.fail, backend="scripted")
    session = Session(
        ScriptedBackend(usage=Usage(100, 10, 60, 30, 4)), Conversation(model="m1"), "m1", observers=[recorder]
    )
    session.turn("hi", PlainRenderer(io.BytesIO()))
    recorder.close()
    with Library(path) as library:
        rows = library.usage()
    assert [
        (r.prompt_tokens, r.completion_tokens, r.cache_read_tokens, r.cache_write_tokens) for r in rows
    ] == [
        (10, 20, 0, 0),
        (100, 10, 60, 30),
    ]
    assert rows[1].reasoning_tokens == 4
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_stats_show_the_spend_per_day_and_model_and_name_the_unpriced_once(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(
        isolated_home,
        f'base_url = "{server.url}"\n[prices]\nm1 = {{ input = 1.0, output = 2.0, cache_read = 0.1 }}\n',
    )
    server.enqueue(
        sse_reply("a", usage={"prompt_tokens": 1000, "completion_tokens": 100}),
        sse_reply("b", usage={"prompt_tokens": 30, "completion_tokens": 40}),
        sse_reply("c", usage={"prompt_tokens": 5, "completion_tokens": 6}),
    )
    for model in ("m1", "m2", "m3"):
        assert invoke("ask", "-m", model, "q").returncode == 0
    stats = json.loads(invoke("history", "stats", "--json").stdout)
    [day] = {entry["day"] for entry in stats["days_by_model"]}
    assert stats["days_by_model"] == [
        {
            "day": day,
            "model": "m1",
            "turns": 1,
            "prompt_tokens": 1000,
            "completion_tokens": 100,
            "cost": 0.0012,
        },
        {"day": day, "model": "m2", "turns": 1, "prompt_tokens": 30, "completion_tokens": 40, "cost": None},
        {"day": day, "model": "m3", "turns": 1, "prompt_tokens": 5, "completion_tokens": 6, "cost": None},
    ]
    assert stats["unpriced_models"] == ["m2", "m3"]
    table = invoke("history", "stats").stdout.decode().splitlines()
    by_day_and_model = table.index("") + table[table.index("") + 1 :].index("") + 2
    assert table[by_day_and_model].split() == ["day", "and", "model", "turns", "prompt", "completion", "cost"]
    assert table[by_day_and_model + 1].split() == [day, "m1", "1", "1000", "100", "$0.0012"]
    assert table[by_day_and_model + 2].split() == [day, "m2", "1", "30", "40", "-"]
    assert table[-1] == "no [prices] entry for m2, m3: tokens only, not in the cost"
    assert sum("[prices]" in line for line in table) == 1


def test_stats_count_cache_tokens_in_their_columns_and_the_cost(isolated_home: Path) -> None:
    write_config(isolated_home, "[prices]\nm1 = { input = 1.0, output = 2.0, cache_read = 0.1 }\n")
    path = isolated_home / ".local" / "share" / "chatcli" / "library.db"
    recorder = Recorder(path, pytest.fail, backend="scripted")
    session = Session(
        ScriptedBackend(usage=Usage(1000, 100, 800, 0)), Conversation(model="m1"), "m1", observers=[recorder]
    )
    session.turn("hi", PlainRenderer(io.BytesIO()))
    recorder.close()
    stats = json.loads(invoke("history", "stats", "--json").stdout)
    # 200 uncached at $1, 800 cache reads at $0.10, 100 out at $2, per million
    assert stats["total"] == {
        "turns": 1,
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "cache_read_tokens": 800,
        "cost": pytest.approx(0.00048),
    }
    table = invoke("history", "stats").stdout.decode().splitlines()
    assert table[0].split()[-3:] == ["cache", "write", "cost"] and table[1].split()[4:] == [
        "800",
        "0",
        "$0.0005",
    ]


def test_the_conversation_totals_of_usage_count_the_cache(tmp_path: Path) -> None:
    from chatcli.cli.settings import Config
    from chatcli.cli.usage import describe_totals

    recorder = Recorder(tmp_path / "library.db", pytest.fail, backend="scripted")
    session = Session(
        ScriptedBackend(usage=Usage(1000, 10, 900, 0)), Conversation(model="m1"), "m1", observers=[recorder]
    )
    for question in ("one", "two"):
        session.turn(question, PlainRenderer(io.BytesIO()))
    config = Config(prices={"m1": Price(1.0, 2.0, cache_read=0.1)})
    # each turn: 100 uncached at $1, 900 read at $0.10, 10 out at $2, per million
    assert describe_totals(recorder, config) == (
        "conversation: 2 turns, 2000 prompt (1800 cache read) + 20 completion tokens, $0.000420"
    )
    recorder.close()


# -- the guard on a terminal ---------------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("key", ["y", "n", "\r"])
def test_ask_on_a_terminal_sends_only_after_y(key: str, isolated_home: Path, server: OpenAIServer) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\nconfirm_above_tokens = 100\n')
    child = spawn_chatcli("ask", LONG)
    expect(child, "this prompt is about 504 tokens; send? [y/N] ")
    child.send(key)
    if key == "y":
        expect(child, "Hello from the test server.")
        assert exit_code(child) == 0
        assert len(server.requests) == 1
    else:
        expect(child, "nothing was sent")
        assert exit_code(child) == 1
        assert server.requests == []


@pytest.mark.e2e
def test_the_chat_asks_keeps_a_declined_line_and_sends_after_y(
    isolated_home: Path, server: OpenAIServer
) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\nconfirm_above_tokens = 100\n')
    child = spawn_chatcli(dimensions=(24, 200))
    expect(child, TOOLBAR)
    child.send(LONG.strip() + "\r")
    expect(child, "this prompt is about 504 tokens; send? [y/N] ")
    child.send("n")
    expect(child, "not sent (Up brings the line back; /retry asks again)")
    expect(child, TOOLBAR)
    assert server.bodies == []  # the chat asks GET /models for itself
    child.send("\x1b[A")  # Up: the declined line, from the input history
    child.send("\r")
    expect(child, "send? [y/N] ")
    child.send("y")
    expect(child, "Hello from the test server.")
    expect(child, TOOLBAR)
    assert len(server.bodies) == 1
    child.sendcontrol("d")
    assert exit_code(child) == 0


@pytest.mark.e2e
def test_the_chat_with_yes_never_asks(isolated_home: Path, server: OpenAIServer) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\nconfirm_above_tokens = 100\n')
    child = spawn_chatcli("--yes", dimensions=(24, 200))
    expect(child, TOOLBAR)
    child.send(LONG.strip() + "\r")
    before = expect(child, "Hello from the test server.")
    assert "send?" not in before
    child.sendcontrol("d")
    assert exit_code(child) == 0
    assert len(server.bodies) == 1
