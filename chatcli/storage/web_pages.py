"""A fetched web page as an attachment under its URL: HTML as Markdown (the main content, links kept, scripts and
styles dropped), other text as it is, an image as an image part, a PDF as a PDF file is; any other type refused
in one line naming it. The fetching itself is the network layer's (backends.web_page); this module never does
HTTP."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from chatcli.core.errors import UsageError
from chatcli.storage.attachments import Attachment, pdf_attachment, text_attachment
from chatcli.storage.images import image_from_bytes
from chatcli.storage.inputs import Limits, decode_text
from chatcli.storage.pdfs import MAX_PDF_BYTES

HTML_TYPES = ("text/html", "application/xhtml+xml")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
PDF_TYPE = "application/pdf"
# Text that is not text/*: sent as it is.
TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/x-sh",
    "application/sql",
    "application/x-ndjson",
)
# The libraries trafilatura uses log what they skip; without a handler Python would print it on stderr.
_QUIET_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "readability")


@dataclass(frozen=True, slots=True)
class ContentType:
    media_type: str  # lower case, without parameters; "" when the server named none
    charset: str | None

    @classmethod
    def parse(cls, header: str | None) -> ContentType:
        media_type, *parameters = (header or "").split(";")
        charset = None
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "charset" and value.strip().strip('"'):
                charset = value.strip().strip('"')
        return cls(media_type.strip().lower(), charset)

    @property
    def kind(self) -> str | None:
        """html, text, image or pdf; None for a type chatcli does not attach."""
        media_type = self.media_type
        if media_type in HTML_TYPES:
            return "html"
        if (
            media_type.startswith("text/")
            or media_type in TEXT_TYPES
            or media_type.endswith(("+json", "+xml"))
        ):
            return "text"
        if media_type in IMAGE_TYPES:
            return "image"
        return "pdf" if media_type == PDF_TYPE else None


def body_limit(url: str, header: str | None, limits: Limits) -> tuple[int, str]:
    """The most bytes (decoded) a page of this Content-Type may have, and how to allow more; a page of a type
    chatcli does not attach is a UsageError naming the type, before its body is read."""
    content_type = ContentType.parse(header)
    kind = content_type.kind
    if kind is None:
        shown = content_type.media_type[:80] or "of no stated type"
        raise UsageError(
            f"{url} is {shown}, not a web page, text, a PNG, JPEG, GIF or WebP image, or a PDF; nothing attached"
        )
    if kind == "image":
        return limits.max_image_bytes, "raise max_image_bytes in the config to send it"
    if kind == "pdf":
        return MAX_PDF_BYTES, "chatcli sends at most that"
    return limits.max_input_bytes, "raise --max-input-bytes to send it"


def page_attachment(url: str, final_url: str, header: str | None, body: bytes, limits: Limits) -> Attachment:
    """The page fetched from `url` (after redirects, `final_url`) as an attachment named `url`."""
    content_type = ContentType.parse(header)
    kind = content_type.kind
    filename = url_file_name(final_url)
    if kind == "image":
        part = image_from_bytes(body, url, limits.max_image_bytes, limits.image_detail)
        attachment = Attachment(url, len(body), image=part)
    elif kind == "pdf":
        attachment = pdf_attachment(
            url, filename if filename.endswith(".pdf") else "document.pdf", body, limits
        )
    elif kind == "html":
        attachment = text_attachment(url, html_markdown(body, content_type.charset, final_url, url))
    else:
        attachment = text_attachment(url, page_text(body, content_type.charset, url))
    if final_url == url:
        return attachment
    redirected = f"{url} redirected to {final_url}"
    notice = f"{redirected}; {attachment.notice}" if attachment.notice else redirected
    return replace(attachment, notice=notice)


def page_text(body: bytes, charset: str | None, url: str) -> str:
    """A text page decoded by the charset its Content-Type names, else as UTF-8; NUL bytes are refused."""
    if charset is None or charset.lower().replace("-", "") == "utf8":
        return decode_text(body, url)
    try:
        text = body.decode(charset)
    except LookupError:
        raise UsageError(f"{url} is in charset {charset[:40]!r}, which chatcli does not know") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"{url} is not valid {charset} text (byte offset {error.start})") from None
    if "\x00" in text:
        raise UsageError(f"{url} is binary (it holds NUL characters); only text is sent")
    return text


def html_markdown(body: bytes, charset: str | None, final_url: str, url: str) -> str:
    """The page's title as a heading, then its main content in Markdown with its links (made absolute);
    a page with no readable text (one that JavaScript fills) is a UsageError."""
    import trafilatura

    for name in _QUIET_LOGGERS:
        logging.getLogger(name).addHandler(logging.NullHandler())
    html: str | bytes = body  # without a charset trafilatura reads the page's <meta> or guesses
    if charset is not None:
        with contextlib.suppress(LookupError):
            html = body.decode(charset, "replace")
    tree = trafilatura.load_html(html)
    title = " ".join((tree.findtext(".//title") or "").split()) if tree is not None else ""
    text = (
        trafilatura.extract(
            tree,
            url=final_url,
            output_format="markdown",
            include_links=True,
            include_formatting=True,
            include_tables=True,
            include_comments=False,
        )
        if tree is not None
        else None
    )
    if not text or not text.strip():
        raise UsageError(f"{url} has no readable text (a page that JavaScript fills cannot be read)")
    text = text.strip()
    if title and not text.startswith(f"# {title}"):
        text = f"# {title}\n\n{text}"
    return text + "\n"


def url_file_name(url: str) -> str:
    """The last segment of the URL's path (`paper.pdf`), at most 100 characters, or `page`."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    name = "".join(char for char in name if char.isprintable())[:100]
    return name or "page"
