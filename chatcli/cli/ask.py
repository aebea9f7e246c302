"""`chatcli ask`: one prompt, one streamed answer; also the chat's answer when stdin is piped."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from chatcli.cli import wiring
from chatcli.cli.exit_status import ExitStatus, report
from chatcli.cli.options import ChatOptions
from chatcli.core.conversation import Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.renderer import Renderer
from chatcli.core.stream import empty_answer_message
from chatcli.storage.inputs import DEFAULT_MAX_INPUT_BYTES


@dataclass(frozen=True, slots=True)
class AskExtras:
    """`ask`-only options: attached files, the usage line, JSON output."""

    files: list[Path] = field(default_factory=list)
    usage: bool = False
    as_json: bool = False


def run_ask(env: Environment, words: list[str], options: ChatOptions, extras: AskExtras = AskExtras()) -> int:
    from chatcli.storage.attachments import prompt_with_files
    from chatcli.storage.inputs import read_stdin

    if env.stdout is None:
        raise ChatError("standard output is closed; nothing would show the answer")
    _interrupt_on_termination()
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    max_bytes = options.max_input_bytes or DEFAULT_MAX_INPUT_BYTES
    stdin_text = None
    if env.stdin is not None:
        if env.stdin_isatty:
            if not words:
                raise UsageError("no prompt given; write one after `ask`, or pipe text on stdin")
        else:
            stdin_text = read_stdin(env.stdin, max_bytes)
    text = prompt_with_files(extras.files, max_bytes, words, stdin_text)
    recorder = wiring.new_recorder(env, config)
    opened = wiring.open_conversation(resolved, options, recorder)
    session = wiring.new_session(config, opened.conversation, wiring.new_backend(env, config))
    from chatcli.storage.conversation_file import Autosave

    session.observers += [Autosave(opened.save_file), recorder]
    renderer: Renderer
    if extras.as_json:
        from chatcli.render.plain import SilentRenderer

        renderer = SilentRenderer()
    else:
        from chatcli.render.turn_display import TurnDisplay

        reasoning_to = env.stderr if env.stderr_isatty else None
        spinner_to = env.stderr if env.stderr_isatty and not env.dumb_terminal else None
        renderer = TurnDisplay(lambda: wiring.new_renderer(env, config), spinner_to, reasoning_to)
    started = time.monotonic()
    result = session.turn(text, renderer)
    if result.status is Status.INTERRUPTED:
        report(env, "interrupted")
        return ExitStatus.INTERRUPTED
    if not result.text:
        report(env, empty_answer_message(result.info))  # never a silent exit 0 with nothing on stdout
        return ExitStatus.FAILURE
    if result.cut_short is not None:
        report(env, f"warning: {result.cut_short}")
    if extras.as_json:
        from chatcli.cli.json_output import answer_json

        env.stdout.write(answer_json(result.text, result.info, session.model) + "\n")
        env.stdout.flush()
    if extras.usage:
        from chatcli.cli.usage import describe_usage

        report(env, describe_usage(result.info, session.model, time.monotonic() - started, config))
    return ExitStatus.OK


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP unwind `ask` like Ctrl-C: the terminal is restored and the partial answer kept."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
