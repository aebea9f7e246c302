"""The command line: options -> Config, the one place that picks concrete classes, ChatError -> exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from chatcli import __version__
from chatcli.config import Config, load_config
from chatcli.conversation import INTERRUPTED, Conversation
from chatcli.errors import ChatError, UsageError
from chatcli.sanitize import sanitize
from chatcli.stdin import DEFAULT_MAX_INPUT_BYTES

if TYPE_CHECKING:
    from chatcli.history import ConversationFile
    from chatcli.render import Renderer
    from chatcli.session import Session

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `yes | head` reports

app = typer.Typer(
    name="chatcli",
    help="Chat with language models from the terminal: any OpenAI-compatible server, or the offline echo backend.",
    pretty_exceptions_enable=False,  # pretty tracebacks can print local variables, keys among them
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Options shared by the REPL and `ask`; None means "not given", so the environment and defaults apply.
ModelOption = Annotated[str | None, typer.Option("-m", "--model", help="Model id [env: CHATCLI_MODEL].")]
BackendOption = Annotated[
    str | None, typer.Option("-b", "--backend", help="auto, openai or echo (auto: openai when a key or base URL is set).")
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint [env: OPENAI_BASE_URL].")
]
SystemOption = Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")]
TemperatureOption = Annotated[float | None, typer.Option("-t", "--temperature", help="Sampling temperature.")]
MaxTokensOption = Annotated[int | None, typer.Option("--max-tokens", help="Maximum tokens in the answer.")]
NoStreamOption = Annotated[bool, typer.Option("--no-stream", help="Wait for the whole answer.")]
MarkdownOption = Annotated[
    bool | None,
    typer.Option("--markdown/--plain", help="Force Markdown or raw text [default: Markdown on a terminal]."),
]
TimeoutOption = Annotated[float | None, typer.Option("--timeout", help="Connect and between-chunk timeout, seconds.")]
LoadOption = Annotated[Path | None, typer.Option("-l", "--load", help="Start from a saved conversation.")]
SaveOption = Annotated[Path | None, typer.Option("-o", "--save", help="Save the conversation after every turn.")]
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
    max_input_bytes: MaxInputOption = DEFAULT_MAX_INPUT_BYTES,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Chat interactively; with piped stdin, answer once like `ask`."""
    if context.invoked_subcommand is not None:
        return
    flags = _flags(model, backend, base_url, system, temperature, max_tokens, no_stream, markdown, timeout)
    if sys.stdin is not None and sys.stdin.isatty():
        _exit_with(lambda: _run_repl(flags, load, save))
    _exit_with(lambda: _run_ask([], flags, load, save, max_input_bytes))


@app.command()
def ask(
    prompt: Annotated[list[str] | None, typer.Argument(help="The prompt; words are joined with spaces.")] = None,
    model: ModelOption = None,
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
    max_input_bytes: MaxInputOption = DEFAULT_MAX_INPUT_BYTES,
) -> None:
    """Send one prompt and stream the answer. Piped stdin comes first, then a blank line, then PROMPT."""
    flags = _flags(model, backend, base_url, system, temperature, max_tokens, no_stream, markdown, timeout)
    _exit_with(lambda: _run_ask(prompt or [], flags, load, save, max_input_bytes))


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
) -> dict[str, Any]:
    return {
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


def _run_ask(words: list[str], flags: dict[str, Any], load: Path | None, save: Path | None, max_bytes: int) -> int:
    from chatcli.stdin import combine_prompt, read_stdin

    config = load_config(flags)
    stdin_text = None
    if sys.stdin is not None and not sys.stdin.closed:
        if sys.stdin.isatty():
            if not words:
                raise UsageError("no prompt given; write one after `ask`, or pipe text on stdin")
        else:
            stdin_text = read_stdin(sys.stdin.buffer, max_bytes)
    text = combine_prompt(words, stdin_text)
    conversation, save_file = _open_conversation(config, load, save)
    session = _new_session(config, conversation)
    try:
        result = session.turn(text, _new_renderer(config))
    finally:
        if save_file is not None and conversation.messages:
            save_file.save(conversation)
    if result.status == INTERRUPTED:
        report("interrupted")
        return EXIT_INTERRUPTED
    _warn_unfinished(result.info.finish_reason)
    return 0


def _run_repl(flags: dict[str, Any], load: Path | None, save: Path | None) -> int:
    from chatcli.repl import run_repl

    config = load_config(flags)
    conversation, save_file = _open_conversation(config, load, save)
    session = _new_session(config, conversation)
    return run_repl(session, lambda: _new_renderer(config), save_file, backend_name=config.resolved_backend())


def _open_conversation(
    config: Config, load: Path | None, save: Path | None
) -> tuple[Conversation, ConversationFile | None]:
    """The starting conversation (loaded or new, with the system prompt) and the file to save it to.

    Saving to the file we loaded continues it; saving over any other existing file is refused up front,
    before a request is spent."""
    from chatcli.history import ConversationFile

    conversation = Conversation(model=config.model)
    loaded_file = None
    if load is not None:
        loaded_file = ConversationFile(load)
        conversation = loaded_file.load()
        conversation.model = config.model
    if config.system is not None:
        conversation.set_system(config.system)
    save_file = None
    if save is not None:
        same_file = loaded_file is not None and _same_path(load, save)
        save_file = loaded_file if same_file and loaded_file is not None else ConversationFile(save)
        save_file.check_writable()
    return conversation, save_file


def _same_path(first: Path | None, second: Path) -> bool:
    return first is not None and os.path.abspath(first) == os.path.abspath(second)


def _new_session(config: Config, conversation: Conversation) -> Session:
    from chatcli.backends import BackendSettings, create_backend
    from chatcli.session import Session

    name = config.resolved_backend()
    if config.backend == "auto" and name == "echo":
        report("no API key or base URL configured; using the offline echo backend (set OPENAI_API_KEY or --base-url)")
    settings = BackendSettings(base_url=config.base_url, api_key=config.api_key, timeout=config.timeout)
    return Session(
        create_backend(name, settings),
        conversation,
        config.model,
        config.temperature,
        config.max_tokens,
        on_reasoning=_show_reasoning if sys.stderr.isatty() else None,
    )


def _new_renderer(config: Config) -> Renderer:
    """Markdown on a terminal (unless --plain or TERM=dumb); raw bytes on a pipe, sanitised on a terminal."""
    from chatcli.render import MarkdownRenderer, PlainRenderer
    from chatcli.sanitize import StreamSanitizer

    on_terminal = os.isatty(sys.stdout.fileno())
    dumb = os.environ.get("TERM") == "dumb"
    markdown = config.markdown if config.markdown is not None else on_terminal and not dumb
    if markdown:
        from rich.console import Console

        return MarkdownRenderer(Console(file=sys.stdout, highlight=False))
    return PlainRenderer(sys.stdout.buffer, StreamSanitizer() if on_terminal else None)


def _show_reasoning(text: str) -> None:
    sys.stderr.write(f"\x1b[2m{sanitize(text)}\x1b[0m")
    sys.stderr.flush()


def _warn_unfinished(finish_reason: str | None) -> None:
    if finish_reason == "length":
        report("warning: the answer was cut off at the token limit (finish_reason: length)")
    elif finish_reason == "content_filter":
        report("warning: the server's content filter stopped the answer (finish_reason: content_filter)")


def report(message: str) -> None:
    """One line on stderr, control characters neutralised (messages can quote server text)."""
    sys.stderr.write(f"chatcli: {sanitize(message)}\n")
    sys.stderr.flush()


def _exit_with(action: Callable[[], int]) -> NoReturn:
    try:
        code = action()
    except ChatError as error:
        report(f"error: {error}")
        code = error.exit_code
    except KeyboardInterrupt:
        report("interrupted")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = EXIT_BROKEN_PIPE
    except Exception as error:
        if os.environ.get("CHATCLI_DEBUG"):
            raise
        report(f"error: unexpected {type(error).__name__}; run with CHATCLI_DEBUG=1 for a traceback")
        code = 1
    raise typer.Exit(code)


def _silence_stdout() -> None:
    """After the reader of our stdout went away, point stdout at /dev/null so the final flush
    at exit cannot raise again ("Exception ignored … BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main() -> None:
    app(prog_name="chatcli")
