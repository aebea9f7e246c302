"""`chatcli ask`: one prompt, one streamed answer; also the chat's answer when stdin is piped."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

from chatcli.cli import wiring
from chatcli.cli.exit_status import ExitStatus, report
from chatcli.cli.options import PAIR, ChatOptions
from chatcli.cli.settings import Config
from chatcli.core.conversation import Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.renderer import Renderer
from chatcli.storage.inputs import DEFAULT_MAX_INPUT_BYTES


@dataclass(frozen=True, slots=True)
class AskExtras:
    """`ask`-only options: attached files, the usage line, JSON output, a code block or schema-checked JSON."""

    files: list[Path] = field(default_factory=list)
    usage: bool = False
    as_json: bool = False
    extract: str | None = None  # "first" or "last": print only that fenced code block of the answer
    schema: str | None = None  # a JSON schema (file or JSON text) the answer must follow

    def check(self) -> None:
        shapes = [
            flag
            for flag, on in (("--json", self.as_json), ("-x", self.extract), ("--schema", self.schema))
            if on
        ]
        if len(shapes) > 1:
            raise UsageError(f"{shapes[0]} and {shapes[1]} cannot be combined; choose one output")


def run_ask(env: Environment, words: list[str], options: ChatOptions, extras: AskExtras = AskExtras()) -> int:
    if env.stdout is None:
        raise ChatError("standard output is closed; nothing would show the answer")
    extras.check()
    _interrupt_on_termination()
    text, options = _prompt(env, words, options, extras)
    schema = None
    if extras.schema is not None:
        from chatcli.cli.script_output import load_schema, response_format

        schema, name = load_schema(extras.schema)
        wanted = json.dumps(response_format(schema, name))
        options = replace(options, option=[*(options.option or []), "response_format" + PAIR + wanted])
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    recorder = wiring.new_recorder(env, config)
    opened = wiring.open_conversation(resolved, options, recorder)
    session = wiring.new_session(config, opened.conversation, wiring.new_backend(env, config))
    from chatcli.storage.conversation_file import Autosave

    session.observers += [Autosave(opened.save_file), recorder]
    started = time.monotonic()
    result = session.turn(text, _renderer(env, config, extras))
    if result.status is Status.INTERRUPTED:
        report(env, "interrupted")
        return ExitStatus.INTERRUPTED
    if result.cut_short is not None:
        report(env, f"warning: {result.cut_short}")
    _print_shaped(env, result.text, extras, schema)
    if extras.as_json:
        from chatcli.cli.json_output import answer_json

        env.stdout.write(answer_json(result.text, result.info, session.model) + "\n")
        env.stdout.flush()
    if extras.usage:
        from chatcli.cli.usage import describe_totals, describe_usage

        report(env, describe_usage(result.info, session.model, time.monotonic() - started, config))
        if (totals := describe_totals(recorder, config)) is not None:
            report(env, totals)
    return ExitStatus.OK


def _prompt(
    env: Environment, words: list[str], options: ChatOptions, extras: AskExtras
) -> tuple[str, ChatOptions]:
    """The prompt from files, stdin and words, through the template (-T) when there is one, and the options
    with the template's filled in."""
    from chatcli.storage.attachments import prompt_with_files
    from chatcli.storage.inputs import read_stdin

    template = None
    if options.template is not None:
        from chatcli.cli.templates import template_store

        template = template_store(env).load(options.template)
    elif options.param:
        raise UsageError("-P gives a template's parameters; use it with -T NAME")
    max_bytes = options.max_input_bytes or DEFAULT_MAX_INPUT_BYTES
    stdin_text = None
    if env.stdin is not None:
        if env.stdin_isatty:
            if not words and template is None:
                raise UsageError("no prompt given; write one after `ask`, or pipe text on stdin")
        else:
            stdin_text = read_stdin(env.stdin, max_bytes)
    if template is None:
        return prompt_with_files(extras.files, max_bytes, words, stdin_text), options
    from chatcli.cli.templates import with_template

    given = extras.files or words or (stdin_text or "").strip()
    params = options.template_params()
    text = template.fill(
        prompt_with_files(extras.files, max_bytes, words, stdin_text) if given else "", params
    )
    return text, with_template(options, template, template.system_prompt(params))


def _renderer(env: Environment, config: Config, extras: AskExtras) -> Renderer:
    """The answer streamed as it comes, or (--json, -x, --schema) nothing until it is complete."""
    from chatcli.render.plain import SilentRenderer

    if extras.as_json:
        return SilentRenderer()
    from chatcli.render.turn_display import TurnDisplay

    reasoning_to = env.stderr if env.stderr_isatty else None
    if extras.extract or extras.schema:
        return TurnDisplay(SilentRenderer, None, reasoning_to, config.reasoning)
    return TurnDisplay(lambda: wiring.new_renderer(env, config), None, reasoning_to, config.reasoning)


def _print_shaped(env: Environment, answer: str, extras: AskExtras, schema: dict[str, Any] | None) -> None:
    """-x: the code block alone; --schema: the answer's JSON once it validates (ChatError otherwise)."""
    from chatcli.render.sanitize import sanitize

    shown: str | None = None
    if extras.extract is not None:
        from chatcli.cli.script_output import extract_block

        shown = extract_block(answer, extras.extract == "last")
    elif schema is not None:
        from chatcli.cli.script_output import validated_json

        shown = json.dumps(validated_json(answer, schema), ensure_ascii=False)
    if shown is None:
        return
    out = env.stdout_binary
    out.write(((sanitize(shown) if env.stdout_isatty else shown) + "\n").encode("utf-8", "replace"))
    out.flush()


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP unwind `ask` like Ctrl-C: the terminal is restored and the partial answer kept."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
