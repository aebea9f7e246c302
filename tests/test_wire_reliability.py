"""The faults every backend meets the same way, run for every wire format in tests/wire_formats.py: timeouts
in wall-clock time (first token, between pieces) that keep-alives do not renew, floods of lines that are not
an answer, bodies over the size cap (as sent and as decoded), a stream that ends early, an error event, redirects
to another host (the key never follows), and the key kept out of every message. In-process `ask` and `models`
against the scripted server; the cases that wait out a real timeout are e2e."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, write_config
from tests.inprocess import invoke
from tests.leaks import assert_clean, one_line_error
from tests.openai_server import OpenAIServer, Reply, gzip_bomb, redirect_reply
from tests.wire_formats import WIRE_FORMATS, WireFormat

MiB = 1024 * 1024
each_wire = pytest.mark.parametrize("wire", WIRE_FORMATS.values(), ids=WIRE_FORMATS.keys())


def run(
    server: OpenAIServer, wire: WireFormat, command: str, *args: str
) -> subprocess.CompletedProcess[bytes]:
    env = {wire.key_variable: TEST_KEY} if wire.key_variable else {}
    prompt = (*wire.ask_args, "hi") if command == "ask" else ()
    return invoke(command, "-b", wire.backend, "--base-url", server.url, *args, *prompt, env=env)


@each_wire
def test_an_answer_in_pieces_arrives_whole(server: OpenAIServer, wire: WireFormat) -> None:
    server.enqueue(wire.answer("Hel", "lo", " there", pause=0.01))
    result = run(server, wire, "ask")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello there\n"


@each_wire
def test_the_model_list_is_read(server: OpenAIServer, wire: WireFormat) -> None:
    server.models = None
    server.enqueue(wire.json(200, wire.models(["b-model", "a-model"])))
    result = run(server, wire, "models")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"a-model\nb-model\n"


@pytest.mark.e2e  # waits out the first-token timeout
@each_wire
def test_keep_alives_do_not_extend_the_first_token_timeout(
    server: OpenAIServer, wire: WireFormat, isolated_home: Path
) -> None:
    write_config(isolated_home, "first_token_timeout = 1\n")
    server.enqueue(wire.stream(*[wire.idle, 0.1] * 30, "late"))
    result = run(server, wire, "ask")
    assert result.returncode == 1 and result.stdout == b""
    assert one_line_error(result).startswith(f"no answer from {server.url} within 1 s")


@pytest.mark.e2e  # waits out the timeout between pieces
@each_wire
def test_keep_alives_do_not_keep_a_stalled_answer_alive(server: OpenAIServer, wire: WireFormat) -> None:
    server.enqueue(wire.stream("so far", *[wire.idle, 0.1] * 20, " too late"))
    result = run(server, wire, "ask", "--timeout", "0.5")
    assert result.returncode == 1
    assert result.stdout == b"so far\n"
    assert one_line_error(result) == (
        f"the answer stalled: no data from {server.url} for 0.5 s; raise --timeout for a slow server"
    )


@pytest.mark.e2e  # sends a few megabytes of events
@each_wire
def test_a_flood_of_lines_that_are_not_an_answer_ends_the_turn(
    server: OpenAIServer, wire: WireFormat
) -> None:
    server.enqueue(wire.stream("before", wire.idle * 100_001, " after"))
    result = run(server, wire, "ask")
    assert result.returncode == 1
    assert result.stdout == b"before\n"
    assert one_line_error(result).startswith(f"{server.url} sent 100 000 lines in a row without any answer")


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@each_wire
def test_a_body_over_the_size_cap_is_refused(
    server: OpenAIServer, wire: WireFormat, compressed: bool
) -> None:
    """17 MiB of model list, as sent or as decoded from 17 KiB of gzip: never read whole."""
    server.models = None
    headers = {"Content-Type": "application/json"}
    if compressed:
        headers["Content-Encoding"] = "gzip"
    body = gzip_bomb(17 * MiB, b" ") if compressed else b" " * (17 * MiB)
    server.enqueue(Reply(200, headers, [body]))
    result = run(server, wire, "models")
    assert result.returncode == 1
    assert (
        one_line_error(result)
        == f"{server.url} sent a response larger than 16 MiB; chatcli stopped reading it"
    )


@each_wire
def test_a_stream_that_ends_before_the_answer_finished_keeps_the_partial_answer(
    server: OpenAIServer, wire: WireFormat, tmp_path: Path
) -> None:
    server.enqueue(wire.answer("half", " an answer", finished=False))
    result = run(server, wire, "ask")
    assert result.returncode == 1
    assert result.stdout == b"half an answer\n"
    assert one_line_error(result).startswith("the answer ended early")
    assert len(server.requests) == 1  # never retried once text reached the user


@each_wire
def test_an_error_event_is_one_line_without_the_key(
    server: OpenAIServer, wire: WireFormat, tmp_path: Path
) -> None:
    server.enqueue(wire.stream("Par", wire.error_event(f"upstream overloaded (key {TEST_KEY})")))
    result = run(server, wire, "ask")
    assert_clean(result, tmp_path)
    assert result.returncode == 1 and result.stdout == b"Par\n"
    message = one_line_error(result)
    assert message.startswith("server reported an error mid-stream: ") and "upstream overloaded" in message


@each_wire
def test_an_error_status_that_echoes_the_key_is_one_redacted_line(
    server: OpenAIServer, wire: WireFormat, tmp_path: Path
) -> None:
    server.enqueue(wire.json(401, wire.error_body(f"Incorrect API key provided: {TEST_KEY}")))
    result = run(server, wire, "ask")
    assert_clean(result, tmp_path)
    assert one_line_error(result).startswith(f"authentication failed at {server.url} (401: Incorrect API key")
    assert len(server.requests) == 1


@each_wire
def test_a_redirect_to_another_host_is_not_followed(server: OpenAIServer, wire: WireFormat) -> None:
    elsewhere = server.url.replace("127.0.0.1", "localhost")
    server.enqueue(redirect_reply(307, f"{elsewhere}/moved"))
    result = run(server, wire, "ask")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{server.url} redirects to {elsewhere}/moved (307), which chatcli does not follow "
        '(follow_redirects = "same-host"); set the base URL to the new address'
    )
    assert len(server.requests) == 1


@each_wire
def test_a_redirect_followed_to_another_host_leaves_the_key_behind(
    server: OpenAIServer, wire: WireFormat, isolated_home: Path
) -> None:
    write_config(isolated_home, 'follow_redirects = "always"\n')
    elsewhere = server.url.replace("127.0.0.1", "localhost")
    server.enqueue(redirect_reply(307, f"{elsewhere}/moved"), wire.answer("Moved"))
    result = run(server, wire, "ask")
    assert result.returncode == 0, result.stderr
    first, second = server.requests
    assert second.path.endswith("/moved") and second.body == first.body
    if wire.key_variable:
        assert wire.key_header in first.headers
    assert wire.key_header not in second.headers
    assert not any(TEST_KEY in value for value in second.headers.values())
