"""`-f URL` and `/file URL` against a real local HTTP server: HTML as Markdown (main content and links kept,
scripts and styles dropped), other text as it is, images as image parts, PDFs; redirects (same origin, another
origin, a loop, too many, to ftp:), a huge page, a gzip bomb, a slow page, a 404, a refused type, a closed port;
the request carries chatcli's User-Agent and never a cookie."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatcli import __version__
from chatcli.core.stream import BackendSettings
from chatcli.storage.attachments import Attachment
from chatcli.storage.inputs import Limits
from chatcli.storage.web_pages import ContentType
from tests.conftest import TEST_KEY, write_config
from tests.inprocess import invoke
from tests.leaks import one_line_error
from tests.openai_server import OpenAIServer, Reply, gzip_bomb, redirect_reply, text_reply
from tests.pdf_files import make_pdf
from tests.test_images import IMAGES, data_url, sent_content
from tests.test_repl_commands import ScriptedBackend, make_runner, run

ARTICLE = """<!doctype html><html><head><title>Widgets, explained</title>
<style>body { color: red } .STYLE_RULE {}</style>
<script>var leaked = "SCRIPT_TEXT";</script></head>
<body><nav><a href="/">Home</a> | <a href="/login">Log in</a></nav>
<main><article><h1>Understanding widgets</h1>
<p>Widgets are small components. This paragraph has a <a href="https://example.org/ref">reference link</a>
and a <a href="/docs/more">relative link</a>, and enough words to count as the main text of the page.</p>
<p>A second paragraph about widgets, their history and their many uses in machines and software alike.</p>
<ul><li>First point about widgets</li><li>Second point about widgets</li></ul>
</article></main>
<footer>Copyright 2026</footer><script>console.log("MORE_SCRIPT")</script></body></html>"""


@pytest.fixture
def web() -> Iterator[OpenAIServer]:
    """A second local server, playing a web site (the `server` fixture plays the model)."""
    site = OpenAIServer().start()
    yield site
    site.stop()


def page_url(site: OpenAIServer, path: str) -> str:
    return site.url.removesuffix("/v1") + path


def echoed(*args: str) -> tuple[int, str, str]:
    """`chatcli ask -b echo ARGS`: its status, stdout (the prompt echoed back) and stderr."""
    result = invoke("ask", "-b", "echo", *args)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


# -- pages of each kind -------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_an_html_page_is_its_main_content_in_markdown_with_its_links_and_no_scripts_or_styles(
    web: OpenAIServer,
) -> None:
    web.enqueue(text_reply(200, ARTICLE, "text/html; charset=utf-8"))
    url = page_url(web, "/blog/widgets.html")
    status, out, err = echoed("-f", url, "summarise")
    assert status == 0, err
    assert err == ""
    assert out.startswith(f"Echo: ### {url}\n\n```\n# Widgets, explained\n\n")
    assert "# Understanding widgets" in out
    assert "[reference link](https://example.org/ref)" in out
    assert f"[relative link]({page_url(web, '/docs/more')})" in out  # made absolute
    assert "- First point about widgets" in out
    for dropped in ("SCRIPT_TEXT", "MORE_SCRIPT", "STYLE_RULE", "color: red"):
        assert dropped not in out
    assert out.endswith("```\n\nsummarise\n")
    [request] = web.requests
    assert (request.method, request.path) == ("GET", "/blog/widgets.html")
    assert request.headers["user-agent"] == f"chatcli/{__version__}"
    assert "cookie" not in request.headers


@pytest.mark.e2e
def test_a_text_page_is_attached_as_it_is_in_the_charset_it_names(web: OpenAIServer) -> None:
    web.enqueue(
        Reply(200, {"Content-Type": "text/plain; charset=ISO-8859-1"}, ["café au lait\n".encode("latin-1")])
    )
    url = page_url(web, "/notes.txt")
    status, out, err = echoed("-f", url, "translate")
    assert (status, err) == (0, "")
    assert out == f"Echo: ### {url}\n\n```\ncafé au lait\n```\n\ntranslate\n"


@pytest.mark.e2e
def test_an_image_url_is_sent_as_an_image_part(web: OpenAIServer, server: OpenAIServer) -> None:
    raw = IMAGES["image/png"]
    web.enqueue(Reply(200, {"Content-Type": "image/png"}, [raw]))
    url = page_url(web, "/shot.png")
    result = invoke(
        "ask", "--base-url", server.url, "-f", url, "what is this?", env={"OPENAI_API_KEY": TEST_KEY}
    )
    assert result.returncode == 0, result.stderr
    [fetched] = web.requests
    assert TEST_KEY not in str(fetched.headers)  # the key goes to the model's server only
    assert "authorization" not in fetched.headers
    assert server.requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"
    assert sent_content(server) == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", raw)}},
    ]


@pytest.mark.e2e
def test_a_pdf_url_is_its_text_page_by_page_for_a_backend_without_documents(web: OpenAIServer) -> None:
    web.enqueue(
        Reply(200, {"Content-Type": "application/pdf"}, [make_pdf("Page one says hello", "Page two")])
    )
    url = page_url(web, "/paper.pdf")
    status, out, err = echoed("-f", url)
    assert status == 0, err
    assert out == (
        f"Echo: ### {url}, page 1\n\n```\nPage one says hello\n```\n\n### {url}, page 2\n\n```\nPage two\n```\n"
    )
    assert err == (
        f"chatcli: {url}: sent as text (2 of 2 pages have text); its layout and images were not sent\n"
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("application/zip", "application/zip"),
        ("application/octet-stream", "application/octet-stream"),
        ("", "of no stated type"),
    ],
)
def test_a_page_of_another_type_is_refused_naming_the_type(
    web: OpenAIServer, content_type: str, shown: str
) -> None:
    web.enqueue(Reply(200, {"Content-Type": content_type} if content_type else {}, [b"PK\x03\x04" * 100]))
    url = page_url(web, "/archive")
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 2
    assert one_line_error(result) == (
        f"{url} is {shown}, not a web page, text, a PNG, JPEG, GIF or WebP image, or a PDF; nothing attached"
    )
    assert result.stdout == b""


@pytest.mark.e2e
def test_a_page_that_only_javascript_fills_is_refused(web: OpenAIServer) -> None:
    web.enqueue(
        text_reply(200, "<html><head><script>render()</script></head><body><div id=app></div></body></html>")
    )
    url = page_url(web, "/app")
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 2
    assert (
        one_line_error(result) == f"{url} has no readable text (a page that JavaScript fills cannot be read)"
    )


# -- redirects ----------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_redirects_are_followed_to_another_origin_without_cookies_and_the_final_url_is_told(
    web: OpenAIServer, server: OpenAIServer
) -> None:
    elsewhere = server  # another origin (another port) plays the page's new home
    final = page_url(elsewhere, "/moved/notes.txt")
    web.enqueue(
        Reply(302, {"Location": "/step", "Set-Cookie": "session=abc; Path=/", "Content-Length": "0"}, []),
        redirect_reply(301, final),
    )
    elsewhere.enqueue(text_reply(200, "the notes\n", "text/plain"))
    url = page_url(web, "/notes")
    status, out, err = echoed("-f", url, "read")
    assert status == 0, err
    assert out == f"Echo: ### {url}\n\n```\nthe notes\n```\n\nread\n"
    assert err == f"chatcli: {url} redirected to {final}\n"
    assert [r.path for r in web.requests] == ["/notes", "/step"]
    assert all("cookie" not in r.headers for r in [*web.requests, *elsewhere.requests])
    assert elsewhere.requests[0].headers["user-agent"] == f"chatcli/{__version__}"


@pytest.mark.e2e
def test_a_redirect_loop_too_many_redirects_and_a_redirect_to_ftp_are_one_line_each(
    web: OpenAIServer,
) -> None:
    url = page_url(web, "/a")
    web.enqueue(redirect_reply(302, "/b"), redirect_reply(302, "/a"))
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == f"cannot fetch {url}: it redirects in a loop (back to {url})"

    web.enqueue(*(redirect_reply(302, f"/hop{n}") for n in range(6)))
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == f"cannot fetch {url}: more than 5 redirects"

    web.enqueue(redirect_reply(302, "ftp://files.example/notes.txt"))
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"cannot fetch {url}: it redirects to ftp://files.example/notes.txt; only http and https are followed"
    )


# -- bounds and failures ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_page_over_the_input_limit_or_a_gzip_bomb_is_refused_without_reading_it_all(
    web: OpenAIServer,
) -> None:
    url = page_url(web, "/big.txt")
    web.enqueue(
        Reply(200, {"Content-Type": "text/plain"}, [b"x" * 5000])
    )  # no Content-Length: read to the cap
    result = invoke("ask", "-b", "echo", "--max-input-bytes", "1000", "-f", url, "hi")
    assert result.returncode == 2
    assert one_line_error(result) == f"{url} is larger than 1000 bytes; raise --max-input-bytes to send it"

    bomb = gzip_bomb(256 * 1024 * 1024, b"a")  # 256 MiB of text in about 256 KiB
    web.enqueue(Reply(200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, [bomb]))
    started = time.monotonic()
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 2
    assert (
        one_line_error(result)
        == f"{url} is larger than {8 * 1024 * 1024} bytes; raise --max-input-bytes to send it"
    )
    assert time.monotonic() - started < 10


@pytest.mark.e2e
def test_a_gzipped_page_is_read_decoded(web: OpenAIServer) -> None:
    web.enqueue(
        Reply(200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, [gzip.compress(b"packed\n")])
    )
    url = page_url(web, "/packed.txt")
    status, out, err = echoed("-f", url, "hi")
    assert (status, err) == (0, "")
    assert out == f"Echo: ### {url}\n\n```\npacked\n```\n\nhi\n"


@pytest.mark.e2e
@pytest.mark.parametrize("body", [[3.0, b"late"], [b"x", *([0.2, b"x"] * 20)]], ids=["silent", "dripping"])
def test_a_slow_page_ends_at_fetch_timeout_in_wall_clock_time(
    web: OpenAIServer, isolated_home: Path, body: list[object]
) -> None:
    write_config(isolated_home, "fetch_timeout = 1\n")
    web.enqueue(Reply(200, {"Content-Type": "text/plain"}, body))
    url = page_url(web, "/slow")
    started = time.monotonic()
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert one_line_error(result) == f"cannot fetch {url}: no complete answer within 1 s (fetch_timeout)"
    assert elapsed < 2.5


@pytest.mark.e2e
def test_a_404_and_a_closed_port_are_one_line_and_exit_1(web: OpenAIServer) -> None:
    url = page_url(web, "/gone")
    web.enqueue(text_reply(404, "<h1>nope</h1>"))
    result = invoke("ask", "-b", "echo", "-f", url, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == f"cannot fetch {url}: 404 Not Found"

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}/x"  # nothing listens there once it is closed
    result = invoke("ask", "-b", "echo", "-f", closed, "hi")
    assert result.returncode == 1
    assert one_line_error(result) == f"cannot fetch {closed}: connection refused"


# -- in-process -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind", "charset"),
    [
        ("text/html; charset=UTF-8", "html", "UTF-8"),
        ("application/xhtml+xml", "html", None),
        ('text/markdown; charset="latin-1"', "text", "latin-1"),
        ("application/ld+json", "text", None),
        ("IMAGE/PNG", "image", None),
        ("application/pdf", "pdf", None),
        ("image/svg+xml", "text", None),
        ("application/zip", None, None),
        (None, None, None),
    ],
)
def test_a_content_type_says_what_a_page_becomes(
    header: str | None, kind: str | None, charset: str | None
) -> None:
    parsed = ContentType.parse(header)
    assert (parsed.kind, parsed.charset) == (kind, charset)


def test_file_url_in_the_chat_attaches_the_page_or_says_why_not(web: OpenAIServer) -> None:
    from chatcli.backends.web_page import fetch_page
    from chatcli.storage.web_pages import body_limit, page_attachment

    def fetch(url: str) -> Attachment:
        page = fetch_page(url, BackendSettings(), 5.0, lambda header: body_limit(url, header, Limits()))
        return page_attachment(page.url, page.final_url, page.content_type, page.body, Limits())

    runner, screen = make_runner(ScriptedBackend("seen"))
    runner.inputs._fetch = fetch
    good, missing = page_url(web, "/readme.txt"), page_url(web, "/missing")
    web.enqueue(text_reply(200, "read me\n", "text/plain"), text_reply(404, "no"))
    run(runner, f"/file {good}")
    run(runner, f"/file {missing}")
    assert screen.notices == [f"fetching {good}…", f"fetching {missing}…"]
    assert screen.warnings == [f"cannot fetch {missing}: 404 Not Found; nothing attached"]
    draft = runner.inputs._draft
    assert draft.line() == f"attached: {good} (8 bytes)"
    draft_text = draft.compose("what does it say?")
    assert draft_text == f"### {good}\n\n```\nread me\n```\n\nwhat does it say?"


def test_without_a_fetcher_a_url_is_never_read_as_a_path() -> None:
    runner, screen = make_runner(ScriptedBackend())
    run(runner, "/file https://example.org/page")
    assert screen.warnings == ["https://example.org/page: web pages cannot be fetched here; nothing attached"]
