"""Keep secrets and markup out of text that came from a server before we show it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from chatcli.core.redact import REDACTED, redact

_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"',;]+")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
MAX_REASON_CHARS = 200


def redact_server_text(text: str, secret: str | None) -> str:
    """Remove the exact secret, any `Bearer …` token and anything shaped like an OpenAI key (a server may echo
    a key chatcli never held: a proxy's, or one from the user's shell)."""
    text = _BEARER.sub(f"Bearer {REDACTED}", redact(text, [secret]))
    return _KEY_LIKE.sub(REDACTED, text)


def short_reason(text: str, secret: str | None) -> str:
    """A server's error text as one short line: secrets redacted, HTML tags stripped, truncated."""
    if "<" in text and ">" in text:
        import html  # only for an error page: not on the path of every answer

        text = html.unescape(_TAG.sub(" ", text))
    text = _SPACE.sub(" ", redact_server_text(text, secret)).strip()
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text


def shown_url(url: str) -> str:
    """`url` as chatcli shows it: without `user:password@`, query string or fragment (they may hold keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    port = parts.netloc.rpartition(":")[2] if parts.netloc.rpartition(":")[2].isdigit() else ""
    return parts._replace(netloc=f"{netloc}:{port}" if port else netloc, query="", fragment="").geturl()
