"""PDFs for the prompt: a `file` content part for a backend that takes documents, else their text, page by page.

pypdf (pure Python) loads only when a PDF is attached. A PDF comes from outside and its parser may be slow or
fail in any way on a hostile file, so pages, the text and the time spent are all bounded, and any failure of the
parser is one line naming the file.
"""

from __future__ import annotations

import binascii
import io
import logging
import time
from typing import TYPE_CHECKING, Any

from chatcli.core.conversation import OWN_PART_KEY
from chatcli.core.errors import UsageError

if TYPE_CHECKING:
    from pypdf import PdfReader

PDF_SIGNATURE = b"%PDF-"
MAX_PDF_BYTES = 20 * 1024 * 1024  # as images: base64 makes it a third larger in the request
MAX_PDF_PAGES = 1000
EXTRACT_SECONDS = 60.0  # the longest text extraction may take, checked between pages
NOT_SENT = "its layout and images were not sent"


def is_pdf(head: bytes) -> bool:
    return head.startswith(PDF_SIGNATURE)


def document_part(raw: bytes, filename: str, pages: int) -> dict[str, Any]:
    """An OpenAI chat-completions `file` part holding the PDF as a base64 `data:` URL; its name and page count
    kept under OWN_PART_KEY for the history's placeholder."""
    data = "data:application/pdf;base64," + binascii.b2a_base64(raw, newline=False).decode("ascii")
    return {
        "type": "file",
        "file": {"filename": filename, "file_data": data},
        OWN_PART_KEY: {"name": filename, "pages": pages},
    }


def open_pdf(raw: bytes, label: str) -> PdfReader:
    """The PDF read (decrypted when it opens without a password); a UsageError naming `label` when it is
    encrypted, corrupt or longer than MAX_PDF_PAGES."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    logging.getLogger("pypdf").addHandler(logging.NullHandler())  # its warnings about sloppy files: not ours
    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UsageError(f"{label} is encrypted with a password; decrypt it first (qpdf --decrypt)")
        pages = len(reader.pages)
    except UsageError:
        raise
    except DependencyError:
        raise UsageError(f"{label} is encrypted in a way chatcli cannot read; decrypt it first") from None
    except (
        Exception
    ) as error:  # a hostile file can make the parser fail in any way: one line, never a traceback
        raise UsageError(f"{label} cannot be read as a PDF ({_reason(error)})") from None
    if pages > MAX_PDF_PAGES:
        raise UsageError(f"{label} has {pages} pages; chatcli reads at most {MAX_PDF_PAGES}")
    if pages == 0:
        raise UsageError(f"{label} has no pages")
    return reader


def page_texts(reader: PdfReader, label: str, max_bytes: int) -> list[tuple[int, str]]:
    """Each page that holds text, numbered from 1, as pypdf extracts it; more than `max_bytes` of text in all,
    or more than EXTRACT_SECONDS spent, is a UsageError naming `label`."""
    deadline = time.monotonic() + EXTRACT_SECONDS
    found: list[tuple[int, str]] = []
    total = 0
    for number, page in enumerate(reader.pages, 1):
        try:
            text = page.extract_text().strip()
        except Exception as error:  # as in open_pdf: any failure of the parser is the file's
            raise UsageError(f"{label}: page {number} cannot be read ({_reason(error)})") from None
        total += len(text.encode("utf-8", "replace"))
        if total > max_bytes:
            raise UsageError(f"{label} holds more than {max_bytes} bytes of text; raise --max-input-bytes")
        if time.monotonic() > deadline:
            raise UsageError(
                f"{label}: reading its text took over {EXTRACT_SECONDS:g} s; stopped at page {number}"
            )
        if text:
            found.append((number, text.replace("\x00", "")))
    return found


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())[:100]
    return text or type(error).__name__
