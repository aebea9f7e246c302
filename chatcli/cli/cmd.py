"""`chatcli cmd TASK`: one shell command from the model, shown whole and inert on a terminal, run only on the
user's `e` key (its exit status becomes chatcli's); printed, never run, when stdin or stdout is not a terminal."""

# No `from __future__ import annotations`: Typer reads the command's annotations as objects.

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer

from chatcli.cli.context import environment
from chatcli.cli.exit_status import ExitStatus, report, with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.help_names import EXAMPLE_SEPARATOR
from chatcli.cli.lazy_commands import LAZY_COMMANDS
from chatcli.cli.options import ChatOptions, TakesSharedOptions, given_options, long_flag
from chatcli.core.conversation import Conversation, Message
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.exit_signals import ExitSignals
from chatcli.core.renderer import Renderer
from chatcli.core.shell_command import NOT_EXECUTED, ShellContext
from chatcli.core.terminal_mode import terminal_mode

if TYPE_CHECKING:
    from chatcli.cli.settings import Config
    from chatcli.repl.command_mode import CommandDialogue

# The shared options that apply to a command asked of the model: which model and server, sampling, request
# options, the library, how the description and reasoning show, and stdin. Not the conversation's (a command is
# a small conversation of its own), nor templates or tools; no option runs a command without asking.
SHELL_COMMAND_OPTIONS = (
    "model",
    "profile",
    "backend",
    "base_url",
    "temperature",
    "max_tokens",
    "request_options",
    "timeout",
    "no_log",
    "max_input_bytes",
    "no_stdin",
    "no_stream",
    "markdown",
    "reasoning",
    "show_reasoning",
)


class ShellCommandCommand(TakesSharedOptions, HelpCommand):
    """`cmd`, with the shared options that apply to it."""

    shared: ClassVar[tuple[str, ...]] = SHELL_COMMAND_OPTIONS


cmd_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@cmd_app.command(
    "cmd",
    cls=ShellCommandCommand,
    help=LAZY_COMMANDS["cmd"].help
    + "\n\nOn a terminal the command is shown with every control character visible, then one key: "
    "\\[e]xecute (with $SHELL -c; its exit status is chatcli's), \\[r]evise, \\[d]escribe, \\[c]opy (OSC 52) "
    "or \\[a]bort (exit 1; so do Esc, Ctrl-C and Ctrl-D). When stdin or stdout is not a terminal the command is "
    "printed and never run.",
    epilog="\n".join(
        f"{command}{EXAMPLE_SEPARATOR}{meaning}"
        for command, meaning in (
            ('chatcli cmd "find files over 100 MB here"', "shown, then e runs it"),
            ('chatcli cmd "undo the last git commit" > cmd.sh', "printed, never run"),
            ('echo "list listening ports" | chatcli cmd', "the task from stdin"),
        )
    ),
)
@with_exit_status
def cmd(
    context: typer.Context,
    task: Annotated[
        list[str] | None,
        typer.Argument(
            help="What the command should do; words are joined.", metavar="TASK", show_default=False
        ),
    ] = None,
) -> int:
    env = environment(context)
    options = given_options(context)
    applies = {long_flag(name) for name in SHELL_COMMAND_OPTIONS}
    if unfit := [flag for flag in options.given_flags() if flag not in applies]:
        raise UsageError(f"{unfit[0]} does not apply to `cmd`")
    with ExitSignals():
        return run_shell_command(env, task or [], options)


def run_shell_command(env: Environment, words: list[str], options: ChatOptions) -> int:
    from chatcli.cli import wiring
    from chatcli.repl.command_mode import CommandDialogue

    if env.stdout is None:
        raise ChatError("standard output is closed; nothing would show the command")
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    task = _task(env, words, options)
    context = ShellContext.here(env.environ)
    system = context.system_prompt(config.cmd_system)
    recorder = wiring.new_recorder(env, config)
    try:
        backend = wiring.new_backend(env, resolved)
        session = wiring.new_session(
            resolved, Conversation([Message("system", system)], config.model), backend
        )
        dialogue = CommandDialogue(
            session,
            context,
            command_display=lambda: _display(env, config, None),
            answer_display=lambda: _display(env, config, lambda: wiring.new_renderer(env, config)),
            observers=[recorder],
            report=lambda message: report(env, message),
            environ=env.environ,
        )
        try:
            return _offer(env, dialogue, task)
        finally:
            dialogue.settle(NOT_EXECUTED)  # unless its fate was settled: whatever ended `cmd`, nothing ran
    finally:
        recorder.close()  # the library's last connection: SQLite folds its write-ahead log into the file


def _offer(env: Environment, dialogue: "CommandDialogue", task: str) -> int:
    """The command for `task`, decided on the terminal (its exit status, or 1 when aborted) or printed."""
    from chatcli.repl.command_mode import CommandTerminal

    assert env.stdout is not None  # run_shell_command refused a closed stdout
    fd = env.stdin_fd()
    if not (env.stdin_isatty and env.stdout_isatty) or fd is None:
        command = dialogue.propose(task)
        if command is None:
            return _interrupted(env)
        _print_command(env, command)
        return ExitStatus.OK
    # Keys typed while the model writes are not echoed into its output; the question discards them.
    with terminal_mode(fd, line=False, keep_output=True):
        if dialogue.propose(task) is None:
            return _interrupted(env)
        styled = not (env.no_color or env.dumb_terminal)
        outcome = dialogue.decide(CommandTerminal(env.stdout, fd, styled))
    if not outcome.executed or outcome.exit_status is None:
        report(env, "aborted; nothing ran")
        return ExitStatus.FAILURE
    return outcome.exit_status


def _interrupted(env: Environment) -> int:
    report(env, "interrupted")
    return ExitStatus.INTERRUPTED


def _task(env: Environment, words: list[str], options: ChatOptions) -> str:
    """The task: piped stdin (unless --no-stdin), a blank line, then the words, as `ask` builds a prompt."""
    from chatcli.storage.inputs import DEFAULT_MAX_INPUT_BYTES, combine_prompt, read_stdin

    if not words and (env.stdin is None or env.stdin_isatty or options.no_stdin):
        raise UsageError(
            'no task given; write it after `cmd` (chatcli cmd "list big files"), or pipe it on stdin'
        )
    stdin_text = None
    if env.stdin is not None and not env.stdin_isatty and not options.no_stdin:
        stdin_text = read_stdin(env.stdin, options.max_input_bytes or DEFAULT_MAX_INPUT_BYTES)
    return combine_prompt(words, stdin_text, stdin_marker=not env.stdin_isatty)


def _display(env: Environment, config: "Config", new_renderer: Callable[[], Renderer] | None) -> Renderer:
    """A turn on the terminal: a spinner until the answer starts, the reasoning as the setting says, then the
    answer through `new_renderer` (None: nothing, for a command is shown only once complete)."""
    from chatcli.cli import wiring
    from chatcli.render.plain import SilentRenderer
    from chatcli.render.turn_display import TurnDisplay

    reasoning_to = env.stderr if env.stderr_isatty else None
    return TurnDisplay(
        new_renderer or SilentRenderer, wiring.spinner_stream(env), reasoning_to, config.reasoning
    )


def _print_command(env: Environment, command: str) -> None:
    """The command alone and one newline: its exact bytes for a pipe, inert on a terminal."""
    from chatcli.render.shown_command import visible_command

    shown = visible_command(command) if env.stdout_isatty else command
    env.stdout_binary.write((shown + "\n").encode("utf-8", "replace"))
    env.stdout_binary.flush()
