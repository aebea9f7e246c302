"""The Typer app: the chat (top-level callback), its sub-commands, a bare prompt as `ask`, and `main`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from chatcli import __version__
from chatcli.cli.ask import AskExtras, run_ask
from chatcli.cli.config import config_app
from chatcli.cli.context import environment
from chatcli.cli.environment import process_environment
from chatcli.cli.exit_status import ExitStatus, exit_with, silence_stdout
from chatcli.cli.history import history_app
from chatcli.cli.mcp import mcp_app
from chatcli.cli.options import INPUT_PANEL, OUTPUT_PANEL, ChatOptions, with_chat_options, with_server_options
from chatcli.core.environment import Environment
from chatcli.core.errors import UsageError

_EARLIER_OPTIONS = "chatcli.options"  # ctx.meta key: the shared options given before the sub-command


class ChatGroup(TyperGroup):
    """A first word that names no sub-command starts the prompt: `chatcli "what is 2+2"` is `chatcli ask …`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            return "ask", self.get_command(ctx, "ask"), args
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="chatcli",
    cls=ChatGroup,
    help=(
        "Chat with language models from the terminal: any OpenAI-compatible server, or the offline echo backend.\n\n"
        "`chatcli` alone starts a chat (with piped stdin it answers once); `chatcli PROMPT` is `chatcli ask PROMPT`."
    ),
    epilog=(
        "Examples:\n\n"
        '  chatcli "Explain SSE in one paragraph"\n\n'
        '  git diff | chatcli ask "review this"\n\n'
        "  chatcli --base-url http://localhost:11434/v1 -m llama3.2\n\n"
        "  chatcli -c    (continue the last conversation)"
    ),
    pretty_exceptions_enable=False,  # pretty tracebacks can print local variables, keys among them
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"chatcli {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
@with_chat_options
def chat(
    context: typer.Context,
    options: ChatOptions,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Chat interactively; with piped stdin, answer once like `ask`."""
    env = environment(context)
    if context.invoked_subcommand is not None:
        given = options.given()
        if given and context.invoked_subcommand in ("history", "config", "mcp"):
            exit_with(env, _refuse(f"{given[0]} does not apply to `{context.invoked_subcommand}`"))
        context.meta[_EARLIER_OPTIONS] = options
        return
    if env.stdin_isatty:
        exit_with(env, lambda: _run_repl(env, options))
    exit_with(env, lambda: run_ask(env, [], options))


def _refuse(message: str) -> Any:
    def refuse() -> int:
        raise UsageError(message)

    return refuse


@app.command(
    epilog='Examples:\n\n  chatcli ask "hi"\n\n  cat notes.md | chatcli ask -u "summarise"\n\n  chatcli ask -f main.py --json "find the bug" | jq -r .content'
)
@with_chat_options
def ask(
    context: typer.Context,
    options: ChatOptions,
    prompt: Annotated[
        list[str] | None,
        typer.Argument(
            help="The prompt; words are joined with spaces.", metavar="PROMPT...", show_default=False
        ),
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option(
            "-f",
            "--file",
            help="Add a text file to the prompt, under its name (repeatable).",
            metavar="PATH",
            rich_help_panel=INPUT_PANEL,
            show_default=False,
        ),
    ] = None,
    usage: Annotated[
        bool,
        typer.Option(
            "-u",
            "--usage",
            help="Print token counts, duration and cost on stderr after the answer.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object (content, model, finish_reason, usage) and nothing else.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
) -> None:
    """Send one prompt and stream the answer. Piped stdin comes first, then a blank line, then PROMPT."""
    env = environment(context)
    merged = options.over(context.meta.get(_EARLIER_OPTIONS))
    extras = AskExtras(file or [], usage, as_json)
    exit_with(env, lambda: run_ask(env, prompt or [], merged, extras))


@app.command()
@with_server_options
def models(
    context: typer.Context,
    options: ChatOptions,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {id, owned_by} objects.")
    ] = False,
) -> None:
    """List the models the endpoint serves (GET /models), one id per line.

    The server options work before `models` too (`chatcli --base-url URL models`)."""
    from chatcli.cli.models import run_models

    env = environment(context)
    merged = options.over(context.meta.get(_EARLIER_OPTIONS))
    exit_with(env, lambda: run_models(env, merged, as_json))


app.add_typer(config_app, name="config")
app.add_typer(history_app, name="history")
app.add_typer(mcp_app, name="mcp")


def _run_repl(env: Environment, options: ChatOptions) -> int:
    from chatcli.cli import wiring
    from chatcli.repl.loop import run_repl

    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    recorder = wiring.new_recorder(env, config)
    opened = wiring.open_conversation(resolved, options, recorder)
    backend = wiring.new_background_backend(env, config)
    session = wiring.new_session(config, opened.conversation, backend)
    session.observers.append(recorder)
    from chatcli.tools.control import ToolControl

    runner = session.tools = wiring.new_tool_runner(env, resolved, options)
    default_servers = config.tools or ",".join(config.mcp)
    tools = ToolControl(
        session,
        runner,
        lambda names: wiring.new_tool_runner(env, resolved, options, names or default_servers),
        list(config.mcp),
    )
    return run_repl(
        session,
        lambda: wiring.new_renderer(env, config),
        env,
        backend_name=config.resolved_backend(),
        save_file=opened.save_file,
        loaded_file=opened.loaded_file,
        recorder=recorder,
        model_aliases=config.aliases,
        on_ready=backend.start,
        tools=tools,
    )


def main() -> None:
    if sys.stderr is None:  # started with stderr closed (`2>&-`): messages go nowhere rather than fail
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
    env = process_environment()
    try:
        app(prog_name="chatcli", obj=env)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        raise SystemExit(_flush_stdout(env, code)) from None


def _flush_stdout(env: Environment, code: int) -> int:
    """Flush stdout before exit, so a reader that left (`| head`) costs exit 141, not a traceback at exit."""
    try:
        if env.stdout is not None:
            env.stdout.flush()
    except BrokenPipeError:
        silence_stdout(env)
        return code or ExitStatus.BROKEN_PIPE
    except (OSError, ValueError):  # stdout closed or unwritable: nothing more can reach it
        pass
    return code
