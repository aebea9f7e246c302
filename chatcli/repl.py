"""The interactive session: the prompt loop, key bindings, toolbar, turns on the terminal, exit signals."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any, Self, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import has_focus
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output, create_output
from prompt_toolkit.styles import Style

from chatcli import __version__
from chatcli.backends import Usage
from chatcli.backends.background import BackgroundBackend
from chatcli.clipboard import osc52
from chatcli.commands import Command, CommandRunner, command_names, parse_line, summary_of
from chatcli.conversation import INTERRUPTED, Message
from chatcli.errors import ChatError, PartialAnswer
from chatcli.files import create_private_file
from chatcli.history import ConversationFile
from chatcli.paths import input_history_file
from chatcli.render import Renderer
from chatcli.sanitize import sanitize
from chatcli.session import Session

PROMPT = "› "
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_DIM, _BOLD, _RED, _YELLOW, _RESET = "\x1b[2m", "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[0m"
_SHOW_CURSOR, _HIDE_CURSOR, _ERASE_LINE = "\x1b[?25h", "\x1b[?25l", "\r\x1b[2K"

STYLE = Style.from_dict({"prompt": "bold", "bottom-toolbar": "noreverse bg:#303030 #c0c0c0", "hint": "bold"})


@dataclass(slots=True)
class PromptState:
    """What the key bindings remember between key presses: a first Ctrl-C at an empty prompt arms the exit."""

    exit_armed: bool = False


class SlashCompleter(Completer):
    """Completes command names after a leading `/`, and file names after /save and /load."""

    def __init__(self) -> None:
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or text.startswith("//") or "\n" in text:
            return
        command, space, rest = text.partition(" ")
        if not space:
            for name in command_names():
                if name.startswith(command[1:].lower()):
                    yield Completion("/" + name, -len(text), display_meta=summary_of(name))
        elif command in ("/save", "/load"):
            yield from self._paths.get_completions(Document(rest.lstrip()), complete_event)


def prompt_key_bindings(state: PromptState) -> KeyBindings:
    """Enter sends; Esc Enter (Alt-Enter) inserts a newline; Ctrl-C clears the line, or exits when pressed
    twice at an empty prompt. Ctrl-D at an empty prompt exits (prompt_toolkit's own binding)."""
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
        buffer = event.current_buffer
        if buffer.text:
            buffer.reset()
            state.exit_armed = False
        elif state.exit_armed:
            event.app.exit(exception=EOFError())
        else:
            state.exit_armed = True
            event.app.invalidate()

    return bindings


def build_prompt_session(
    state: PromptState,
    toolbar: Callable[[], StyleAndTextTuples],
    history: History,
    input: Input | None = None,
    output: Output | None = None,
) -> PromptSession[str]:
    session: PromptSession[str] = PromptSession(
        [("class:prompt", PROMPT)],
        multiline=True,
        prompt_continuation=lambda width, line, wrap: " " * width,
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        completer=SlashCompleter(),
        complete_while_typing=True,
        reserve_space_for_menu=6,
        key_bindings=prompt_key_bindings(state),
        bottom_toolbar=toolbar,
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

    def __init__(self, path: os.PathLike[str], warn: Callable[[str], None]) -> None:
        super().__init__(path)
        self._warn: Callable[[str], None] | None = warn

    def store_string(self, string: str) -> None:
        try:
            super().store_string(string)
        except OSError as error:
            if self._warn is not None:
                self._warn(f"input history not saved ({error.strerror or type(error).__name__})")
                self._warn = None


def open_input_history(warn: Callable[[str], None]) -> History:
    path = input_history_file()
    try:
        create_private_file(path)
    except OSError as error:
        warn(f"input history kept in memory only: cannot create {path} ({error.strerror})")
        return InMemoryHistory()
    return PrivateFileHistory(path, warn)


class WaitingRenderer:
    """Shows a spinner until the first text arrives, erases it, then hands the text to the real renderer.

    The real renderer is created and entered only then, so a turn that fails before any text prints nothing
    but its error line. The spinner thread writes only while holding the lock and not stopped, so nothing
    follows the erase.
    """

    def __init__(
        self,
        new_renderer: Callable[[], Renderer],
        terminal: TextIO | None,
        on_first_text: Callable[[], None] | None = None,
    ) -> None:
        self._new_renderer = new_renderer
        self._terminal = terminal
        self._on_first_text = on_first_text
        self._inner: Renderer | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def __enter__(self) -> Self:
        if self._terminal is not None:
            self._draw(0.0)
            threading.Thread(target=self._spin, name="chatcli-waiting", daemon=True).start()
        return self

    def feed(self, text: str) -> None:
        if self._inner is None:
            self.stop_waiting()
            if self._on_first_text is not None:
                self._on_first_text()
            self._inner = self._new_renderer()
            self._inner.__enter__()
        self._inner.feed(text)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop_waiting()
        if self._inner is not None:
            self._inner.__exit__(kind, error, trace)

    def _spin(self) -> None:
        started = time.monotonic()
        while not self._stopped.wait(0.1):
            self._draw(time.monotonic() - started)

    def _draw(self, elapsed: float) -> None:
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        with self._lock:
            if self._stopped.is_set() or self._terminal is None:
                return
            frame = frames[int(elapsed * 10) % len(frames)]
            self._terminal.write(f"{_HIDE_CURSOR}\r{_DIM}{frame} waiting… {elapsed:.1f}s{_RESET}")
            self._terminal.flush()

    def stop_waiting(self) -> None:
        """Erase the spinner; also called when the model's reasoning starts to show."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            if self._terminal is not None:
                self._terminal.write(_ERASE_LINE + _SHOW_CURSOR)
                self._terminal.flush()


@contextlib.contextmanager
def quiet_input(fd: int) -> Iterator[None]:
    """While an answer streams, keys are not echoed into it but wait for the next prompt, and Ctrl-C still
    interrupts. NOFLSH keeps the kernel from dropping queued output (half an escape sequence) on Ctrl-C."""
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        yield
        return
    quiet = [*saved[:6], list(saved[6])]
    quiet[3] = (saved[3] & ~(termios.ECHO | termios.ICANON)) | termios.NOFLSH | termios.ISIG
    quiet[6][termios.VMIN] = 1
    quiet[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


class TerminalScreen:
    """The commands' view of the terminal: dim notices, warnings on stderr, rendered conversations."""

    def __init__(self, new_renderer: Callable[[], Renderer], out: TextIO, err: TextIO, styled: bool) -> None:
        self._new_renderer = new_renderer
        self._out = out
        self._err = err
        self._styled = styled

    def notice(self, text: str) -> None:
        self._line(self._out, sanitize(text), _DIM)

    def warn(self, text: str) -> None:
        self._out.flush()
        self._line(self._err, sanitize(text), _YELLOW)

    def error(self, text: str) -> None:
        self._out.flush()
        self._line(self._err, sanitize(f"error: {text}"), _RED)

    def show_messages(self, messages: Sequence[Message]) -> None:
        turns = sum(1 for message in messages if message.role == "user")
        self.notice(f"─── the conversation so far: {turns} turn{'s' if turns != 1 else ''} ───")
        for message in messages:
            if message.role == "user":
                text = sanitize(message.text).replace("\n", "\n" + " " * len(PROMPT))
                self._line(self._out, PROMPT + text, _BOLD)
            elif message.role == "assistant":
                with self._new_renderer() as renderer:
                    renderer.feed(sanitize(message.text))
                if message.status:
                    self.notice(f"[{message.status}]")
                self._out.write("\n")
            else:
                self.notice(f"{message.role}: {message.text}")
        self.notice("─── end of the conversation so far ───")

    def copy_to_clipboard(self, text: str) -> bool:
        if not self._out.isatty():
            self.warn("no terminal to copy to")
            return False
        self._out.write(osc52(text))
        self._out.flush()
        return True

    def _line(self, stream: TextIO, text: str, style: str) -> None:
        stream.write(f"{style}{text}{_RESET}\n" if self._styled else text + "\n")
        stream.flush()


class ExitSignals:
    """SIGTERM and SIGHUP stop the REPL the way Ctrl-C stops an answer, so the loop can save before it exits.

    At the prompt, prompt_toolkit's event loop is asked to end the prompt (raising from a signal handler
    inside it would leave the terminal raw); anywhere else KeyboardInterrupt unwinds the turn or command.
    """

    def __init__(self, running_app: Callable[[], Application[Any] | None]) -> None:
        self.received: int | None = None
        self._running_app = running_app

    def install(self) -> None:
        for signum in EXIT_SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return  # already on the way out
        self.received = signum
        app = self._running_app()
        loop = app.loop if app is not None else None
        if app is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_end_prompt, app)
            return
        raise KeyboardInterrupt


def _end_prompt(app: Application[Any]) -> None:
    if app.is_running and app.future is not None and not app.future.done():
        app.exit(exception=EOFError())


class Repl:
    def __init__(
        self,
        session: Session,
        new_renderer: Callable[[], Renderer],
        save_file: ConversationFile | None,
        backend_name: str,
        known_files: Sequence[ConversationFile] = (),
        model_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self._new_renderer = new_renderer
        self._backend_name = backend_name
        # With stdout redirected, the prompt and notices go to the terminal on stderr, the answers to stdout.
        on_terminal = sys.stdout.isatty()
        self._terminal = sys.stdout if on_terminal else sys.stderr
        self._dumb = os.environ.get("TERM") == "dumb"
        styled = self._terminal.isatty() and not os.environ.get("NO_COLOR") and not self._dumb
        self.screen = TerminalScreen(new_renderer, self._terminal, sys.stderr, styled)
        self.commands = CommandRunner(session, self.screen, self.ask, save_file, known_files, model_aliases)
        self.state = PromptState()
        self._usage: Usage | None = None
        history = open_input_history(self.screen.warn)
        output = None if on_terminal else create_output(stdout=sys.stderr)
        self.prompt = build_prompt_session(self.state, self._toolbar, history, output=output)
        self.signals = ExitSignals(lambda: self.prompt.app if self.prompt.app.is_running else None)
        self._waiting: WaitingRenderer | None = None
        self._reasoning_open = False
        if session.on_reasoning is not None:
            session.on_reasoning = self._reasoning_shown_by(session.on_reasoning)

    def run(self) -> int:
        self.signals.install()
        try:
            self._greet()
            self._loop()
        except (Exception, KeyboardInterrupt):
            if self.signals.received is None:
                raise
        if self.signals.received is not None:
            return self._exit_on_signal(self.signals.received)
        return 0

    def ask(self, text: str) -> None:
        """One turn on the terminal: spinner, streamed answer, one line for an error, then save."""
        terminal = self._terminal if self._terminal.isatty() and not self._dumb else None
        self._reasoning_open = False
        renderer = self._waiting = WaitingRenderer(self._new_renderer, terminal, self._end_reasoning_line)
        try:
            with quiet_input(sys.stdin.fileno()):
                result = self.session.turn(text, renderer)
        except PartialAnswer as error:
            self.screen.error(f"{error} (the partial answer is kept)")
            self.commands.autosave()
            return
        except ChatError as error:
            self.screen.error(str(error))
            return
        if result.status == INTERRUPTED:
            self.screen.notice("interrupted" + (" (the partial answer is kept)" if result.text else ""))
        elif result.cut_short is not None:
            self.screen.warn(result.cut_short)
        self._usage = result.info.usage or self._usage
        self.commands.autosave()
        sys.stdout.write("\n")
        sys.stdout.flush()

    def _reasoning_shown_by(self, show: Callable[[str], None]) -> Callable[[str], None]:
        def show_after_the_spinner(text: str) -> None:
            if self._waiting is not None:
                self._waiting.stop_waiting()
            show(text)
            self._reasoning_open = not text.endswith("\n")

        return show_after_the_spinner

    def _end_reasoning_line(self) -> None:
        """The answer starts on a line of its own after the reasoning (shown on stderr)."""
        if self._reasoning_open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._reasoning_open = False

    def _greet(self) -> None:
        self.screen.notice(
            f"chatcli {__version__} · {self.session.model} on {self._backend_name} · "
            "/help for commands · Ctrl-D exits"
        )
        messages = self.session.conversation.messages
        if any(message.role != "system" for message in messages):
            self.screen.show_messages(messages)

    def _loop(self) -> None:
        while self.signals.received is None:
            self.state.exit_armed = False
            try:
                line = self.prompt.prompt()
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            if self.signals.received is not None:
                return
            try:
                if not self._handle(line):
                    return
            except KeyboardInterrupt:
                self.screen.notice("interrupted")

    def _handle(self, line: str) -> bool:
        try:
            parsed = parse_line(line)
        except ChatError as error:
            self.screen.warn(str(error))
            return True
        if isinstance(parsed, Command):
            return self.commands.run(parsed)
        if parsed is not None:
            self.ask(parsed)
        return True

    def _toolbar(self) -> StyleAndTextTuples:
        if self.state.exit_armed:
            return [("class:hint", " Press Ctrl-C again to exit (or Ctrl-D)")]
        conversation = self.session.conversation
        turns = sum(1 for message in conversation.messages if message.role == "user")
        parts = [f" {self.session.model}", self._backend_name, f"{turns} turn{'s' if turns != 1 else ''}"]
        parts.append("Alt-Enter newline · /help")  # before the parts of varying length, which may be cut off
        if self._usage is not None:
            parts.append(f"last {self._usage.prompt_tokens}+{self._usage.completion_tokens} tokens")
        if self.commands.save_file is not None:
            parts.append(f"saving to {self.commands.save_file.path}")
        return [("", sanitize(" · ".join(parts)))]

    def _exit_on_signal(self, signum: int) -> int:
        """Save (the last turn may have been cut short), then leave; after a hang-up the terminal is gone."""
        if signum == signal.SIGHUP:
            _detach_from_terminal()
        with contextlib.suppress(OSError):
            self.commands.autosave()
        return 128 + signum


def _detach_from_terminal() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def run_repl(
    session: Session,
    new_renderer: Callable[[], Renderer],
    save_file: ConversationFile | None,
    *,
    backend_name: str,
    known_files: Sequence[ConversationFile] = (),
    model_aliases: Mapping[str, str] | None = None,
) -> int:
    """Chat on the terminal until Ctrl-D, /exit, Ctrl-C twice, SIGTERM or SIGHUP; return the exit code."""
    repl = Repl(session, new_renderer, save_file, backend_name, known_files, model_aliases)
    if isinstance(session.backend, BackgroundBackend):
        session.backend.start()  # `import openai` happens while the user types the first question
    return repl.run()
