"""/file, /edit and the draft without a terminal: what a message carries, and /edit keeping the old exchange
when the new one gets no answer."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.core.conversation import Content
from chatcli.core.errors import BackendError
from chatcli.render.plain import PlainRenderer
from chatcli.repl.attachments import Draft, find_clipboard, send
from chatcli.repl.commands import CommandRunner
from chatcli.repl.prompt import EditCancelled, PromptState, SlashCompleter, build_prompt_session
from tests.test_images import IMAGES
from tests.test_repl_commands import ScriptedBackend, make_runner, run


def sender(runner: CommandRunner) -> tuple[Draft, Callable[[Content], bool]]:
    session = runner.session

    def ask(content: Content) -> bool:
        try:
            return session.turn(content, PlainRenderer(io.BytesIO())).committed
        except BackendError as error:
            runner.screen.warn(str(error))
            return False

    return runner.inputs._draft, ask


def test_a_folder_is_one_attachment_listing_its_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a = 1\n")
    (tmp_path / "src" / "b.py").write_text("b = 2\n")
    (tmp_path / "shot.png").write_bytes(IMAGES["image/png"])
    runner, screen = make_runner(ScriptedBackend("seen"))
    run(runner, f"/file {tmp_path / 'src'} '{tmp_path / 'shot.png'}'")
    draft, ask = sender(runner)
    assert draft.line() == (
        f"attached: {tmp_path / 'src'} (2 files, 12 bytes), {tmp_path / 'shot.png'} (image)"
    )
    assert screen.notices == []  # the line above the prompt says it, once
    send(runner.session, draft, "look", ask)
    [request] = runner.session.backend.requests  # type: ignore[attr-defined]
    text, image = request.messages[-1].content
    assert text["text"] == (
        f"### {tmp_path.as_posix()}/src/a.py\n\n```\na = 1\n```\n\n"
        f"### {tmp_path.as_posix()}/src/b.py\n\n```\nb = 2\n```\n\nlook"
    )
    assert image["chatcli"] == {"name": "shot.png"}
    assert draft.attachments == []


def test_a_refused_file_attaches_nothing(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "bin").write_bytes(b"\x00\x01")
    runner, screen = make_runner(ScriptedBackend())
    run(runner, f"/file {tmp_path / 'ok.txt'} {tmp_path / 'bin'}")
    assert screen.warnings == [
        f"attached file '{tmp_path / 'bin'}' is binary (NUL byte at offset 0) and not a PNG, JPEG, GIF or WebP "
        "image; only text and those images are sent; nothing attached"
    ]
    assert runner.inputs._draft.attachments == []


def test_an_edited_question_that_gets_no_answer_leaves_the_old_exchange_and_the_draft(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    runner, screen = make_runner(
        ScriptedBackend("first answer", BackendError("server down"), "second answer")
    )
    draft, ask = sender(runner)
    send(runner.session, draft, "first", ask)
    run(runner, "/edit")
    assert (draft.editing, draft.take_prefill()) == (True, "first")
    run(runner, f"/file {tmp_path / 'a.txt'}")
    send(runner.session, draft, "edited", ask)
    assert screen.warnings == ["server down"]
    assert [m.text for m in runner.session.conversation.messages] == ["first", "first answer"]
    assert draft.editing and len(draft.attachments) == 1  # kept for another try
    send(runner.session, draft, "edited", ask)
    assert [m.text for m in runner.session.conversation.messages] == [
        f"### {tmp_path / 'a.txt'}\n\n```\nx\n```\n\nedited",
        "second answer",
    ]
    assert not draft.editing and draft.attachments == []


def test_file_completes_the_last_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    text = "/file notes.md pho"
    completions = SlashCompleter().get_completions(Document(text), CompleteEvent(completion_requested=True))
    assert [completion.text for completion in completions] == ["tos"]


def test_without_a_graphical_session_or_a_tool_there_is_no_clipboard(tmp_path: Path) -> None:
    assert find_clipboard({"PATH": str(tmp_path)}) == (
        "no clipboard here: no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)"
    )
    assert find_clipboard({"PATH": str(tmp_path), "DISPLAY": ":0"}) == (
        "no clipboard tool found; install wl-clipboard (Wayland) or xclip (X11)"
    )


def test_ctrl_c_at_an_edit_drops_the_image_the_edit_attached_again(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(IMAGES["image/png"])
    runner, _ = make_runner(ScriptedBackend("first answer", "second answer"))
    draft, ask = sender(runner)
    run(runner, f"/file {tmp_path / 'photo.png'}")
    send(runner.session, draft, "look", ask)
    run(runner, "/edit")
    assert draft.line() == (
        "editing the last question (Enter replaces it, Ctrl-C cancels) · attached: photo.png (image)"
    )
    with create_pipe_input() as pipe:
        state = PromptState(draft=draft)
        prompt = build_prompt_session(state, list, InMemoryHistory(), input=pipe, output=DummyOutput())
        pipe.send_text("\x03next\r")
        with pytest.raises(EditCancelled):
            prompt.prompt(default=draft.take_prefill())
        line = prompt.prompt(default=draft.take_prefill())
    assert (line, draft.line()) == ("next", None)
    send(runner.session, draft, line, ask)
    requests = runner.session.backend.requests  # type: ignore[attr-defined]
    assert requests[-1].messages[-1].content == "next"  # the image went with "look" only
    assert [m.text for m in runner.session.conversation.messages] == [
        "look",
        "first answer",
        "next",
        "second answer",
    ]


def test_edit_lists_attached_files_as_lines_and_sends_those_still_listed(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("remember the milk\n")
    (tmp_path / "todo.md").write_text("buy bread\n")
    runner, _ = make_runner(ScriptedBackend("first", "second", "third"))
    draft, ask = sender(runner)
    run(runner, f"/file {tmp_path / 'notes.md'} {tmp_path / 'todo.md'}")
    send(runner.session, draft, "summarise", ask)
    notes, todo = (
        f"### {tmp_path / name}\n\n```\n{text}\n```"
        for name, text in (("notes.md", "remember the milk"), ("todo.md", "buy bread"))
    )
    assert runner.session.conversation.messages[0].text == f"{notes}\n\n{todo}\n\nsummarise"

    run(runner, "/edit")
    assert (
        draft.take_prefill() == f"[file: {tmp_path / 'notes.md'}]\n[file: {tmp_path / 'todo.md'}]\nsummarise"
    )
    send(runner.session, draft, f"[file: {tmp_path / 'todo.md'}]\nsummarise briefly", ask)
    assert [m.text for m in runner.session.conversation.messages] == [
        f"{todo}\n\nsummarise briefly",
        "second",
    ]
    assert draft.reopened == [] and not draft.editing


def test_file_lines_outside_an_edit_are_sent_as_typed() -> None:
    draft = Draft()
    assert draft.compose("[file: notes.md]\nhello") == "[file: notes.md]\nhello"
