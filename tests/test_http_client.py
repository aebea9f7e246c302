"""The HTTP client chatcli owns since it no longer sends through the openai SDK, and what a hostile
server can do to it: headers, proxies, TLS, redirects, error bodies in every server's shape,
compressed and oversized bodies, keep-alives, the grace after a finished answer, the turn deadline, bad keys.
Each case runs chatcli against the local test server: `ask` cases in this process (`invoke`: the whole command,
from option parsing to the exit status, over real sockets; starting an interpreter for each would add nothing the
HTTP exchange depends on), `models`, the REPL and the memory checks as processes of the installed `chatcli`."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chatcli import __version__
from tests.conftest import CHATCLI, TEST_KEY, run_chatcli
from tests.inprocess import invoke
from tests.leaks import assert_clean, one_line_error
from tests.openai_server import (
    OpenAIServer,
    Reply,
    chunk,
    gzip_bomb,
    hang_up_reply,
    json_reply,
    redirect_reply,
    sse_event,
    sse_reply,
    text_reply,
)
from tests.rss import measure_chatcli
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
RSS_LIMIT_MIB = 150
KEY_ENV = {"OPENAI_API_KEY": TEST_KEY}


def write_config(home: Path, text: str) -> None:
    config = home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")


def ask(server_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return invoke("ask", "--base-url", server_url, *args, env={**KEY_ENV, **(env or {})})


def peak_rss_mib(*args: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Run the installed chatcli (with the test key); its own peak resident memory and its result. It runs
    under a small parent (tests/rss.py): a child started by this worker would count the worker's memory."""
    measured = measure_chatcli(*args, env=KEY_ENV, keep_stdout=True)
    result = subprocess.CompletedProcess(
        [CHATCLI, *args], measured.returncode, measured.stdout, measured.stderr
    )
    return measured.peak_mib, result


# -- what is sent ------------------------------------------------------------------------------------------


def test_every_request_carries_the_headers_the_sdk_used_to_add(server: OpenAIServer) -> None:
    env = {"OPENAI_ORG_ID": "org-123", "OPENAI_PROJECT_ID": "proj_456"}
    assert ask(server.url, "hi", env=env).returncode == 0
    assert invoke("models", "--base-url", server.url, env={**KEY_ENV, **env}).returncode == 0
    for request in server.requests:
        headers = request.headers
        assert headers["authorization"] == f"Bearer {TEST_KEY}"
        assert headers["user-agent"] == f"chatcli/{__version__}"
        assert headers["openai-organization"] == "org-123"
        assert headers["openai-project"] == "proj_456"
        assert headers["accept-encoding"] == "identity"  # never a compressed stream
    post, get = server.requests
    assert (post.method, post.path, post.headers["content-type"]) == (
        "POST",
        "/v1/chat/completions",
        "application/json",
    )
    assert (get.method, get.path) == ("GET", "/v1/models")


def test_without_a_key_no_authorization_header_is_sent(server: OpenAIServer) -> None:
    assert invoke("ask", "--base-url", server.url, "hi").returncode == 0
    assert "authorization" not in server.requests[0].headers
    assert "openai-organization" not in server.requests[0].headers


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (TEST_KEY + "\r", r"'\r' (U+000D) at character 41 of 41"),
        (TEST_KEY + "\n", r"'\n' (U+000A) at character 41 of 41"),
        ("\u201c" + TEST_KEY + "\u201d", "'\u201c' (U+201C LEFT DOUBLE QUOTATION MARK) at character 1 of 42"),
        (TEST_KEY[:10] + "\u00a0" + TEST_KEY[10:], "'\\xa0' (U+00A0 NO-BREAK SPACE) at character 11 of 41"),
    ],
    ids=["cr", "lf", "smart-quotes", "nbsp"],
)
def test_a_key_that_cannot_be_sent_is_one_line_naming_the_character_and_its_origin(
    server: OpenAIServer, key: str, shown: str
) -> None:
    result = invoke("ask", "--base-url", server.url, "hi", env={"OPENAI_API_KEY": key})
    assert result.returncode == 2
    message = one_line_error(result)
    assert message.startswith(f"the API key (from OPENAI_API_KEY) contains {shown}; ")
    assert TEST_KEY[:20] not in message
    assert server.requests == []


def test_a_bad_key_in_the_config_file_names_the_file(server: OpenAIServer, isolated_home: Path) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\napi_key = "sk-\u2019quote"\n')
    (isolated_home / ".config" / "chatcli" / "config.toml").chmod(0o600)
    result = invoke("ask", "hi")
    assert result.returncode == 2
    assert one_line_error(result).startswith("the API key (from the config file's api_key) contains '\u2019'")


# -- proxies ---------------------------------------------------------------------------------------------------


def test_http_proxy_from_the_environment_carries_the_request(server: OpenAIServer) -> None:
    """The test server plays the proxy: it sees the absolute URL of a host that does not resolve."""
    proxy = server.url.removesuffix("/v1")
    result = ask("http://api.example.invalid/v1", "hi", env={"HTTP_PROXY": proxy})
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello from the test server.\n"
    assert server.requests[0].path == "http://api.example.invalid/v1/chat/completions"


def test_a_proxy_that_refuses_the_connection_is_named_as_the_proxy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    proxy = f"http://user:secret@127.0.0.1:{free_port}"
    result = ask("http://api.example.invalid/v1", "hi", env={"HTTP_PROXY": proxy})
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"cannot connect to the proxy http://127.0.0.1:{free_port} (connection refused) on the way to "
        "http://api.example.invalid/v1; check the proxy setting or HTTPS_PROXY / HTTP_PROXY"
    )


def test_no_proxy_sends_directly(server: OpenAIServer) -> None:
    proxy = server.url.removesuffix("/v1")
    env = {"http_proxy": proxy, "NO_PROXY": "localhost,.example.invalid"}
    result = ask("http://api.example.invalid/v1", "hi", env=env)
    assert result.returncode == 1
    assert "unknown host api.example.invalid" in one_line_error(result)
    assert server.requests == []


def test_the_proxy_setting_wins_over_the_environment_and_empty_means_none(
    server: OpenAIServer, isolated_home: Path
) -> None:
    proxy = server.url.removesuffix("/v1")
    write_config(isolated_home, f'proxy = "{proxy}"\n')
    assert (
        ask("http://api.example.invalid/v1", "hi", env={"HTTP_PROXY": "http://127.0.0.1:9"}).returncode == 0
    )
    assert server.requests[0].path == "http://api.example.invalid/v1/chat/completions"
    write_config(isolated_home, 'proxy = ""\n')
    assert ask(server.url, "hi", env={"HTTP_PROXY": "http://127.0.0.1:9"}).returncode == 0
    assert server.requests[1].path == "/v1/chat/completions"


def test_a_proxy_setting_that_is_not_a_url_is_a_config_error(isolated_home: Path) -> None:
    write_config(isolated_home, 'proxy = "socks4://x"\n')
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert "proxy 'socks4://x' must start with http:// or https://" in one_line_error(result)


# -- TLS -------------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(server: OpenAIServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The test server behind TLS with a self-signed certificate for 127.0.0.1; yields its URL and the cert."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    inside = ("127.0.0.1", urlsplit(server.url).port)

    def relay() -> None:  # TLS on the outside, the plain test server inside
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=pipe_through, args=(raw,), daemon=True).start()

    def pipe_through(raw: socket.socket) -> None:
        try:
            outer = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        inner = socket.create_connection(inside)
        threading.Thread(target=copy, args=(inner, outer), daemon=True).start()
        copy(outer, inner)

    threading.Thread(target=relay, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/v1", cert
    listener.close()


def copy(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for end in (source, target):
        end.close()


def test_tls_is_verified_and_ca_bundle_or_ssl_cert_file_add_a_trusted_certificate(
    tls_server: tuple[str, Path], isolated_home: Path
) -> None:
    url, cert = tls_server
    untrusted = ask(url, "hi")
    assert untrusted.returncode == 1
    assert one_line_error(untrusted).startswith(f"cannot connect to {url} (TLS certificate not trusted: ")
    assert ask(url, "hi", env={"SSL_CERT_FILE": str(cert)}).stdout == b"Hello from the test server.\n"
    write_config(isolated_home, f'ca_bundle = "{cert}"\n')
    assert ask(url, "hi").stdout == b"Hello from the test server.\n"


def test_an_unreadable_ca_bundle_is_one_line(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    write_config(isolated_home, f'ca_bundle = "{tmp_path / "missing.pem"}"\n')
    result = ask(server.url.replace("http:", "https:"), "hi")
    assert result.returncode == 2
    assert one_line_error(result).startswith(
        f"cannot load the certificates in ca_bundle '{tmp_path / 'missing.pem'}'"
    )


# -- error bodies in every server's shape -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            json_reply(400, {"error": {"message": "bad temperature", "type": "invalid_request_error"}}),
            "bad temperature",
        ),
        (
            json_reply(
                400, {"object": "error", "message": "vLLM says no", "type": "BadRequestError", "code": 400}
            ),
            "vLLM says no",
        ),
        (
            json_reply(
                400, {"error": {"code": 400, "message": "llama.cpp says no", "type": "invalid_request_error"}}
            ),
            "llama.cpp says no",
        ),
        (json_reply(400, {"error": "ollama says no"}), "ollama says no"),
        (
            json_reply(422, {"detail": [{"loc": ["body", "x"], "msg": "field required", "type": "missing"}]}),
            "field required",
        ),
        (text_reply(400, "plain words", "text/plain"), "plain words"),
    ],
    ids=["openai", "vllm", "llama.cpp", "ollama", "fastapi", "text"],
)
def test_error_bodies_of_every_server_shape_give_their_message(
    server: OpenAIServer, reply: Reply, expected: str
) -> None:
    server.enqueue(reply)
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == f"{server.url} answered {reply.status}: {expected}"


def test_python_http_servers_404_page_is_not_error_response_error_response(server: OpenAIServer) -> None:
    page = (
        '<!DOCTYPE HTML>\n<html lang="en">\n<head><meta charset="utf-8"><title>Error response</title></head>\n'
        "<body>\n<h1>Error response</h1>\n<p>Error code: 404</p>\n<p>Message: File not found.</p>\n</body>\n</html>\n"
    )
    server.enqueue(text_reply(404, page))
    result = ask(server.url, "-m", "m", "hi")
    assert one_line_error(result).startswith(f"not found at {server.url} (404) for model 'm': Not Found; ")


def test_501_is_not_try_again_later(server: OpenAIServer) -> None:
    server.enqueue(
        text_reply(501, "<html><title>Error response</title><p>Unsupported method ('POST')</p></html>")
    )
    result = ask(server.url, "hi")
    assert one_line_error(result) == (
        f"{server.url} does not support this request (501: Not Implemented); is it an OpenAI-compatible server?"
    )
    assert len(server.bodies) == 1


def test_retry_after_of_1e308_is_a_sane_duration(server: OpenAIServer) -> None:
    server.enqueue(json_reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1e308"}))
    result = ask(server.url, "hi")
    assert (
        one_line_error(result)
        == f"rate limited by {server.url} (429: slow down); the server asks to wait more than a day"
    )


# -- bounded memory ------------------------------------------------------------------------------------------------


def test_a_200_megabyte_error_body_is_not_read_whole(server: OpenAIServer) -> None:
    megabyte = b"x" * MiB
    server.enqueue(
        Reply(
            500,
            {"Content-Type": "text/plain", "Retry-After": "0"},
            [b"overloaded " + megabyte] + [megabyte] * 200,
        )
    )
    server.enqueue(
        Reply(
            500,
            {"Content-Type": "text/plain", "Retry-After": "0"},
            [b"overloaded " + megabyte] + [megabyte] * 200,
        )
    )
    server.enqueue(
        Reply(
            500,
            {"Content-Type": "text/plain", "Retry-After": "0"},
            [b"overloaded " + megabyte] + [megabyte] * 200,
        )
    )
    peak, result = peak_rss_mib("ask", "--base-url", server.url, "hi")
    assert result.returncode == 1
    error = result.stderr.decode().splitlines()[-1]
    assert error.startswith(
        f"chatcli: error: server error at {server.url} (500 after 3 attempts: overloaded xxx"
    )
    assert peak < RSS_LIMIT_MIB


@pytest.mark.parametrize("status", [500, 200])
def test_a_gzip_bomb_error_body_or_answer_is_capped(server: OpenAIServer, status: int) -> None:
    """256 MiB of zeros, compressed: never asked for (Accept-Encoding: identity), inflated a piece at a time."""
    bomb = gzip_bomb(256 * MiB)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Retry-After": "0"}
    server.enqueue(*[Reply(status, headers, [bomb])] * 3)
    peak, result = peak_rss_mib("ask", "--base-url", server.url, "hi")
    assert result.returncode == 1
    message = result.stderr.decode().splitlines()[-1].removeprefix("chatcli: error: ")
    if status == 200:
        assert message == f"{server.url} sent a response larger than 16 MiB; chatcli stopped reading it"
    else:
        assert message.startswith(f"server error at {server.url} (500 after 3 attempts: ")
    assert peak < RSS_LIMIT_MIB


def test_a_gzip_bomb_event_stream_is_inflated_a_piece_at_a_time(server: OpenAIServer) -> None:
    lines = b"".join(sse_event(chunk("x")) for _ in range(2)) + b": keep-alive\n" * 1000
    bomb = gzip_bomb(64 * MiB, lines)
    headers = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    server.enqueue(Reply(200, headers, [bomb]))
    peak, result = peak_rss_mib("ask", "--base-url", server.url, "hi")
    assert result.stdout.startswith(b"xx")
    assert peak < RSS_LIMIT_MIB


def test_models_gzip_bomb_is_capped(server: OpenAIServer) -> None:
    server.models = None
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    server.enqueue(Reply(200, headers, [gzip_bomb(256 * MiB, b" ")]))
    peak, result = peak_rss_mib("models", "--base-url", server.url)
    assert result.returncode == 1
    assert (
        one_line_error(result)
        == f"{server.url} sent a response larger than 16 MiB; chatcli stopped reading it"
    )
    assert peak < RSS_LIMIT_MIB


# -- time: keep-alives, the grace after the finish, the turn deadline --------------------------------------------------


def test_keep_alive_comments_do_not_extend_the_first_token_timeout(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, "first_token_timeout = 1\n")
    server.enqueue(Reply(body=[b": keep-alive\n\n", 0.2] * 40 + [sse_event(chunk("late"))]))
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert one_line_error(result).startswith(f"no answer from {server.url} within 1 s")


def test_a_finished_answer_without_done_is_complete_after_a_short_grace(
    server: OpenAIServer, tmp_path: Path
) -> None:
    """The server keeps the connection open after the finish_reason (and the usage): no stall, exit 0."""
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    held = sse_reply("All", " done", usage=usage, done=False)
    held.body.append(25.0)  # longer than the run is allowed to take
    server.enqueue(held)
    saved = tmp_path / "chat.json"
    result = run_chatcli(
        "ask", "-u", "-b", "openai", "--base-url", server.url, "-o", str(saved), "hi", env=KEY_ENV, timeout=20
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"All done\n"
    assert result.stderr.decode().startswith("chatcli: usage: 3 prompt + 2 completion tokens")
    assert '"status"' not in saved.read_text()  # recorded complete, not failed


def test_max_turn_seconds_ends_a_slow_turn_and_keeps_the_partial_answer(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, "max_turn_seconds = 1.5\n")
    server.enqueue(Reply(body=[sse_event(chunk(f"{n} ")) if n % 2 == 0 else 0.3 for n in range(60)]))
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert result.stdout.startswith(b"0 2 ")
    assert one_line_error(result) == (
        "the turn took longer than max_turn_seconds (1.5 s); raise it in the config for longer answers"
    )


# -- redirects ----------------------------------------------------------------------------------------------------


def test_a_307_on_the_same_host_is_followed_with_the_body(server: OpenAIServer) -> None:
    server.enqueue(redirect_reply(307, "/v2/chat/completions"))
    result = ask(server.url, "hi")
    assert result.returncode == 0, result.stderr
    first, second = server.requests
    assert (first.path, second.path) == ("/v1/chat/completions", "/v2/chat/completions")
    assert second.body == first.body and second.headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:99999/x", "http://[::1:18110/x", "ftp://127.0.0.1/x", "https://:443/x"]
)
def test_a_redirect_to_an_unusable_location_is_one_line(server: OpenAIServer, location: str) -> None:
    server.enqueue(redirect_reply(307, location))
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{server.url} redirects to {location!r} (307), which is not a usable http(s) address; check the base URL"
    )
    assert len(server.requests) == 1


def test_a_redirect_to_another_host_is_not_followed_and_names_the_new_location(server: OpenAIServer) -> None:
    elsewhere = server.url.replace("127.0.0.1", "localhost")
    server.enqueue(redirect_reply(308, f"{elsewhere}/chat/completions?token=secret"))
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{server.url} redirects to {elsewhere}/chat/completions (308), which chatcli does not follow "
        '(follow_redirects = "same-host"); set the base URL to the new address'
    )
    assert len(server.requests) == 1


def test_follow_redirects_always_follows_to_another_host_without_the_key(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, 'follow_redirects = "always"\n')
    elsewhere = server.url.replace("127.0.0.1", "localhost")
    server.enqueue(redirect_reply(307, f"{elsewhere}/chat/completions"))
    result = ask(server.url, "hi")
    assert result.returncode == 0, result.stderr
    assert "authorization" not in server.requests[1].headers


def test_a_post_moved_with_301_is_not_turned_into_a_get(server: OpenAIServer) -> None:
    server.enqueue(redirect_reply(301, "/v2/chat/completions"))
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert one_line_error(result).startswith(
        f"{server.url} redirects to {server.url.removesuffix('/v1')}/v2/chat/completions (301)"
    )


def test_a_redirect_loop_has_its_own_message(server: OpenAIServer) -> None:
    server.enqueue(redirect_reply(307, "/a"), redirect_reply(307, "/b"), redirect_reply(307, "/a"))
    result = ask(server.url, "hi")
    root = server.url.removesuffix("/v1")
    assert (
        one_line_error(result)
        == f"{server.url} redirects in a loop ({root}/a → {root}/b → {root}/a); check the base URL"
    )


def test_never_follow_redirects(server: OpenAIServer, isolated_home: Path) -> None:
    write_config(isolated_home, 'follow_redirects = "never"\n')
    server.enqueue(redirect_reply(307, "/v2/chat/completions"))
    assert 'follow_redirects = "never"' in one_line_error(ask(server.url, "hi"))
    write_config(isolated_home, 'follow_redirects = "sometimes"\n')
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert "unknown follow_redirects 'sometimes'; choose one of same-host, always, never" in one_line_error(
        result
    )


def test_models_follows_a_redirect_on_the_same_host(server: OpenAIServer) -> None:
    server.models = None
    server.enqueue(redirect_reply(302, "/v2/models"), json_reply(200, {"data": [{"id": "moved"}]}))
    result = invoke("models", "--base-url", server.url)
    assert result.stdout == b"moved\n"


# -- the connection itself ------------------------------------------------------------------------------------------


def test_oversized_response_headers_have_their_own_message(server: OpenAIServer) -> None:
    server.enqueue(Reply(200, {"Content-Type": "text/event-stream", "X-Padding": "p" * 200_000}, []))
    result = ask(server.url, "hi")
    assert one_line_error(result) == (
        f"{server.url} sent response headers larger than 100 KiB; is this an OpenAI-compatible endpoint?"
    )


def test_a_connection_dropped_after_accept_is_retried_then_said_so(server: OpenAIServer) -> None:
    server.enqueue(hang_up_reply(), hang_up_reply(), hang_up_reply())
    result = ask(server.url, "hi")
    lines = result.stderr.decode().splitlines()
    assert lines[:2] == [
        "chatcli: waiting 1s (the server closed the connection)…",
        "chatcli: waiting 2s (the server closed the connection)…",
    ]
    assert lines[2] == (
        f"chatcli: error: {server.url} accepted the connection and closed it without answering (3 attempts); "
        "is the server healthy, and is this its OpenAI-compatible port?"
    )


# -- empty answers ------------------------------------------------------------------------------------------------


def test_an_empty_answer_is_one_line_and_exit_1(server: OpenAIServer, tmp_path: Path) -> None:
    server.enqueue(sse_reply())
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr == b"chatcli: the server sent an empty answer (finish_reason: stop)\n"
    assert_clean(result, tmp_path)


def test_a_stream_that_ends_with_nothing_says_the_prompt_may_be_too_long(server: OpenAIServer) -> None:
    server.enqueue(sse_reply(finish_reason=None, done=False))
    result = ask(server.url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        "the server ended the stream without an answer; the prompt may exceed the model's context"
    )


def test_the_repl_says_the_same_about_an_empty_answer_and_goes_on(server: OpenAIServer) -> None:
    server.enqueue(sse_reply(), sse_reply("Second"))
    child = spawn_chatcli("--base-url", server.url, env=KEY_ENV)
    expect(child, TOOLBAR)  # keys typed before prompt_toolkit holds the terminal can be lost
    say(child, "first", "the server sent an empty answer (finish_reason: stop)")
    say(child, "again", "Second")
    child.sendeof()
    assert exit_code(child) == 0
