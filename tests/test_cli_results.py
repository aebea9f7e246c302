"""What the sub-commands print and refuse: aliases in `history list -m`, `-c` with `--cid`, an empty import,
the title column at any width, and empty results said rather than silent (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.conftest import write_config
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply


def ask_echo(*args: str) -> None:
    assert invoke("ask", "-b", "echo", *args).returncode == 0


def test_history_list_model_accepts_an_alias(isolated_home: Path) -> None:
    write_config(isolated_home, '[aliases]\nfast = "test-model"\n')
    ask_echo("-m", "test-model", "about otters")
    ask_echo("-m", "other-model", "about owls")
    by_alias = invoke("history", "list", "-m", "fast", "--json")
    assert [c["title"] for c in json.loads(by_alias.stdout)] == ["about otters"]
    by_name = invoke("history", "list", "-m", "test-model", "--json")
    assert [c["title"] for c in json.loads(by_name.stdout)] == ["about otters"]


def test_continue_and_cid_together_are_refused_like_continue_and_load() -> None:
    ask_echo("first")
    both = invoke("ask", "-b", "echo", "-c", "--cid", "abc", "hi")
    assert (both.returncode, both.stdout) == (2, b"")
    assert (
        both.stderr == b"chatcli: error: --continue cannot be combined with --cid; choose one conversation\n"
    )
    chat = json.loads(invoke("history", "list", "--json").stdout)
    assert [c["turns"] for c in chat] == [1]  # nothing was sent or recorded


@pytest.mark.parametrize(
    "text", ["[]", '{"version": 1, "messages": []}', '[{"role": "system", "content": "terse"}]']
)
def test_importing_a_conversation_without_messages_is_refused(tmp_path: Path, text: str) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(text)
    result = invoke("history", "import", str(empty))
    assert (result.returncode, result.stdout) == (2, b"")
    assert (
        result.stderr
        == f"chatcli: error: {empty}: the conversation has no messages; nothing imported\n".encode()
    )
    piped = invoke("history", "import", "-", input=text.encode())
    assert piped.returncode == 2 and piped.stderr.startswith(
        b"chatcli: error: stdin: the conversation has no"
    )
    assert json.loads(invoke("history", "list", "--json").stdout) == []


@pytest.mark.parametrize("columns", [120, 80, 60, 40, 30])
def test_history_list_keeps_the_title_at_any_width(columns: int) -> None:
    ask_echo("-m", "a-rather-long-model-name-v2", "a title long enough to be shortened at every width here")
    listing = invoke("history", "list", stdout_isatty=True, env={"COLUMNS": str(columns)})
    header, row = listing.stdout.decode().splitlines()
    assert header.startswith("id") and header.endswith("title")
    assert len(row) <= columns
    assert row.split("  ")[-1].startswith("a title")
    assert row.endswith("…") == (columns < 100)


@pytest.mark.parametrize("columns", [80, 41, 40])
def test_history_list_cuts_a_wide_title_to_the_terminals_columns(columns: int) -> None:
    ask_echo("-m", "m", "海の向こうに何があるのか教えてください。長い質問です。")
    listing = invoke("history", "list", stdout_isatty=True, env={"COLUMNS": str(columns)})
    _, row = listing.stdout.decode().splitlines()
    assert cell_len(row) <= columns  # two columns for each of these characters, not one
    assert row.endswith("…") and "海の向こう" in row


def test_empty_lists_say_so_on_stderr_when_piped_and_json_stays_a_list() -> None:
    listing = invoke("history", "list")
    assert (listing.returncode, listing.stdout, listing.stderr) == (0, b"", b"chatcli: no conversations\n")
    filtered = invoke("history", "list", "-m", "nothing-here")
    assert filtered.stderr == b"chatcli: no conversations with model nothing-here\n"
    on_terminal = invoke("history", "list", stdout_isatty=True)
    assert (on_terminal.stdout, on_terminal.stderr) == (b"no conversations\n", b"")
    as_json = invoke("history", "list", "--json")
    assert (json.loads(as_json.stdout), as_json.stderr) == ([], b"")
    templates = invoke("templates", "list")
    assert templates.returncode == 0 and templates.stdout == b""
    assert templates.stderr.startswith(b"chatcli: no templates yet; create one: chatcli templates edit NAME")


def test_save_over_a_file_chatcli_did_not_write_is_a_usage_error_unless_forced(tmp_path: Path) -> None:
    mine = tmp_path / "mine.json"
    mine.write_text('{"x": 1}\n')
    refused = invoke("ask", "-b", "echo", "-o", str(mine), "hi")
    assert (refused.returncode, refused.stdout) == (2, b"")
    assert refused.stderr.endswith(b"or add --force to overwrite it; nothing was sent\n")
    assert mine.read_text() == '{"x": 1}\n'
    forced = invoke("ask", "-b", "echo", "-o", str(mine), "--force", "hi")
    assert (forced.returncode, forced.stdout) == (0, b"Echo: hi\n")
    assert [m["content"] for m in json.loads(mine.read_text())["messages"]] == ["hi", "Echo: hi"]


def test_an_empty_prompt_with_no_stdin_says_stdin_was_not_read() -> None:
    result = invoke("ask", "-b", "echo", "--no-stdin", input=b"hi\n")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == (
        b"chatcli: error: empty prompt; --no-stdin leaves stdin unread, so write the prompt after `ask`\n"
    )


@pytest.mark.parametrize("on_terminal", [True, False])
def test_a_slow_api_key_cmd_shows_a_spinner_on_a_terminal_only(
    isolated_home: Path, server: OpenAIServer, on_terminal: bool
) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\napi_key_cmd = "sh -c \'sleep 0.4; echo k\'"\n')
    server.enqueue(sse_reply("fine"))
    result = invoke("ask", "--plain", "hi", stderr_isatty=on_terminal, env={"TERM": "xterm"})
    assert (result.returncode, result.stdout) == (0, b"fine\n")
    assert (b"running api_key_cmd\xe2\x80\xa6 0.3s" in result.stderr) is on_terminal
    assert {k.lower(): v for k, v in server.requests[0].headers.items()}["authorization"] == "Bearer k"


def test_config_show_keeps_a_gap_after_a_long_value() -> None:
    shown = invoke("config", "show").stdout.decode().splitlines()
    proxy = next(line for line in shown if line.startswith("proxy "))
    assert proxy.endswith("NO_PROXY)  default")
