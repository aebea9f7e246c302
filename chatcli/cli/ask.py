"""`chatcli ask`: one prompt, one streamed answer; also the chat's answer when stdin is piped."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from chatcli.cli.exit_status import ExitStatus, report
from chatcli.cli.options import STDIO, ChatOptions
from chatcli.core.conversation import Content, Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.exit_signals import ExitSignals
from chatcli.core.renderer import Renderer
from chatcli.core.stream import Backend, StreamInfo, empty_answer_message
from chatcli.render.turn_display import TurnDisplay
from chatcli.storage.inputs import DEFAULT_MAX_INPUT_BYTES, STDIN_MARKER, Limits, combine_prompt

if TYPE_CHECKING:
    from collections.abc import Callable

    from chatcli.cli import wiring
    from chatcli.cli.settings import Config
    from chatcli.cli.settings_resolution import Resolved
    from chatcli.core.prompt_estimate import PromptEstimate
    from chatcli.core.session import Session
    from chatcli.storage.attachments import Attachment
    from chatcli.storage.recorder import Recorder
    from chatcli.storage.templates import Template

# Between piped stdin and the prompt in `ask --editor`; the text above it is stdin's, below it the prompt.
EDITOR_MARKER = "# ---- chatcli: piped text above this line, your prompt below it ----"


@dataclass(frozen=True, slots=True)
class AskOnlyOptions:
    """`ask`-only options: attached files, the usage line, JSON output, a code block or schema-checked JSON,
    composing in the editor."""

    files: list[str] = field(default_factory=list)  # paths (`~` expanded) and http(s) URLs
    usage: bool = False
    as_json: bool = False
    extract: str | None = None  # "first" or "last": print only that fenced code block of the answer
    schema: str | None = None  # a JSON schema (file or JSON text) the answer must follow
    editor: bool = False
    force: bool = False  # -o may overwrite a file chatcli did not write

    def check(self) -> None:
        shapes = [
            flag
            for flag, on in (("--json", self.as_json), ("-x", self.extract), ("--schema", self.schema))
            if on
        ]
        if len(shapes) > 1:
            raise UsageError(f"{shapes[0]} and {shapes[1]} cannot be combined; choose one output")


def input_limits(config: Config, options: ChatOptions) -> Limits:
    """What `-f` and `/file` may attach, from --max-input-bytes, max_image_bytes and --image-detail, and
    whether the backend takes PDFs as documents."""
    from chatcli.backends import DOCUMENT_BACKENDS

    if options.image_detail is not None:
        from chatcli.storage.images import DETAILS

        if options.image_detail not in DETAILS:
            raise UsageError(
                f"--image-detail must be one of {', '.join(DETAILS)}, not {options.image_detail!r}"
            )
    return Limits(
        options.max_input_bytes or DEFAULT_MAX_INPUT_BYTES,
        config.max_image_bytes,
        options.image_detail,
        pdf_as_document=config.resolved_backend() in DOCUMENT_BACKENDS,
    )


def run_ask(
    env: Environment, words: list[str], options: ChatOptions, extras: AskOnlyOptions = AskOnlyOptions()
) -> int:
    with ExitSignals() as signals:
        return _ask(env, words, options, extras, signals)


def _ask(
    env: Environment, words: list[str], options: ChatOptions, extras: AskOnlyOptions, signals: ExitSignals
) -> int:
    from chatcli.cli import wiring

    if env.stdout is None:
        raise ChatError("standard output is closed; nothing would show the answer")
    extras.check()
    template = _template(env, options)
    if template is not None:
        from chatcli.cli.templates import with_template

        options = with_template(options, template, template.system_prompt(options.template_params))
    schema = None
    if extras.schema is not None:
        from chatcli.cli.script_output import load_schema, response_format

        schema, name = load_schema(extras.schema)
        wanted = {"response_format": response_format(schema, name)}  # over -O's: --schema asks for it
        options = replace(options, request_options={**options.request_options, **wanted})
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    limits = input_limits(config, options)
    text = _prompt(env, words, options, extras, limits, template, wiring.page_fetcher(env, resolved, limits))
    recorder = wiring.new_recorder(env, config)
    try:
        return _answer(env, resolved, options, extras, schema, text, recorder, signals)
    finally:
        recorder.close()  # the library's last connection: SQLite folds its write-ahead log into the file


def _answer(
    env: Environment,
    resolved: Resolved,
    options: ChatOptions,
    extras: AskOnlyOptions,
    schema: dict[str, Any] | None,
    text: Content,
    recorder: Recorder,
    signals: ExitSignals,
) -> int:
    """The turn itself, and what `ask` prints after it."""
    from chatcli.cli import wiring

    assert env.stdout is not None  # _ask refused a closed stdout

    config = resolved.config
    opened = _open_conversation(env, resolved, options, recorder, extras.force)
    backend = wiring.new_backend(env, resolved)
    session = wiring.new_session(resolved, opened.conversation, backend)
    from chatcli.storage.conversation_file import Autosave

    session.observers += [Autosave(opened.save_file), recorder]
    displays: list[Renderer] = []

    def new_display() -> Renderer:
        displays.append(_renderer(env, config, extras))
        return displays[-1]

    first = new_display()
    # The terminal closing mid-answer makes writes fail (EIO) and sends SIGHUP: the first stops the turn,
    # keeping the partial answer; the hang-up must not cut short saving it.
    signals.ignore = lambda: any(isinstance(d, TurnDisplay) and d.terminal_closed for d in displays)
    tools = session.tools = wiring.new_tool_runner(env, resolved, options, flag_required=True)
    try:
        send, estimate = _estimate(env, session, text, config, options.yes, extras)
        if not send:
            report(env, "nothing was sent")
            return ExitStatus.FAILURE
        started = time.monotonic()
        result = session.turn(text, first, new_display)
    finally:
        if tools is not None:
            tools.close()
    if unwritten := next(
        (d.output_error for d in displays if isinstance(d, TurnDisplay) and d.output_error), None
    ):
        raise ChatError(f"cannot write the answer: {unwritten.strerror or unwritten}")
    if result.status is Status.INTERRUPTED:
        report(env, "interrupted")
        return ExitStatus.INTERRUPTED
    if not result.text and result.cut_short is None:
        report(env, empty_answer_message(result.info))  # never a silent exit 0 with nothing on stdout
        return ExitStatus.FAILURE
    if result.cut_short is not None:
        report(env, f"warning: {result.cut_short}")
    _print_block_or_checked_json(env, result.text, extras, schema)
    if extras.as_json:
        from chatcli.cli.json_output import answer_json

        answered = answer_json(result.text, result.info, session.model, estimate, config.resolved_backend())
        env.stdout.write(answered + "\n")
        env.stdout.flush()
    server = backend if extras.usage else None
    _report_usage(env, session, result.info, config, recorder, server, started, estimate)
    return ExitStatus.OK


def _estimate(
    env: Environment, session: Session, text: Content, config: Config, yes: bool, extras: AskOnlyOptions
) -> tuple[bool, PromptEstimate | None]:
    """Whether to send the prompt, and its estimate: made when -u or --json reports it or a cost limit is set
    (cli.cost_guard, which asks or refuses past a limit); otherwise nothing is estimated, or even loaded."""
    wanted = extras.usage or extras.as_json
    if not wanted and (yes or (config.confirm_above_tokens is None and config.confirm_above_cost is None)):
        return True, None
    from chatcli.cli.cost_guard import PromptDeclined, check_prompt

    try:
        return True, check_prompt(env, session, text, config, yes=yes, wanted=wanted)
    except PromptDeclined:
        return False, None


def _report_usage(
    env: Environment,
    session: Session,
    info: StreamInfo,
    config: Config,
    recorder: Recorder,
    server: Backend | None,
    started: float,
    estimate: PromptEstimate | None,
) -> None:
    """With -u (`server` given): the usage, the prompt's estimate beside its count, the conversation's totals
    and the context lines; without, only the line naming a prompt the server probably truncated."""
    from chatcli.cli.settings import AUTO
    from chatcli.cli.usage import describe_context, describe_estimate, describe_totals, describe_usage

    if server is not None:
        if config.backend == AUTO:
            report(env, f"backend: {config.resolved_backend()} (picked by auto)")
        report(env, describe_usage(info, session.model, time.monotonic() - started, config))
        if estimate is not None:
            report(env, describe_estimate(estimate, info.usage))
        if (totals := describe_totals(recorder, config)) is not None:
            report(env, totals)
    if info.usage is not None:
        for line in describe_context(session, info.usage, config, server):
            report(env, line)


def _open_conversation(
    env: Environment, resolved: Resolved, options: ChatOptions, recorder: Recorder, force: bool
) -> wiring.StartingConversation:
    """The conversation to answer in; -o over a file chatcli did not write is a usage error (nothing was sent)
    unless --force."""
    from chatcli.cli import wiring
    from chatcli.storage.conversation_file import NotOurFileError

    try:
        return wiring.open_conversation(
            resolved, options, recorder, None if env.stdin_isatty else env.stdin, overwrite=force
        )
    except NotOurFileError as error:
        raise UsageError(f"{error}, or add --force to overwrite it; nothing was sent") from None


def _template(env: Environment, options: ChatOptions) -> Template | None:
    """The template -T names, or None; -P without -T is an error."""
    if options.template is not None:
        from chatcli.cli.templates import template_store

        return template_store(env).load(options.template)
    if options.template_params:
        raise UsageError("-P gives a template's parameters; use it with -T NAME")
    return None


def _prompt(
    env: Environment,
    words: list[str],
    options: ChatOptions,
    extras: AskOnlyOptions,
    limits: Limits,
    template: Template | None,
    fetch: Callable[[str], Attachment],
) -> Content:
    """The prompt from files and pages (`fetch`), stdin and words (written in the editor with --editor),
    through the template (-T) when there is one."""
    stdin_text = _stdin_text(env, words, options, limits)
    nothing_given = not words and not extras.files and not extras.editor and template is None
    if nothing_given and env.stdin is not None and env.stdin_isatty and not options.no_stdin:
        raise UsageError("no prompt given; write one after `ask`, or pipe text on stdin")
    if options.no_stdin and not " ".join(words).strip() and not (extras.files or extras.editor or template):
        raise UsageError("empty prompt; --no-stdin leaves stdin unread, so write the prompt after `ask`")
    if extras.editor:
        words, stdin_text = compose_in_editor(env, words, stdin_text)
    marker = not env.stdin_isatty
    if template is None:
        return _with_files(env, extras.files, limits, fetch, words, stdin_text, marker)
    given = extras.files or words or (stdin_text or "").strip()
    filled = _with_files(env, extras.files, limits, fetch, words, stdin_text, marker) if given else ""
    if not isinstance(filled, str):
        raise UsageError("a template's {input} takes text; attach images without -T")
    return template.fill(filled, options.template_params)


def _stdin_text(env: Environment, words: list[str], options: ChatOptions, limits: Limits) -> str | None:
    """What piped stdin holds for the prompt: read for a lone - in the words, or else unless --no-stdin or
    `-l -` (stdin holds the conversation) says not to; None when it is not read."""
    from chatcli.storage.inputs import read_stdin

    if STDIN_MARKER in words and not env.stdin_isatty:  # on a terminal a lone - is just a word ("5 - 3")
        if options.no_stdin:
            raise UsageError(
                "a lone - in the prompt reads stdin, which --no-stdin turns off; drop one of them"
            )
        if env.stdin is None:
            raise UsageError("a lone - in the prompt reads stdin, but stdin is closed")
        return read_stdin(env.stdin, limits.max_input_bytes)
    if env.stdin is None or env.stdin_isatty or options.no_stdin or options.load == STDIO:
        return None
    return read_stdin(env.stdin, limits.max_input_bytes)


def _with_files(
    env: Environment,
    files: list[str],
    limits: Limits,
    fetch: Callable[[str], Attachment],
    words: list[str],
    stdin: str | None,
    marker: bool,
) -> Content:
    """The prompt with `-f` files and pages first, their notices on stderr; storage.attachments (and its image
    checks) loads only for files."""
    if not files:
        return combine_prompt(words, stdin, stdin_marker=marker)
    from chatcli.storage.attachments import prompt_with_files, read_source

    attachments = [read_source(source, limits, fetch) for source in files]
    for attachment in attachments:
        if attachment.notice is not None:
            report(env, attachment.notice)
    return prompt_with_files(attachments, words, stdin, stdin_marker=marker)


def _renderer(env: Environment, config: Config, extras: AskOnlyOptions) -> Renderer:
    """The answer streamed as it comes, or (--json, -x, --schema) nothing until it is complete."""
    from chatcli.cli import wiring
    from chatcli.render.plain import SilentRenderer

    if extras.as_json:
        return SilentRenderer()
    reasoning_to = env.stderr if env.stderr_isatty else None
    spinner_to = wiring.spinner_stream(env)
    if extras.extract or extras.schema:
        return TurnDisplay(SilentRenderer, spinner_to, reasoning_to, config.reasoning)
    wiring.preload_renderer(env, config)  # the turn starts next: imported while the request waits
    return TurnDisplay(lambda: wiring.new_renderer(env, config), spinner_to, reasoning_to, config.reasoning)


def _print_block_or_checked_json(
    env: Environment, answer: str, extras: AskOnlyOptions, schema: dict[str, Any] | None
) -> None:
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
