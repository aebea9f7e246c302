"""`chatcli ask`: one prompt, one streamed answer; also the chat's answer when stdin is piped."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from chatcli.cli import wiring
from chatcli.cli.exit_status import ExitStatus, report
from chatcli.cli.options import ChatOptions
from chatcli.core.conversation import Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.renderer import Renderer
from chatcli.storage.inputs import DEFAULT_MAX_INPUT_BYTES

if TYPE_CHECKING:
    from chatcli.cli.settings import Config
    from chatcli.storage.attachments import Limits

# Between piped stdin and the prompt in `ask --editor`; the text above it is stdin's, below it the prompt.
EDITOR_MARKER = "# ---- chatcli: piped text above this line, your prompt below it ----"


@dataclass(frozen=True, slots=True)
class AskExtras:
    """`ask`-only options: attached files, the usage line, JSON output, composing in the editor."""

    files: list[Path] = field(default_factory=list)
    usage: bool = False
    as_json: bool = False
    editor: bool = False


def input_limits(config: Config, options: ChatOptions) -> Limits:
    """What `-f` and `/file` may attach, from --max-input-bytes, max_image_bytes and --image-detail."""
    from chatcli.storage.attachments import Limits
    from chatcli.storage.images import DETAILS

    if options.image_detail is not None and options.image_detail not in DETAILS:
        raise UsageError(f"--image-detail must be one of {', '.join(DETAILS)}, not {options.image_detail!r}")
    return Limits(
        options.max_input_bytes or DEFAULT_MAX_INPUT_BYTES, config.max_image_bytes, options.image_detail
    )


def run_ask(env: Environment, words: list[str], options: ChatOptions, extras: AskExtras = AskExtras()) -> int:
    from chatcli.storage.attachments import prompt_with_files
    from chatcli.storage.inputs import read_stdin

    if env.stdout is None:
        raise ChatError("standard output is closed; nothing would show the answer")
    _interrupt_on_termination()
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    limits = input_limits(config, options)
    stdin_text = None
    if env.stdin is not None:
        if env.stdin_isatty:
            if not words and not extras.files and not extras.editor:
                raise UsageError("no prompt given; write one after `ask`, or pipe text on stdin")
        else:
            stdin_text = read_stdin(env.stdin, limits.max_input_bytes)
    if extras.editor:
        words, stdin_text = compose_in_editor(env, words, stdin_text)
    text = prompt_with_files(extras.files, limits, words, stdin_text)
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
        renderer = TurnDisplay(lambda: wiring.new_renderer(env, config), None, reasoning_to)
    started = time.monotonic()
    result = session.turn(text, renderer)
    if result.status is Status.INTERRUPTED:
        report(env, "interrupted")
        return ExitStatus.INTERRUPTED
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


def compose_in_editor(
    env: Environment, words: list[str], stdin_text: str | None
) -> tuple[list[str], str | None]:
    """`--editor`: the prompt words and stdin text after the user edits them, stdin above EDITOR_MARKER.

    The editor talks to the terminal (/dev/tty) even when stdin or stdout is a pipe."""
    from chatcli.repl.editor import EditCancelled, edit_text, open_terminal

    prompt = " ".join(words)
    initial = f"{stdin_text.rstrip()}\n{EDITOR_MARKER}\n{prompt}" if stdin_text is not None else prompt
    terminal = None if env.stdin_isatty and env.stdout_isatty else open_terminal()
    try:
        edited = edit_text(initial, env.environ, terminal)
    except EditCancelled as error:
        raise EditCancelled(f"{error}; nothing was sent") from None
    finally:
        if terminal is not None:
            os.close(terminal)
    above, marker, below = edited.partition(f"{EDITOR_MARKER}\n")
    if not marker:
        above, marker, below = edited.partition(EDITOR_MARKER)
    if not marker:
        return [edited], None
    return [below], above.removesuffix("\n")


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP unwind `ask` like Ctrl-C: the terminal is restored and the partial answer kept."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
