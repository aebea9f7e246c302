"""The interactive session: the prompt loop, turns on the terminal, the toolbar, exit signals."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.output import create_output

from chatcli import __version__
from chatcli.core.conversation import Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, PartialAnswer
from chatcli.core.renderer import Renderer
from chatcli.core.session import Session
from chatcli.core.stream import Usage, empty_answer_message
from chatcli.render.sanitize import sanitize
from chatcli.render.turn_display import TurnDisplay
from chatcli.repl.commands import Command, CommandRunner, parse_line
from chatcli.repl.prompt import PromptState, build_prompt_session, open_input_history
from chatcli.repl.terminal import TerminalScreen, detach_from_terminal, quiet_input
from chatcli.storage.conversation_file import Autosave, ConversationFile
from chatcli.storage.recorder import Recorder

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


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
        env: Environment,
        *,
        backend_name: str,
        save_file: ConversationFile | None,
        loaded_file: ConversationFile | None,
        recorder: Recorder,
        model_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self._new_renderer = new_renderer
        self._env = env
        self._backend_name = backend_name
        # With stdout redirected, the prompt and notices go to the terminal on stderr, the answers to stdout.
        assert env.stdout is not None
        self._out = env.stdout
        self._terminal = env.stdout if env.stdout_isatty else env.stderr
        terminal_is_tty = env.stdout_isatty or env.stderr_isatty
        self._animated = terminal_is_tty and not env.dumb_terminal  # spinner and cursor tricks
        styled = self._animated and not env.no_color
        self.screen = TerminalScreen(
            new_renderer, self._terminal, env.stderr, styled=styled, on_terminal=terminal_is_tty
        )
        self.autosave = Autosave(save_file, warn=self.screen.warn)
        session.observers.append(self.autosave)
        known = [loaded_file] if loaded_file is not None else []
        self.commands = CommandRunner(
            session, self.screen, self.ask, self.autosave, recorder, model_aliases, known_files=known
        )
        self.state = PromptState()
        self._usage: Usage | None = None
        history = open_input_history(env.dirs.input_history_file, self.screen.warn)
        output = None if env.stdout_isatty else create_output(stdout=env.stderr)
        self.prompt = build_prompt_session(self.state, self._toolbar, history, output=output)
        self.signals = ExitSignals(lambda: self.prompt.app if self.prompt.app.is_running else None)

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
        """One turn on the terminal: spinner, reasoning, streamed answer, one line for an error."""
        animated = self._terminal if self._animated else None
        reasoning_to = self._env.stderr if self._env.stderr_isatty else None
        display = TurnDisplay(self._new_renderer, animated, reasoning_to)
        fd = self._env.stdin_fd()
        try:
            with quiet_input(fd) if fd is not None else contextlib.nullcontext():
                result = self.session.turn(text, display)
        except PartialAnswer as error:
            self.screen.error(f"{error} (the partial answer is kept)")
            return
        except ChatError as error:
            self.screen.error(str(error))
            return
        if result.status is Status.INTERRUPTED:
            self.screen.notice("interrupted" + (" (the partial answer is kept)" if result.text else ""))
        elif not result.text:
            self.screen.warn(empty_answer_message(result.info))
        elif result.cut_short is not None:
            self.screen.warn(result.cut_short)
        self._usage = result.info.usage or self._usage
        self._out.write("\n")
        self._out.flush()

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
        if self.autosave.file is not None:
            parts.append(f"saving to {self.autosave.file.path}")
        return [("", sanitize(" · ".join(parts)))]

    def _exit_on_signal(self, signum: int) -> int:
        """Save (the last turn may have been cut short), then leave; after a hang-up the terminal is gone."""
        if signum == signal.SIGHUP:
            detach_from_terminal()
        with contextlib.suppress(OSError):
            self.autosave.save(self.session.conversation)
        return 128 + signum


def run_repl(
    session: Session,
    new_renderer: Callable[[], Renderer],
    env: Environment,
    *,
    backend_name: str,
    save_file: ConversationFile | None,
    loaded_file: ConversationFile | None,
    recorder: Recorder,
    model_aliases: Mapping[str, str] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Chat on the terminal until Ctrl-D, /exit, Ctrl-C twice, SIGTERM or SIGHUP; return the exit code.

    `on_ready` runs once the prompt is built: background work (the backend) starts while the user types."""
    repl = Repl(
        session,
        new_renderer,
        env,
        backend_name=backend_name,
        save_file=save_file,
        loaded_file=loaded_file,
        recorder=recorder,
        model_aliases=model_aliases,
    )
    if on_ready is not None:
        on_ready()
    return repl.run()
