"""The interactive session: the prompt loop, turns on the terminal, the toolbar, exit signals."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.output import create_output

from chatcli import __version__
from chatcli.core.compaction import DEFAULT_COMPACT_PROMPT
from chatcli.core.context import (
    ContextWindow,
    gauge,
    near_limit_notice,
    sent_bytes,
    share,
    truncation_warning,
    used_tokens,
)
from chatcli.core.conversation import Content, Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, PartialAnswer
from chatcli.core.exit_signals import ExitSignals
from chatcli.core.prompt_estimate import CostGuard, CostOf, confirmation_question, estimate_prompt
from chatcli.core.renderer import Renderer
from chatcli.core.session import Session, TurnOverrides
from chatcli.core.shell_command import NOT_EXECUTED, ShellContext
from chatcli.core.stream import Usage, empty_answer_message
from chatcli.core.terminal_mode import ask_yes
from chatcli.core.turn import TurnResult
from chatcli.render.plain import SilentRenderer
from chatcli.render.sanitize import sanitize
from chatcli.render.turn_display import TurnDisplay
from chatcli.render.wording import plural
from chatcli.repl.attachments import InputCommands, send
from chatcli.repl.command_mode import CommandDialogue, CommandSetup, CommandTerminal, command_session
from chatcli.repl.commands import Command, CommandRunner, KnownModels, parse_line
from chatcli.repl.context_windows import ContextWindows
from chatcli.repl.conversation_commands import summary_text
from chatcli.repl.editor import edit_text, open_terminal
from chatcli.repl.prompt import EditCancelled, PromptState, build_prompt_session, open_input_history
from chatcli.repl.tally import TokenTally
from chatcli.repl.terminal import TerminalScreen, detach_from_terminal, quiet_input
from chatcli.storage.attachments import Attachment
from chatcli.storage.conversation_file import Autosave, ConversationFile
from chatcli.storage.inputs import Limits
from chatcli.storage.recorder import Recorder
from chatcli.tools.control import ToolControl

WINDOW_WAIT = 2.0  # seconds a finished turn waits for the model's context window, asked since the chat began


def end_prompt_soon(app: Application[Any]) -> bool:
    """Ask a running prompt to end from its own event loop (an exit signal came); false when none runs."""
    loop = app.loop if app.is_running else None
    if loop is None or loop.is_closed():
        return False
    loop.call_soon_threadsafe(_end_prompt, app)
    return True


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
        limits: Limits | None = None,
        fetch_page: Callable[[str], Attachment] | None = None,
        reasoning: str = "summary",
        cost_of: CostOf | None = None,
        model_names: Callable[[], list[str]] | None = None,
        tools: ToolControl | None = None,
        windows: ContextWindows | None = None,
        compact_prompt: str = DEFAULT_COMPACT_PROMPT,
        compact_at: float | None = None,
        command_setup: CommandSetup | None = None,
        cost_guard: CostGuard | None = None,
    ) -> None:
        self.session = session
        self._command_setup = command_setup  # /cmd's settings
        self._cost_guard = cost_guard or CostGuard()  # inactive: every prompt is sent without asking
        self._compact_at = compact_at  # the gauge's fraction past which /compact is offered
        self._windows = windows or ContextWindows(lambda _: None, None)
        self._tools = tools
        self._reasoning = reasoning  # show, hide or summary (TurnDisplay)
        self._cost_of = cost_of
        self.tally = TokenTally()
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
        self._recorder = recorder
        self.autosave = Autosave(save_file, warn=self.screen.warn)
        session.observers.append(self.autosave)
        known = [loaded_file] if loaded_file is not None else []
        self.state = PromptState()
        inputs = InputCommands(
            session, self.screen, self.state.draft, limits or Limits(), env.environ, fetch_page
        )
        known_models = KnownModels(model_names) if model_names is not None else None
        self.commands = CommandRunner(
            session,
            self.screen,
            self.ask,
            self.autosave,
            recorder,
            model_aliases,
            known_files=known,
            inputs=inputs,
            tools=tools,
            # The echo backend answers to any name: nothing to check a name against.
            model_names=known_models if backend_name != "echo" else None,
            width=lambda: self.prompt.output.get_size().columns,
            copy_file=env.dirs.data / "copied.md",
            summarize=self.summarize,
            confirm=self.confirm,
            compact_prompt=compact_prompt,
            shell_command=self.shell_command if command_setup is not None else None,
        )
        history = open_input_history(env.dirs.input_history_file, self.screen.warn)
        output = None if env.stdout_isatty else create_output(stdout=env.stderr)
        self.prompt = build_prompt_session(
            self.state, self._toolbar, history, output=output, compose=self._compose, model_names=known_models
        )
        self._display: TurnDisplay | None = None  # the last turn's
        self.signals = ExitSignals(self._terminal_closed, lambda: end_prompt_soon(self.prompt.app))

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Chat on the terminal until Ctrl-D, /exit, Ctrl-C twice, SIGTERM or SIGHUP; return the exit code.

        `on_ready` runs once the prompt is built: background work (the backend) starts while the user types.
        The tools' servers are stopped and the library is closed on the way out."""
        if on_ready is not None:
            on_ready()
        with self.signals:
            try:
                return self._run()
            finally:
                if self._tools is not None:
                    self._tools.close()
                self._recorder.close()

    def _run(self) -> int:
        try:
            self._greet()
            self._loop()
        except (Exception, KeyboardInterrupt):
            if self.signals.received is None and not self._terminal_closed():
                raise
        if self.signals.received is not None or self._terminal_closed():
            return self._exit_on_signal(self.signals.received or signal.SIGHUP)
        self._say_how_to_resume()
        return 0

    def _say_how_to_resume(self) -> None:
        recorded = self._recorder.recorded_id
        if recorded is not None:
            reference = shlex.quote(self._recorder.name) if self._recorder.name else recorded
            self.screen.notice(f"resume with: chatcli -c (or chatcli --cid {reference})")

    def _new_display(self) -> TurnDisplay:
        """What shows the next answer: spinner, reasoning, then the renderer."""
        animated = self._terminal if self._animated else None
        reasoning_to = self._env.stderr if self._env.stderr_isatty else None
        self._display = TurnDisplay(self._new_renderer, animated, reasoning_to, self._reasoning)
        return self._display

    def summarize(self, prompt: str) -> str | None:
        """A summary for /compact, shown as an answer is; None when there is none to use (said in one line)."""
        try:
            with self._quiet_input():
                summary = self.session.summarize(prompt, self._new_display())
        except ChatError as error:
            self.screen.error(str(error))
            return None
        self._out.write("\n")
        self._out.flush()
        return summary_text(summary, self.screen)

    def confirm(self, question: str) -> bool:
        """The user's yes to `question`; no without a terminal to ask on."""
        fd = self._env.stdin_fd()
        return fd is not None and not self._terminal_closed() and ask_yes(fd, self._terminal, question)

    def shell_command(self, task: str) -> None:
        """/cmd TASK: a command asked in a conversation of its own, shown and decided on the terminal, as
        `chatcli cmd` does (with stdout redirected: printed, never run); the chat goes on afterwards."""
        assert self._command_setup is not None
        context = ShellContext.here(self._env.environ)
        session = command_session(self.session, context.system_prompt(self._command_setup.system_template))
        recorder = self._command_setup.new_recorder()
        animated = self._terminal if self._animated else None
        reasoning_to = self._env.stderr if self._env.stderr_isatty else None
        dialogue = CommandDialogue(
            session,
            context,
            command_display=lambda: TurnDisplay(SilentRenderer, animated, reasoning_to, self._reasoning),
            answer_display=self._new_display,
            observers=[recorder],
            report=self.screen.warn,
            environ=self._env.environ,
        )
        try:
            self._decide_command(dialogue, task)
        except ChatError as error:
            self.screen.error(str(error))
        finally:
            dialogue.settle(NOT_EXECUTED)  # unless its fate was settled: whatever ended /cmd, nothing ran
            recorder.close()

    def _decide_command(self, dialogue: CommandDialogue, task: str) -> None:
        command = dialogue.propose(task)
        if command is None:
            self.screen.notice("interrupted")
            return
        fd = self._env.stdin_fd()
        if not self._env.stdout_isatty or fd is None:
            self._out.write(command + "\n")
            self._out.flush()
            return
        styled = self._animated and not self._env.no_color
        outcome = dialogue.decide(CommandTerminal(self._out, fd, styled))
        self.screen.notice(
            f"exit status {outcome.exit_status}" if outcome.executed else "aborted; nothing ran"
        )

    def ask(self, text: Content, overrides: TurnOverrides | None = None) -> TurnResult | None:
        """One turn on the terminal: spinner, reasoning, streamed answer; None after an error, said in one
        line. Past the cost guard's limits, only the user's yes sends it."""
        try:
            if not self._cleared_to_send(text, overrides):
                return None
            with self._quiet_input():
                result = self.session.turn(text, self._new_display(), self._new_display, overrides)
        except PartialAnswer as error:
            self.screen.error(f"{error} (the partial answer is kept)")
            return None
        except ChatError as error:
            self.screen.error(str(error))
            return None
        if self._terminal_closed():
            return result  # nothing can be shown any more; the loop ends
        if result.status is Status.INTERRUPTED:
            self.screen.notice("interrupted" + (" (the partial answer is kept)" if result.text else ""))
        elif not result.text and result.cut_short is None:
            self.screen.warn(empty_answer_message(result.info))
        elif result.cut_short is not None:
            self.screen.warn(result.cut_short)
        usage = result.info.usage
        cost = self._cost_of(self.session.model, usage) if usage is not None and self._cost_of else None
        self.tally.add_turn(usage, cost)
        self._out.write("\n")
        self._out.flush()
        if usage is not None:
            self._say_how_full(usage)
        return result

    def _cleared_to_send(self, text: Content, overrides: TurnOverrides | None) -> bool:
        """True unless the prompt passes confirm_above_tokens or confirm_above_cost and the user says no (the
        line stays in the input history; /retry asks again)."""
        if not self._cost_guard.active:
            return True
        request = self.session.first_request(text, overrides)
        estimate = estimate_prompt(self.session.backend, request, self._cost_of)
        if self._cost_guard.exceeded_by(estimate) is None or self.confirm(confirmation_question(estimate)):
            return True
        self.screen.notice("not sent (Up brings the line back; /retry asks again)")
        return False

    def _say_how_full(self, usage: Usage) -> None:
        """A prompt the server probably cut, in one line; once per conversation, that the window is nearly full."""
        window = self._windows.get(self.session.model, wait=WINDOW_WAIT)
        sent = sent_bytes(self.session.conversation.messages)
        if (truncated := truncation_warning(sent, usage, window)) is not None:
            self.screen.warn(truncated)
        notice = near_limit_notice(used_tokens(usage), window) if window is not None else None
        if notice is not None and not self.tally.near_limit_said:
            self.screen.warn(notice)
            self.tally.near_limit_said = True
        if window is not None:
            self._offer_compaction(used_tokens(usage), window)
        self._windows.renew(self.session.model)  # a guess may be known better now that the model is loaded

    def _offer_compaction(self, used: int, window: ContextWindow) -> None:
        """Past `compact_at`, ask once per conversation whether to compact it; only a yes compacts."""
        if (
            self._compact_at is None
            or self.tally.compaction_offered
            or share(used, window) < self._compact_at
        ):
            return
        self.tally.compaction_offered = True
        question = (
            f"the conversation uses {share(used, window):.0%} of the model's context; compact it now? [y/N] "
        )
        if self.confirm(question):
            self._run_command(Command("compact", ""))

    def _greet(self) -> None:
        named = f"{sanitize(self._recorder.name)} · " if self._recorder.name else ""
        self.screen.notice(
            f"chatcli {__version__} · {named}{self.session.model} on {self._backend_name} · "
            "/help for commands · Ctrl-D exits"
        )
        messages = self.session.conversation.messages
        if any(message.role != "system" for message in messages):
            self.screen.show_messages(messages)

    def _terminal_closed(self) -> bool:
        return self._display is not None and self._display.terminal_closed

    def _loop(self) -> None:
        while self.signals.received is None and not self._terminal_closed():
            try:
                line = self._read_line()
            except EOFError:
                return
            if line is None:
                continue
            if self.signals.received is not None:
                return
            if line.strip():
                self.screen.show_sent(line.rstrip("\n"))
            try:
                if not self._handle(line):
                    return
            except KeyboardInterrupt:
                self.screen.notice("interrupted")
            except Exception as error:  # a bug must not cost the conversation: that turn or command fails
                if self._env.debug:
                    traceback.print_exception(error, file=self._env.stderr)
                self.screen.error(
                    f"unexpected {type(error).__name__}; that failed, the session goes on "
                    "(CHATCLI_DEBUG=1 shows a traceback)"
                )

    def _read_line(self) -> str | None:
        """The next line typed, or None when Ctrl-C cleared it; EOFError when the chat ends (Ctrl-D)."""
        self.state.exit_armed = False
        try:
            return self.prompt.prompt(default=self.state.draft.take_prefill())
        except KeyboardInterrupt:
            return None
        except EditCancelled:
            self.screen.notice("edit cancelled")
            return None

    def _handle(self, line: str) -> bool:
        try:
            parsed = parse_line(line)
        except ChatError as error:
            self.screen.warn(str(error))
            return True
        if isinstance(parsed, Command):
            return self._run_command(parsed)
        if parsed is not None:
            send(self.session, self.state.draft, parsed, self.commands.send)
        return True

    def _run_command(self, command: Command) -> bool:
        """Carry out `command`; False means leave. A new conversation gets its own tally and gauge."""
        before = list(self.session.conversation.messages) if command.name == "compact" else None
        if command.name in ("clear", "load", "fork"):
            self.tally.new_conversation()
        with self._quiet_input():  # keys typed while a command works (/tools off) wait for the prompt
            going_on = self.commands.run(command)
        if before is not None and before != self.session.conversation.messages:  # compacted
            self.tally.new_conversation()
        return going_on

    def _quiet_input(self) -> contextlib.AbstractContextManager[None]:
        """Keys typed meanwhile are not echoed but wait for the next prompt (a turn, a command at work)."""
        fd = self._env.stdin_fd()
        return quiet_input(fd) if fd is not None else contextlib.nullcontext()

    def _compose(self, text: str) -> str | None:
        """Ctrl-X Ctrl-E: the input line edited in the user's editor, or None (one line says why)."""
        try:
            terminal = None if self._env.stdout_isatty else open_terminal()
            try:
                return edit_text(text, self._env.environ, terminal)
            finally:
                if terminal is not None:
                    os.close(terminal)
        except ChatError as error:
            self.screen.warn(f"{error}; the input line is unchanged")
            return None

    def _toolbar(self) -> StyleAndTextTuples:
        if self.state.exit_armed:
            return [("class:hint", " Press Ctrl-C again to exit (or Ctrl-D)")]
        conversation = self.session.conversation
        turns = sum(1 for message in conversation.messages if message.role == "user")
        named = [self._recorder.name] if self._recorder.name else []
        parts = [*named, self.session.model, self._backend_name, plural(turns, "turn")]
        parts.append("Alt-Enter newline · /help")  # before the parts of varying length, which may be cut off
        last = self.tally.last
        window = self._windows.get(self.session.model) if last is not None else None
        if last is not None and window is not None:
            parts.append(gauge(used_tokens(last), window))
        parts += self.tally.describe()
        if self.autosave.file is not None:
            parts.append(f"saving to {self.autosave.file.path}")
        return [("", " " + sanitize(" · ".join(parts)))]

    def _exit_on_signal(self, signum: int) -> int:
        """Save (the last turn may have been cut short), then leave; after a hang-up the terminal is gone."""
        if signum == signal.SIGHUP:
            detach_from_terminal()
        with contextlib.suppress(OSError):
            self.autosave.save(self.session.conversation)
        return 128 + signum
