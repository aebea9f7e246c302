"""The prompt: key bindings, completion of commands and paths, the toolbar's style, the input history file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import (
    CompleteEvent,
    Completer,
    Completion,
    PathCompleter,
    get_common_complete_suffix,
)
from prompt_toolkit.document import Document
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import has_focus
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from chatcli.render.sanitize import sanitize
from chatcli.repl.attachments import Draft
from chatcli.repl.commands import command_names, summary_of
from chatcli.storage.files import NotRegularFile, create_private_file

PROMPT = "› "
STYLE = Style.from_dict(
    {"prompt": "bold", "bottom-toolbar": "noreverse bg:#303030 #c0c0c0", "hint": "bold", "draft": "italic"}
)


@dataclass(slots=True)
class PromptState:
    """What the key bindings remember between key presses: a first Ctrl-C at an empty prompt arms the exit;
    the draft (attachments, /edit) that Ctrl-C stops editing."""

    exit_armed: bool = False
    draft: Draft = field(default_factory=Draft)


class EditCancelled(Exception):
    """Ctrl-C ended the prompt while /edit was open: the edit, and what it attached again, are dropped."""


class SlashCompleter(Completer):
    """Completes command names after a leading `/`, file names after /save, /load, /file and /copy (and its
    `code`), and model names and aliases after /model (from `model_names`, asked once, at the first such completion)."""

    def __init__(self, model_names: Callable[[], list[str]] | None = None) -> None:
        self._paths = PathCompleter(expanduser=True)
        self._model_names = model_names
        self._models: list[str] | None = None

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or text.startswith("//") or "\n" in text:
            return
        command, space, rest = text.partition(" ")
        if not space:
            yield from self.complete_command(command)
        elif command in ("/save", "/load", "/save!", "/copy!"):
            yield from self._paths.get_completions(Document(rest.lstrip()), complete_event)
        elif command == "/file":
            yield from self._paths.get_completions(Document(rest.rpartition(" ")[2]), complete_event)
        elif command == "/model":
            yield from self.complete_model(rest.lstrip())
        elif command == "/copy":
            yield from self.complete_copy(rest.lstrip(), complete_event)

    @staticmethod
    def complete_command(typed: str) -> Iterable[Completion]:
        for name in command_names():
            if name.startswith(typed[1:].lower()):
                yield Completion("/" + name, -len(typed), display_meta=summary_of(name))

    def complete_copy(self, typed: str, complete_event: CompleteEvent) -> Iterable[Completion]:
        """`code` as the first word, then a file name."""
        if " " not in typed and "code".startswith(typed) and typed:
            yield Completion("code", -len(typed), display_meta="a code block of the last answer")
        else:
            yield from self._paths.get_completions(Document(typed.rpartition(" ")[2]), complete_event)

    def complete_model(self, typed: str) -> Iterable[Completion]:
        if self._model_names is None:
            return
        if self._models is None:
            self._models = self._model_names()
        for name in self._models:
            if name.startswith(typed):
                yield Completion(name, -len(typed))


def prompt_key_bindings(
    state: PromptState, compose: Callable[[str], str | None] | None = None
) -> KeyBindings:
    """Enter sends; Esc Enter (Alt-Enter) inserts a newline; Ctrl-C clears the line (`cancel`); Tab completes
    (`complete_now`). Ctrl-D at an empty prompt exits (prompt_toolkit's own binding). Ctrl-X Ctrl-E hands the
    line to `compose` (the editor) and puts back what it returns."""
    bindings = KeyBindings()

    in_prompt = has_focus(DEFAULT_BUFFER)  # not while Ctrl-R search has the focus: its Enter ends the search

    @bindings.add("enter", filter=in_prompt)
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("escape", "enter", filter=in_prompt)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @bindings.add("c-c", filter=in_prompt)
    @bindings.add("<sigint>", filter=in_prompt)
    def _cancel(event: KeyPressEvent) -> None:
        cancel(event, state)

    @bindings.add("tab", filter=in_prompt)
    def _complete(event: KeyPressEvent) -> None:
        complete_now(event.current_buffer)

    if compose is not None:
        editor = compose

        @bindings.add("c-x", "c-e", filter=in_prompt)
        def _edit(event: KeyPressEvent) -> None:
            buffer = event.current_buffer

            async def edit() -> None:
                text = await run_in_terminal(lambda: editor(buffer.text), in_executor=True)
                if text is not None:  # saved: back in the input line, sent by Enter
                    buffer.document = Document(text, len(text))

            event.app.create_background_task(edit())

    return bindings


def cancel(event: KeyPressEvent, state: PromptState) -> None:
    """Ctrl-C: an /edit ends the prompt with EditCancelled; else the line is cleared, or, pressed twice at an
    empty prompt, the chat ends."""
    buffer = event.current_buffer
    if state.draft.cancel_edit():
        event.app.exit(exception=EditCancelled())
    elif buffer.text:
        buffer.reset()
        state.exit_armed = False
    elif state.exit_armed:
        event.app.exit(exception=EOFError())
    else:
        state.exit_armed = True
        event.app.invalidate()


def complete_now(buffer: Buffer) -> None:
    """Tab: the next completion of the menu on show; else the completions' common part, found now.

    prompt_toolkit finds completions in a task that runs after the keys at hand: Tab typed in the same burst
    as the text (a paste, a fast typist, a terminal over SSH) would find its menu still empty and do nothing."""
    shown = buffer.complete_state
    if shown is not None and shown.completions:
        buffer.complete_next()
        return
    if buffer.completer is None:
        return
    document = buffer.document
    completions = list(buffer.completer.get_completions(document, CompleteEvent(completion_requested=True)))
    common = get_common_complete_suffix(document, completions)
    if common:
        buffer.insert_text(common)
    elif completions:
        buffer.cancel_completion()
        buffer.start_completion(insert_common_part=True)


def build_prompt_session(
    state: PromptState,
    toolbar: Callable[[], StyleAndTextTuples],
    history: History,
    input: Input | None = None,
    output: Output | None = None,
    compose: Callable[[str], str | None] | None = None,
    model_names: Callable[[], list[str]] | None = None,
) -> PromptSession[str]:
    def message() -> StyleAndTextTuples:
        above = state.draft.line()
        shown: StyleAndTextTuples = [("class:draft", sanitize(above) + "\n")] if above else []
        return [*shown, ("class:prompt", PROMPT)]

    session: PromptSession[str] = PromptSession(
        message,
        multiline=True,
        prompt_continuation=lambda width, line, wrap: " " * width,
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        completer=SlashCompleter(model_names),
        complete_while_typing=True,
        reserve_space_for_menu=6,
        key_bindings=prompt_key_bindings(state, compose),
        bottom_toolbar=toolbar,
        erase_when_done=True,  # the REPL prints what was sent itself: a paste taller than the window reaches
        # the scrollback whole, and no toolbar is left behind
        enable_suspend=True,  # Ctrl-Z at the prompt, as in a shell
        style=STYLE,
        input=input,
        output=output,
    )

    def disarm(_: object) -> None:
        state.exit_armed = False

    session.default_buffer.on_text_changed += disarm
    return session


class PrivateFileHistory(FileHistory):
    """The input history file, created 0600 before prompt_toolkit appends to it; a failed write warns once."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        super().__init__(path)
        self._warn: Callable[[str], None] | None = warn

    def store_string(self, string: str) -> None:
        try:
            super().store_string(string)
        except OSError as error:
            if self._warn is not None:
                self._warn(f"input history not saved ({error.strerror or type(error).__name__})")
                self._warn = None


def open_input_history(path: Path, warn: Callable[[str], None]) -> History:
    try:
        create_private_file(path)
    except (OSError, NotRegularFile) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        warn(f"input history kept in memory only: cannot create {path} ({reason})")
        return InMemoryHistory()
    return PrivateFileHistory(path, warn)
