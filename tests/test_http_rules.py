"""The HTTP client's rules, in-process: which hosts skip the proxy, which proxy a URL takes, how waits and
error pages read, which keys cannot be sent."""

from __future__ import annotations

import pytest

from chatcli.backends.http.diagnosis import duration, html_title, status_error, status_text
from chatcli.backends.http.headers import check_token
from chatcli.backends.http.transport import bypasses_proxy, proxy_for
from chatcli.core.errors import UsageError
from chatcli.core.stream import BackendSettings


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypassed"),
    [
        ("api.example.com", 443, "example.com", True),
        ("example.com", 443, ".example.com", True),
        ("api.example.com", 443, "*.example.com", True),
        ("notexample.com", 443, "example.com", False),
        ("api.example.com", 443, "*", True),
        ("localhost", 8000, "localhost:8000", True),
        ("localhost", 8001, "localhost:8000", False),
        ("10.1.2.3", 80, "10.0.0.0/8", True),
        ("11.1.2.3", 80, "10.0.0.0/8", False),
        ("::1", 8000, "::1", True),
        ("::1", 8000, "[::1]:8000", True),
        ("api.example.com", 443, " , ,", False),
    ],
)
def test_no_proxy_follows_curls_rules(host: str, port: int, no_proxy: str, bypassed: bool) -> None:
    assert bypasses_proxy(host, port, no_proxy) is bypassed


def test_the_proxy_setting_wins_and_the_scheme_picks_the_environment_variable() -> None:
    environment = {
        "https_proxy": "secure:3128",
        "http_proxy": "http://plain:3128",
        "all_proxy": "http://any:1",
    }
    from_environment = BackendSettings(proxy_environment=environment)
    assert proxy_for("https", "api.example.com", 443, from_environment) == "http://secure:3128"
    assert proxy_for("http", "api.example.com", 80, from_environment) == "http://plain:3128"
    assert (
        proxy_for("http", "h", 80, BackendSettings(proxy_environment={"all_proxy": "http://any:1"}))
        == "http://any:1"
    )
    chosen = BackendSettings(proxy="http://mine:8080", proxy_environment=environment)
    assert proxy_for("https", "api.example.com", 443, chosen) == "http://mine:8080"
    assert (
        proxy_for("https", "api.example.com", 443, BackendSettings(proxy="", proxy_environment=environment))
        is None
    )


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(1.0, "1 s"), (3600.0, "3600 s"), (86_400.0, "more than a day"), (1e308, "more than a day")],
)
def test_waits_read_as_durations(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "502 Bad Gateway"),
        ("<html><title>Error response</title><h1>Error response</h1></html>", ""),
        ("<html><body><h1>404 Not Found</h1></body></html>", "404 Not Found"),
        ("<html><title>" + "<b>x</b>" * 3 + "</title></html>", "x x x"),
    ],
)
def test_an_html_page_reads_as_its_title_unless_generic(page: str, title: str) -> None:
    assert html_title(page) == title


def test_a_body_too_deep_for_json_or_cut_short_is_read_as_text() -> None:
    assert status_text(status_error(500, {}, b"[" * 100_000)).startswith("[[[")
    assert status_text(status_error(500, {}, b'{"error": {"message": "cut')) == '{"error": {"message": "cut'
    assert status_text(status_error(503, {}, b"")) == "Service Unavailable"


@pytest.mark.parametrize("good", ["sk-proj-AbC_123-xyz", "local-secret", "a"])
def test_printable_ascii_keys_pass(good: str) -> None:
    check_token(good, "the key")


@pytest.mark.parametrize("bad", ["sk-1 2", "sk-1\t", "sk-\x7f", "\ufeffsk-1"])
def test_spaces_controls_and_a_bom_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="the key contains"):
        check_token(bad, "the key")
