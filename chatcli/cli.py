"""The command line: options -> Config, the one place that picks concrete classes, ChatError -> exit code."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from chatcli import __version__
from chatcli.config import Config, Resolved, load_config, profile_names, resolve_config
from chatcli.config_commands import config_app
from chatcli.conversation import INTERRUPTED, Conversation
from chatcli.errors import ChatError, UsageError
from chatcli.exit_status import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, exit_with, report, silence_stdout
from chatcli.library_commands import history_app
from chatcli.sanitize import sanitize
from chatcli.stdin import DEFAULT_MAX_INPUT_BYTES

if TYPE_CHECKING:
    from chatcli.backends import BackendSettings
    from chatcli.history import ConversationFile
    from chatcli.library import Recorder
    from chatcli.render import Renderer
    from chatcli.session import Session

app = typer.Typer(
    name="chatcli",
    help="Chat with language models from the terminal: any OpenAI-compatible server, or the offline echo backend.",
    pretty_exceptions_enable=False,  # pretty tracebacks can print local variables, keys among them
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Options shared by the REPL and `ask`; None means "not given", so the environment and defaults apply.
ModelOption = Annotated[str | None, typer.Option("-m", "--model", help="Model id (env: CHATCLI_MODEL).")]
BackendOption = Annotated[
    str | None, typer.Option("-b", "--backend", help="auto, openai or echo (auto: openai when a key or base URL is set).")
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint (env: OPENAI_BASE_URL).")
]
SystemOption = Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")]
TemperatureOption = Annotated[float | None, typer.Option("-t", "--temperature", help="Sampling temperature.")]
MaxTokensOption = Annotated[int | None, typer.Option("--max-tokens", help="Maximum tokens in the answer.")]
NoStreamOption = Annotated[bool, typer.Option("--no-stream", help="Wait for the whole answer.")]
MarkdownOption = Annotated[
    bool | None,
    typer.Option("--markdown/--plain", help="Force Markdown or raw text (default: Markdown on a terminal)."),
]
TimeoutOption = Annotated[float | None, typer.Option("--timeout", help="Longest wait between two chunks of the answer, seconds.")]
LoadOption = Annotated[Path | None, typer.Option("-l", "--load", help="Start from a saved conversation.")]
SaveOption = Annotated[Path | None, typer.Option("-o", "--save", help="Save the conversation after every turn.")]
ContinueOption = Annotated[
    bool, typer.Option("-c", "--continue", help="Continue the most recent conversation in the library.")
]
CidOption = Annotated[
    str | None, typer.Option("--cid", help="Continue the library conversation with this id (a unique prefix will do).")
]
NoLogOption = Annotated[bool, typer.Option("--no-log", help="Do not record this conversation in the library.")]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "-p",
        "--profile",
        help="Use the config file's profiles.NAME table (env: CHATCLI_PROFILE).",
        autocompletion=profile_names,
    ),
]
FileOption = Annotated[
    list[Path] | None, typer.Option("-f", "--file", help="Add a text file to the prompt, under its name (repeatable).")
]
UsageFlagOption = Annotated[
    bool, typer.Option("-u", "--usage", help="Print token counts, duration and cost on stderr after the answer.")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object (content, model, finish_reason, usage) and nothing else.")
]
MaxInputOption = Annotated[
    int, typer.Option("--max-input-bytes", help="Refuse piped stdin larger than this.", min=1)
]


def _show_version(value: bool) -> None:
    if value:
        print(f"chatcli {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def chat(
    context: typer.Context,
    model: ModelOption = None,
    profile: ProfileOption = None,
    backend: BackendOption = None,
    base_url: BaseUrlOption = None,
    system: SystemOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    no_stream: NoStreamOption = False,
    markdown: MarkdownOption = None,
    timeout: TimeoutOption = None,
    load: LoadOption = None,
    save: SaveOption = None,
    continue_: ContinueOption = False,
    cid: CidOption = None,
    no_log: NoLogOption = False,
    max_input_bytes: MaxInputOption = DEFAULT_MAX_INPUT_BYTES,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Chat interactively; with piped stdin, answer once like `ask`."""
    if context.invoked_subcommand is not None:
        _refuse_options_before(context)
        return
    flags = _flags(model, backend, base_url, system, temperature, max_tokens, no_stream, markdown, timeout, profile)
    flags["log"] = False if no_log else None
    resume = _resume(continue_, cid)
    if sys.stdin is not None and sys.stdin.isatty():
        exit_with(lambda: _run_repl(flags, load, save, resume))
    exit_with(lambda: _run_ask([], flags, load, save, max_input_bytes, resume=resume))


@app.command()
def ask(
    prompt: Annotated[list[str] | None, typer.Argument(help="The prompt; words are joined with spaces.")] = None,
    model: ModelOption = None,
    profile: ProfileOption = None,
    file: FileOption = None,
    usage: UsageFlagOption = False,
    as_json: JsonOption = False,
    backend: BackendOption = None,
    base_url: BaseUrlOption = None,
    system: SystemOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    no_stream: NoStreamOption = False,
    markdown: MarkdownOption = None,
    timeout: TimeoutOption = None,
    load: LoadOption = None,
    save: SaveOption = None,
    continue_: ContinueOption = False,
    cid: CidOption = None,
    no_log: NoLogOption = False,
    max_input_bytes: MaxInputOption = DEFAULT_MAX_INPUT_BYTES,
) -> None:
    """Send one prompt and stream the answer. Piped stdin comes first, then a blank line, then PROMPT."""
    flags = _flags(model, backend, base_url, system, temperature, max_tokens, no_stream, markdown, timeout, profile)
    flags["log"] = False if no_log else None
    extras = AskExtras(file or [], usage, as_json)
    resume = _resume(continue_, cid)
    exit_with(lambda: _run_ask(prompt or [], flags, load, save, max_input_bytes, extras, resume))


@app.command()
def models(
    profile: ProfileOption = None,
    backend: BackendOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of {id, owned_by} objects.")] = False,
) -> None:
    """List the models the endpoint serves (GET /models), one id per line."""
    flags = {"profile": profile, "backend": backend, "base_url": base_url, "timeout": timeout}
    exit_with(lambda: _run_models(flags, as_json))


app.add_typer(config_app, name="config")
app.add_typer(history_app, name="history")


@dataclass(frozen=True, slots=True)
class AskExtras:
    """`ask`-only options: attached files, the usage line, JSON output."""

    files: list[Path] = field(default_factory=list)
    usage: bool = False
    as_json: bool = False


def _refuse_options_before(context: typer.Context) -> None:
    """`chatcli -p work ask …` would silently ignore `-p`: the session's options belong after the sub-command."""
    from typer._click.core import ParameterSource

    given = [name for name in context.params if context.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if given:
        option = "--" + given[0].rstrip("_").replace("_", "-")

        def refuse() -> int:
            raise UsageError(
                f"{option} before `{context.invoked_subcommand}` has no effect; put it after the sub-command"
            )

        exit_with(refuse)


def _flags(
    model: str | None,
    backend: str | None,
    base_url: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    no_stream: bool,
    markdown: bool | None,
    timeout: float | None,
    profile: str | None,
) -> dict[str, Any]:
    return {
        "profile": profile,
        "model": model,
        "backend": backend,
        "base_url": base_url,
        "system": system,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "stream": False if no_stream else None,
        "markdown": markdown,
        "timeout": timeout,
    }


def _run_ask(
    words: list[str],
    flags: dict[str, Any],
    load: Path | None,
    save: Path | None,
    max_bytes: int,
    extras: AskExtras = AskExtras(),
    resume: str | None = None,
) -> int:
    from chatcli.attachments import prompt_with_files
    from chatcli.stdin import read_stdin

    if sys.stdout is None:
        raise ChatError("standard output is closed; nothing would show the answer")
    _interrupt_on_termination()
    resolved = _resolve_config(flags)
    config = resolved.config
    stdin_text = None
    if sys.stdin is not None and not sys.stdin.closed:
        if sys.stdin.isatty():
            if not words:
                raise UsageError("no prompt given; write one after `ask`, or pipe text on stdin")
        else:
            stdin_text = read_stdin(sys.stdin.buffer, max_bytes)
    text = prompt_with_files(extras.files, max_bytes, words, stdin_text)
    recorder = _new_recorder(config)
    conversation, save_file, _ = _open_conversation(resolved, load, save, recorder, resume)
    session = _new_session(config, conversation, recorder if config.log else None)
    renderer: Renderer
    if extras.as_json:
        from chatcli.json_output import SilentRenderer

        renderer = SilentRenderer()
    else:
        renderer = _new_renderer(config)
    started = time.monotonic()
    try:
        result = session.turn(text, renderer)
    finally:
        if save_file is not None and conversation.messages:
            save_file.save(conversation)
    if result.status == INTERRUPTED:
        report("interrupted")
        return EXIT_INTERRUPTED
    if result.cut_short is not None:
        report(f"warning: {result.cut_short}")
    if extras.as_json:
        from chatcli.json_output import answer_json

        sys.stdout.write(answer_json(result.text, result.info, session.model) + "\n")
        sys.stdout.flush()
    if extras.usage:
        from chatcli.usage import describe_usage

        report(describe_usage(result.info, session.model, time.monotonic() - started, config))
    return 0


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP unwind `ask` like Ctrl-C: the terminal is restored and the partial answer kept."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def _run_models(flags: dict[str, Any], as_json: bool) -> int:
    from chatcli.backends.openai_compat import OpenAIBackend
    from chatcli.config import resolve_api_key
    from chatcli.model_list import format_models

    config = load_config(flags)
    if config.resolved_backend() != "openai":
        raise UsageError("the echo backend has no model list; set --base-url or OPENAI_API_KEY, or pick a profile")
    settings = _backend_settings(config, resolve_api_key(config))
    sys.stdout.write(format_models(OpenAIBackend(settings).list_models(), as_json))
    sys.stdout.flush()
    return 0


def _run_repl(flags: dict[str, Any], load: Path | None, save: Path | None, resume: str | None = None) -> int:
    from chatcli.repl import run_repl

    resolved = _resolve_config(flags)
    config = resolved.config
    recorder = _new_recorder(config)
    conversation, save_file, loaded_file = _open_conversation(resolved, load, save, recorder, resume)
    session = _new_session(config, conversation, recorder if config.log else None, background=True)
    return run_repl(
        session,
        lambda: _new_renderer(config),
        save_file,
        backend_name=config.resolved_backend(),
        known_files=[loaded_file] if loaded_file is not None else [],
        model_aliases=config.aliases,
    )


def _resolve_config(flags: dict[str, Any]) -> Resolved:
    """The run's settings; warns when the API key sits in a config file that other users can read."""
    from chatcli.config import exposed_key_file

    resolved = resolve_config(flags)
    if (exposed := exposed_key_file(resolved)) is not None:
        report(f"warning: {exposed} holds your API key and other users can read it; run: chmod 600 {exposed}")
    return resolved


def _open_conversation(
    resolved: Resolved,
    load: Path | None,
    save: Path | None,
    recorder: Recorder | None = None,
    resume: str | None = None,
) -> tuple[Conversation, ConversationFile | None, ConversationFile | None]:
    """The starting conversation (loaded, resumed from the library or new, with the system prompt), the file
    to save it to, and the file it was loaded from.

    A loaded or resumed conversation keeps its model unless one was asked for (flag, environment, profile).
    Saving to the file we loaded continues it; saving over any other existing file is refused up front,
    before a request is spent."""
    from chatcli.history import ConversationFile

    config = resolved.config
    conversation = Conversation(model=config.model)
    loaded_file = None
    if resume is not None and recorder is not None:
        if load is not None:
            raise UsageError("--load cannot be combined with --continue or --cid; choose one conversation")
        conversation = recorder.resume(resume)
    if load is not None:
        loaded_file = ConversationFile(load)
        conversation = loaded_file.load()
    if conversation.model is None or resolved.sources["model"].kind not in ("default", "file"):
        conversation.model = config.model
    if config.system is not None:
        conversation.set_system(config.system)
    save_file = None
    if save is not None:
        same_file = loaded_file is not None and _same_path(load, save)
        save_file = loaded_file if same_file and loaded_file is not None else ConversationFile(save)
        save_file.check_writable()
    return conversation, save_file, loaded_file


def _same_path(first: Path | None, second: Path) -> bool:
    return first is not None and os.path.abspath(first) == os.path.abspath(second)


def _resume(continue_: bool, cid: str | None) -> str | None:
    """The library conversation to continue: --cid's, the latest one for -c, or None for a new one."""
    from chatcli.library import LATEST

    if cid is not None:
        return cid
    return LATEST if continue_ else None


def _new_recorder(config: Config) -> Recorder:
    """The library recorder for this run (it opens the library only when a turn or a resume needs it)."""
    from chatcli.library import Recorder, url_host

    backend = config.resolved_backend()
    host = url_host(config.base_url or "https://api.openai.com/v1") if backend == "openai" else None
    return Recorder(warn=report, backend=backend, host=host)


def _new_session(
    config: Config, conversation: Conversation, on_turn: Recorder | None = None, background: bool = False
) -> Session:
    """With `background`, the backend (and `import openai`) is built in a thread while the REPL starts."""
    from chatcli.backends import Backend, create_backend
    from chatcli.config import resolve_api_key
    from chatcli.session import Session

    name = config.resolved_backend()
    if config.backend == "auto" and name == "echo":
        report("no API key or base URL configured; using the offline echo backend (set OPENAI_API_KEY or --base-url)")
    api_key = resolve_api_key(config) if name == "openai" else None
    settings = _backend_settings(config, api_key)
    backend: Backend
    if background:
        from chatcli.backends.background import BackgroundBackend

        backend = BackgroundBackend(name, lambda: create_backend(name, settings))
    else:
        backend = create_backend(name, settings)
    return Session(
        backend,
        conversation,
        conversation.model or config.model,
        config.temperature,
        config.max_tokens,
        on_reasoning=_show_reasoning if sys.stderr.isatty() else None,
        on_turn=on_turn,
    )


def _backend_settings(config: Config, api_key: str | None) -> BackendSettings:
    from chatcli.backends import BackendSettings

    return BackendSettings(
        base_url=config.base_url,
        api_key=api_key,
        timeout=config.timeout,
        connect_timeout=config.connect_timeout,
        first_token_timeout=config.first_token_timeout,
        stream=config.stream,
        notify=report,
    )


def _new_renderer(config: Config) -> Renderer:
    """Markdown on a terminal (unless --plain, TERM=dumb or NO_COLOR); raw bytes on a pipe, sanitised on a terminal.

    Forced with --markdown where the terminal cannot redraw (TERM=dumb, a pipe), blocks print as they close."""
    from chatcli.render import MarkdownRenderer, PlainRenderer
    from chatcli.sanitize import StreamSanitizer

    on_terminal = os.isatty(sys.stdout.fileno())
    plain_terminal = os.environ.get("TERM") == "dumb" or bool(os.environ.get("NO_COLOR"))
    markdown = config.markdown if config.markdown is not None else on_terminal and not plain_terminal
    if markdown:
        from rich.console import Console

        return MarkdownRenderer(Console(file=sys.stdout, highlight=False), code_theme=config.code_theme)
    return PlainRenderer(sys.stdout.buffer, StreamSanitizer() if on_terminal else None)


def _show_reasoning(text: str) -> None:
    sys.stderr.write(f"\x1b[2m{sanitize(text)}\x1b[0m")
    sys.stderr.flush()


def main() -> None:
    if sys.stderr is None:  # started with stderr closed (`2>&-`): messages go nowhere rather than fail
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
    try:
        app(prog_name="chatcli")
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            _exit_now(done.code or 0)
        raise


def _exit_now(code: int) -> NoReturn:
    """Exit without tearing the interpreter down: freeing every module's objects takes about 20 ms after
    Typer and 80 ms once openai is loaded, all of it after the answer is on screen. Exit handlers still run."""
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        raise SystemExit(code)  # Python's own exit waits for them
    try:
        if sys.stdout is not None:  # None when started with stdout closed
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        code = code or EXIT_BROKEN_PIPE
    except (OSError, ValueError):  # stdout closed or unwritable: nothing more can reach it
        pass
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr is not None:
            sys.stderr.flush()
    os._exit(code)
