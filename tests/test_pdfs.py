"""PDFs given to `-f` and `/file`, made in the tests: their text page by page under `### NAME, page N` with a
notice for a backend that takes no documents; refused in one line without text, encrypted, corrupt or too long;
a `file` content part (the contract's) for a backend that takes documents, kept in files, never sent with
chatcli's own key, and shown as a placeholder in histories."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from chatcli.core.conversation import Message
from chatcli.render.message_text import shown_content
from chatcli.storage.attachments import compose, read_attachment
from chatcli.storage.inputs import Limits
from tests.inprocess import invoke
from tests.leaks import one_line_error
from tests.pdf_files import make_pdf
from tests.test_repl_commands import ScriptedBackend, make_runner, run

THREE_PAGES = make_pdf("Hello from page one", None, "Third page (with parens)")


def encrypted(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(THREE_PAGES)))
    writer.encrypt(user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_is_sent_as_its_text_page_by_page_with_a_notice(tmp_path: Path) -> None:
    pdf = tmp_path / "doc.txt"  # recognised by its first bytes, whatever its name
    pdf.write_bytes(THREE_PAGES)
    result = invoke("ask", "-b", "echo", "-f", str(pdf), "summarise")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == (
        f"Echo: ### {pdf}, page 1\n\n```\nHello from page one\n```\n\n"
        f"### {pdf}, page 3\n\n```\nThird page (with parens)\n```\n\nsummarise\n"
    )
    assert result.stderr.decode() == (
        f"chatcli: {pdf}: sent as text (2 of 3 pages have text); its layout and images were not sent\n"
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (make_pdf(None, None), "has no text to extract (its pages may be scanned images)"),
        (encrypted("secret"), "is encrypted with a password; decrypt it first (qpdf --decrypt)"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "cannot be read as a PDF ("),
        (THREE_PAGES[: len(THREE_PAGES) // 2], "cannot be read as a PDF ("),
    ],
    ids=["no-text", "password", "garbage", "truncated"],
)
def test_a_pdf_without_text_encrypted_or_corrupt_is_refused_in_one_line(
    tmp_path: Path, raw: bytes, problem: str
) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(raw)
    result = invoke("ask", "-b", "echo", "-f", str(pdf), "hi")
    assert result.returncode == 2
    assert one_line_error(result).startswith(f"PDF '{pdf}' {problem}")
    assert result.stdout == b""


def test_a_pdf_encrypted_only_against_changes_is_read(tmp_path: Path) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(encrypted(""))
    result = invoke("ask", "-b", "echo", "-f", str(pdf), "hi")
    assert result.returncode == 0, result.stderr
    assert "Hello from page one" in result.stdout.decode()


def test_pages_and_text_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(THREE_PAGES)
    result = invoke("ask", "-b", "echo", "--max-input-bytes", "25", "-f", str(pdf), "hi")
    assert result.returncode == 2
    assert one_line_error(result) == (
        f"PDF '{pdf}' holds more than 25 bytes of text; raise --max-input-bytes"
    )
    monkeypatch.setattr("chatcli.storage.pdfs.EXTRACT_SECONDS", 0.0)  # a slow file: the clock runs out
    result = invoke("ask", "-b", "echo", "-f", str(pdf), "hi")
    assert result.returncode == 2
    assert one_line_error(result) == f"PDF '{pdf}': reading its text took over 0 s; stopped at page 1"
    monkeypatch.setattr("chatcli.storage.pdfs.MAX_PDF_PAGES", 2)
    result = invoke("ask", "-b", "echo", "-f", str(pdf), "hi")
    assert result.returncode == 2
    assert one_line_error(result) == f"PDF '{pdf}' has 3 pages; chatcli reads at most 2"
    monkeypatch.setattr("chatcli.storage.attachments.MAX_PDF_BYTES", 100)
    result = invoke("ask", "-b", "echo", "-f", str(pdf), "hi")
    assert result.returncode == 2
    assert one_line_error(result) == f"PDF '{pdf}' is larger than 100 bytes; chatcli sends at most that"


def test_for_a_document_backend_a_pdf_is_the_contracts_file_part_kept_and_shown_as_a_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No backend of this branch takes documents yet (anthropic and responses come with issue 24): the echo
    # backend stands in for one, so the part the attachment code makes is what is checked.
    monkeypatch.setattr("chatcli.backends.DOCUMENT_BACKENDS", frozenset({"echo"}))
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(THREE_PAGES)
    chat = tmp_path / "chat.json"
    result = invoke("ask", "-b", "echo", "-o", str(chat), "-f", str(pdf), "summarise")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""  # no notice: the whole PDF goes
    part = {
        "type": "file",
        "file": {
            "filename": "doc.pdf",
            "file_data": "data:application/pdf;base64," + base64.b64encode(THREE_PAGES).decode(),
        },
        "chatcli": {"name": "doc.pdf", "pages": 3},
    }
    [question, _] = json.loads(chat.read_text())["messages"]
    assert question["content"] == [{"type": "text", "text": "summarise"}, part]
    sent = Message("user", question["content"]).to_api()["content"]
    assert sent[1] == {key: value for key, value in part.items() if key != "chatcli"}

    placeholder = f"[doc.pdf, 3 pages, {round(len(THREE_PAGES) / 1024)} KB]"
    assert shown_content(question["content"]) == f"summarise\n\n{placeholder}"
    [entry] = json.loads(invoke("history", "list", "--json").stdout)
    shown = invoke("history", "show", entry["id"]).stdout.decode()
    assert f"summarise\n\n{placeholder}\n" in shown
    assert "base64" not in shown


def test_file_in_the_chat_lists_a_document_and_edit_attaches_it_again(tmp_path: Path) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(THREE_PAGES)
    runner, screen = make_runner(ScriptedBackend("seen"))
    runner.inputs._limits = Limits(pdf_as_document=True)
    run(runner, f"/file {pdf}")
    draft = runner.inputs._draft
    assert draft.line() == f"attached: {pdf} (PDF, 3 pages)"
    content = draft.compose("read it")
    assert isinstance(content, list)
    runner.session.conversation.messages += [Message("user", content), Message("assistant", "seen")]
    draft.sent()
    run(runner, "/edit")
    assert (
        draft.line()
        == "editing the last question (Enter replaces it, Ctrl-C cancels) · attached: doc.pdf (PDF, 3 pages)"
    )
    assert draft.compose("read it") == content
    assert screen.warnings == []


def test_file_in_the_chat_tells_that_only_the_text_goes(tmp_path: Path) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(THREE_PAGES)
    runner, screen = make_runner(ScriptedBackend())
    run(runner, f"/file {pdf}")
    assert screen.notices == [
        f"{pdf}: sent as text (2 of 3 pages have text); its layout and images were not sent"
    ]
    [attachment] = runner.inputs._draft.attachments
    assert compose([attachment], "q") == compose([read_attachment(pdf, Limits())], "q")
