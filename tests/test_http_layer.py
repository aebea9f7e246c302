"""The shared HTTP layer's own rules, in-process: where a wire's requests go (the API root), server-sent events
read from lines, basic auth from the base URL, and a key in any header never following a redirect elsewhere."""

from __future__ import annotations

import base64

import pytest

from chatcli.backends.http.client import ChatClient
from chatcli.backends.http.sse import sse_events
from chatcli.backends.http.wire import api_root
from chatcli.backends.openai.wire import OpenAIWire
from chatcli.core.errors import BackendError
from chatcli.core.stream import BackendSettings
from tests.conftest import TEST_KEY
from tests.openai_server import OpenAIServer, Reply, json_reply, redirect_reply


@pytest.mark.parametrize(
    ("path", "prefix", "root"),
    [
        ("", "/v1", "/v1"),  # https://api.anthropic.com
        ("/", "", ""),  # http://localhost:11434/
        ("/v1", "", ""),  # Ollama given .../v1
        ("/v1/", "/v1", "/v1"),
        ("/api/v1", "/v1", "/api/v1"),  # OpenRouter
        ("/v1beta/openai", "/v1", "/v1beta/openai"),  # Gemini
        ("/proxy/v1", "", "/proxy"),
    ],
)
def test_the_api_root_follows_the_base_url_and_the_wire(path: str, prefix: str, root: str) -> None:
    assert api_root(path, prefix) == root


def test_server_sent_events_are_named_joined_and_skip_comments() -> None:
    lines = [
        b"\xef\xbb\xbf: keep-alive\n",
        b"\n",
        b"event: message_start\n",
        b"id: 7\n",
        b'data: {"a":\n',
        b"data:1}\r\n",
        b"\r\n",
        b"retry: 10\n",
        b"\n",
        b"data: last",
    ]
    assert list(sse_events(iter(lines))) == [("message_start", b'{"a":\n1}'), ("message", b"last")]


class KeyInHeaderWire(OpenAIWire):
    """Chat completions with the key in `x-api-key`, as Anthropic sends it."""

    def headers(self, settings: BackendSettings) -> dict[str, str]:
        return {"x-api-key": settings.api_key or "", "anthropic-version": "2023-06-01"}


def models_through_a_redirect(server: OpenAIServer, target: str) -> None:
    server.models = None
    server.enqueue(redirect_reply(307, target), json_reply(200, {"data": [{"id": "m"}]}))
    settings = BackendSettings(base_url=server.url, api_key=TEST_KEY, follow_redirects="always")
    assert [entry.id for entry in ChatClient(settings, KeyInHeaderWire()).list_models()] == ["m"]


def test_a_key_in_any_header_does_not_follow_a_redirect_to_another_host(server: OpenAIServer) -> None:
    models_through_a_redirect(server, server.url.replace("127.0.0.1", "localhost") + "/elsewhere")
    first, second = server.requests
    assert first.headers["x-api-key"] == TEST_KEY
    assert "x-api-key" not in second.headers
    assert second.headers["anthropic-version"] == "2023-06-01"  # only what carries the key stays behind


def test_a_key_in_any_header_follows_a_redirect_on_the_same_host(server: OpenAIServer) -> None:
    models_through_a_redirect(server, "/v2/models")
    assert [request.headers["x-api-key"] for request in server.requests] == [TEST_KEY, TEST_KEY]


def test_credentials_in_the_base_url_are_basic_auth_unless_there_is_a_key(server: OpenAIServer) -> None:
    with_credentials = server.url.replace("http://", "http://user:p%40ss@")
    ChatClient(BackendSettings(base_url=with_credentials), OpenAIWire()).list_models()
    ChatClient(BackendSettings(base_url=with_credentials, api_key=TEST_KEY), OpenAIWire()).list_models()
    basic, bearer = (request.headers["authorization"] for request in server.requests)
    assert basic == "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert bearer == f"Bearer {TEST_KEY}"


def test_a_cookie_a_server_sets_is_never_sent_back(server: OpenAIServer) -> None:
    server.models = None
    moved = redirect_reply(307, "/v2/models")
    moved.headers["Set-Cookie"] = "session=abc; Path=/"
    server.enqueue(moved, json_reply(200, {"data": [{"id": "m"}]}))
    ChatClient(BackendSettings(base_url=server.url), OpenAIWire()).list_models()
    assert [request.headers.get("cookie") for request in server.requests] == [None, None]


@pytest.mark.parametrize("coding", ["compress", "x-snappy"])
def test_a_body_in_a_coding_chatcli_cannot_decode_is_one_line(server: OpenAIServer, coding: str) -> None:
    server.models = None
    server.enqueue(
        Reply(200, {"Content-Type": "application/json", "Content-Encoding": coding}, [b"\x1f\x9d"])
    )
    with pytest.raises(BackendError) as raised:
        ChatClient(BackendSettings(base_url=server.url), OpenAIWire()).list_models()
    assert str(raised.value) == (
        f"{server.url} sent a body compressed with {coding!r}, which chatcli did not ask for and cannot decode"
    )


def test_small_json_requests_go_under_or_beside_the_api_root(server: OpenAIServer) -> None:
    server.enqueue(json_reply(200, {"input_tokens": 12}))
    client = ChatClient(BackendSettings(base_url=server.url, api_key=TEST_KEY), OpenAIWire())
    assert client.post_json("some/count", {"model": "m"}) == {"input_tokens": 12}
    server.props = {"default_generation_settings": {"n_ctx": 4096}}
    assert client.get_json("props", beside_api=True)["default_generation_settings"]["n_ctx"] == 4096
    counted, props = server.requests
    assert (counted.method, counted.path, counted.body) == (
        "POST",
        "/v1/some/count",
        {"model": "m"},
    )
    assert counted.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert (props.method, props.path) == ("GET", "/props")


def test_a_small_json_request_that_fails_is_one_backend_error(server: OpenAIServer) -> None:
    server.enqueue(json_reply(400, {"error": {"message": "no such thing"}}))
    with pytest.raises(BackendError, match="no such thing"):
        ChatClient(BackendSettings(base_url=server.url), OpenAIWire()).post_json("tokenize", {})
