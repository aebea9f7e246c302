"""The Typer app: the chat (top-level callback), its sub-commands, a bare prompt as `ask`, and `main`."""

# No `from __future__ import annotations`: Typer reads the commands' annotations, as objects, without evaluating
# their text again for every command it builds.

import contextlib
import importlib
import os
import sys
import threading
from typing import Annotated, Any, NoReturn

import typer
import typer.main
from typer.core import TyperGroup

from chatcli import __version__
from chatcli.cli.context import environment
from chatcli.cli.environment import OutputError, process_environment
from chatcli.cli.exit_status import ExitStatus, failure_status, report, silence_stdout, with_exit_status
from chatcli.cli.help_format import HelpGroup
from chatcli.cli.help_names import EXAMPLE_SEPARATOR
from chatcli.cli.lazy_commands import LAZY_COMMANDS
from chatcli.cli.options import (
    INPUT_PANEL,
    OUTPUT_PANEL,
    ChatCommand,
    ChatOptions,
    ServerCommand,
    TakesSharedOptions,
    first_argument,
    given_options,
)
from chatcli.core.environment import Environment
from chatcli.core.errors import UsageError


def split_at(args: list[str], index: int) -> tuple[list[str], list[str]]:
    return args[:index], args[index:]


def _examples(*examples: tuple[str, str]) -> str:
    """An epilog of examples, which `--help` shows in a panel of their own."""
    return "\n".join(f"{command}{EXAMPLE_SEPARATOR}{meaning}" for command, meaning in examples)


class ChatGroup(TakesSharedOptions, HelpGroup):
    """The chat, with the shared options. A first word that names no sub-command starts the prompt:
    `chatcli "what is 2+2"` is `chatcli ask …`.

    The LAZY_COMMANDS are imported and built when one runs or completion looks inside it; listings (--help)
    show their one-line help."""

    stop_at_argument = True

    def list_commands(self, ctx: Any) -> list[str]:
        listed = super().list_commands(ctx)
        return [*listed, *(name for name in LAZY_COMMANDS if name not in listed)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            return TyperGroup(name=cmd_name, help=LAZY_COMMANDS[cmd_name].help)  # a stand-in to list
        return super().get_command(ctx, cmd_name)

    def add_lazy_command(self, cmd_name: str) -> None:
        lazy = LAZY_COMMANDS[cmd_name]
        sub_app = getattr(importlib.import_module(lazy.module), lazy.app)
        command = typer.main.get_command(sub_app) if lazy.single else typer.main.get_group(sub_app)
        command.name = cmd_name
        self.add_command(command, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            if ctx.resilient_parsing or not self.meant_a_command(ctx, args):
                return "ask", self.get_command(ctx, "ask"), args
            from chatcli.cli.typo import meant_command

            args = [meant_command(args[0], self.list_commands(ctx)) or args[0], *args[1:]]
        if args and args[0] in LAZY_COMMANDS and args[0] not in self.commands:
            self.add_lazy_command(args[0])
        return super().resolve_command(ctx, args)

    def meant_a_command(self, ctx: Any, words: list[str]) -> bool:
        """Whether the user, asked (on a terminal), meant the sub-command that the first of `words` is one typo
        away from rather than the prompt; no sub-command that close: the prompt."""
        if len(words[0]) < 4 or not words[0].isalpha():  # no typo of a sub-command: typo.py is not loaded
            return False
        from chatcli.cli.typo import meant_command, send_or_run

        command = meant_command(words[0], self.list_commands(ctx))
        return command is not None and send_or_run(environment(ctx), words, command)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self.spelled_out(ctx, args))

    def spelled_out(self, ctx: Any, args: list[str]) -> list[str]:
        """The command line with what it means made explicit: `help [COMMAND…]` as `[COMMAND…] --help`,
        `version` as `--version`, and `ask` before options that only `ask` takes (`chatcli -u hi`)."""
        options, words = split_at(args, first_argument(args, self.get_params(ctx)))
        if words == ["version"]:
            return [*options, "--version"]
        if words[:1] == ["help"] and all(self.get_command(ctx, word) for word in words[1:2]):
            return [*options, *words[1:], "--help"]
        ask_params = self.get_command(ctx, "ask").get_params(ctx)
        own = {flag for param in self.get_params(ctx) for flag in (*param.opts, *param.secondary_opts)}
        ask_only = {flag for param in ask_params for flag in (*param.opts, *param.secondary_opts)} - own
        options, words = split_at(args, first_argument(args, ask_params))
        asks = any(option.split("=", 1)[0] in ask_only for option in options) and (
            not words or self.get_command(ctx, words[0]) is None
        )
        return ["ask", *args] if asks else args


app = typer.Typer(
    name="chatcli",
    cls=ChatGroup,
    help=(
        "Chat with language models from the terminal: any OpenAI-compatible server, or the offline echo backend."
        "\n\n`chatcli` alone starts an interactive chat (with piped stdin it answers once, like `ask`); "
        "`chatcli PROMPT` is `chatcli ask PROMPT`. The chat's options work before a sub-command too."
    ),
    epilog=_examples(
        ("chatcli", "start a chat (/help inside)"),
        ('chatcli "Explain SSE in one paragraph"', "ask once"),
        ('git diff | chatcli ask "review this"', "stdin, then the prompt"),
        ("chatcli --base-url http://localhost:8080/v1", "a local server"),
        ("chatcli -p work -m smart", "a profile, a model alias"),
        ("chatcli -c", "continue the last chat"),
        ("chatcli history list", "recorded conversations"),
        ("chatcli config init", "write a starter config"),
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
@with_exit_status
def chat(
    context: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> int | None:
    """Chat interactively; with piped stdin, answer once like `ask`."""
    env = environment(context)
    options = given_options(context)
    if context.invoked_subcommand is not None:
        given = options.given_flags()
        if given and context.invoked_subcommand in ("history", "config", "templates", "mcp"):
            raise UsageError(f"{given[0]} does not apply to `{context.invoked_subcommand}`")
        return None  # the sub-command runs next
    if env.stdin_isatty:
        return _run_repl(env, options)
    from chatcli.cli.ask import run_ask

    return run_ask(env, [], options)


@app.command(
    cls=ChatCommand,
    epilog=_examples(
        ('chatcli ask "hi"', "one answer, streamed"),
        ('cat notes.md | chatcli ask -u "summarise"', "stdin; token counts after"),
        ('chatcli ask -f main.py --json "find the bug"', "a file; JSON out"),
        ('chatcli ask -o chat.json "Capital of France?"', "save the conversation"),
        ('chatcli ask -l chat.json -o chat.json "And Spain?"', "continue it"),
        ('chatcli ask -c "and then?"', "continue the last chat"),
    ),
)
@with_exit_status
def ask(
    context: typer.Context,
    prompt: Annotated[
        list[str] | None,
        typer.Argument(
            help="The prompt; words are joined with spaces.", metavar="PROMPT", show_default=False
        ),
    ] = None,
    file: Annotated[
        list[str] | None,
        typer.Option(
            "-f",
            "--file",
            help="Add a text file, an image (PNG, JPEG, GIF, WebP), a PDF, a folder's text files or a web page (http:// or https:// URL) to the prompt (repeatable).",
            metavar="PATH|URL",
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
    editor: Annotated[
        bool,
        typer.Option(
            "-e",
            "--editor",
            help="Write the prompt in $VISUAL or $EDITOR (piped stdin shows above a marker line).",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = False,
    extract: Annotated[
        bool,
        typer.Option(
            "-x",
            "--extract",
            help="Print only the answer's first fenced code block, without its fences.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    extract_last: Annotated[
        bool,
        typer.Option(
            "--extract-last",
            help="Print only the answer's last fenced code block.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Let -o overwrite an existing file that chatcli did not write.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Ask for JSON following this JSON schema (a file, or JSON text), check it, print it.",
            metavar="FILE|JSON",
            rich_help_panel=OUTPUT_PANEL,
            show_default=False,
        ),
    ] = None,
) -> int:
    """Send one prompt and stream the answer. Piped stdin comes first, then a blank line, then PROMPT."""
    from chatcli.cli.ask import AskOnlyOptions, run_ask

    env = environment(context)
    options = given_options(context)
    block = "last" if extract_last else "first" if extract else None
    extras = AskOnlyOptions(file or [], usage, as_json, block, schema, editor, force)
    return run_ask(env, prompt or [], options, extras)


@app.command(cls=ServerCommand)
@with_exit_status
def models(
    context: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {id, owned_by} objects.")
    ] = False,
) -> int:
    """List the models the endpoint serves (GET /models), one id per line.

    The server options work before `models` too (`chatcli --base-url URL models`)."""
    from chatcli.cli.models import run_models

    env = environment(context)
    return run_models(env, given_options(context), as_json)


def _run_repl(env: Environment, options: ChatOptions) -> int:
    from chatcli.cli import wiring
    from chatcli.cli.ask import input_limits
    from chatcli.cli.completion import known_models
    from chatcli.cli.templates import template_store, with_template
    from chatcli.cli.usage import cost_of
    from chatcli.repl.command_mode import CommandSetup
    from chatcli.repl.commands import use_templates
    from chatcli.repl.context_windows import ContextWindows
    from chatcli.repl.loop import Repl

    store = template_store(env)
    params = {}
    if options.template is not None:
        template = store.load(options.template)
        params[template.name] = dict(options.template_params)
        options = with_template(options, template, template.system_prompt(params[template.name]))
    elif options.template_params:
        raise UsageError("-P gives a template's parameters; use it with -T NAME")
    use_templates(store.load_all(lambda message: report(env, f"warning: {message}")), params)
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    recorder = wiring.new_recorder(env, config)
    opened = wiring.open_conversation(resolved, options, recorder)
    backend = wiring.new_background_backend(env, resolved)
    session = wiring.new_session(resolved, opened.conversation, backend)
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
    windows = ContextWindows(config.configured_window, backend)
    limits = input_limits(config, options)
    repl = Repl(
        session,
        lambda: wiring.new_renderer(env, config),
        env,
        backend_name=config.resolved_backend(),
        save_file=opened.save_file,
        loaded_file=opened.loaded_file,
        recorder=recorder,
        model_aliases=config.aliases,
        limits=limits,
        fetch_page=wiring.page_fetcher(env, resolved, limits),
        reasoning=config.reasoning,
        cost_of=lambda model, usage: cost_of(config, model, usage),
        model_names=lambda: known_models(config, env.dirs),
        tools=tools,
        windows=windows,
        compact_prompt=config.compact_prompt,
        compact_at=config.compact_at,
        command_setup=CommandSetup(config.cmd_system, lambda: wiring.new_recorder(env, config)),
        cost_guard=None if options.yes else config.cost_guard(),
    )

    def start_background_work() -> None:  # while the user types
        backend.start()
        windows.get(session.model)  # asked while the user types, so the first answer can show the gauge
        wiring.preload_renderer(env, config)

    return repl.run(on_ready=start_background_work)


def main() -> None:
    if sys.stderr is None:  # started with stderr closed (`2>&-`): messages go nowhere rather than fail
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
    env = process_environment()
    if (problem := _undecodable_argument(sys.argv[1:])) is not None:
        report(env, f"error: {problem}")
        raise SystemExit(ExitStatus.USAGE)
    try:
        app(prog_name="chatcli", obj=env)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        _exit(_flush_stdout(env, code))
    except OutputError as error:  # --version or --help, written before any command runs
        _exit(failure_status(env, error))


def _exit(code: int) -> NoReturn:
    """End the process. The interpreter's own exit frees every module's objects (pydantic's, Rich's, the HTTP
    stack's), which the user would wait for after the answer is complete. With the output flushed, files closed and no other
    thread running, nothing is left for it to do, so chatcli leaves at once. Another thread still running, or
    MCP tools (whose host stops its servers at exit too), get the normal exit."""
    others = [thread for thread in threading.enumerate() if thread is not threading.main_thread()]
    if "mcp" in sys.modules or any(not thread.daemon for thread in others):
        raise SystemExit(code)
    with contextlib.suppress(OSError, ValueError):  # stderr closed or gone: nothing more can reach it
        sys.stderr.flush()
    if "logging" in sys.modules:  # flush and close any log handler a library opened
        import logging

        logging.shutdown()
    os._exit(code)


def _undecodable_argument(args: list[str]) -> str | None:
    """What is wrong with the first argument that is not UTF-8 (Python kept its bytes as lone surrogates,
    which would reach the server as `?`), or None; refused like invalid UTF-8 on stdin."""
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = os.fsencode(arg)
            try:
                raw.decode("utf-8")
                offset = 0
            except UnicodeDecodeError as error:
                offset = error.start
            return (
                f"command-line argument {number} is not valid UTF-8 (byte offset {offset}); "
                "only UTF-8 text is sent"
            )
    return None


def _flush_stdout(env: Environment, code: int) -> int:
    """Flush stdout before exit, so a reader that left (`| head`) costs exit 141, not a traceback at exit."""
    try:
        if env.stdout is not None:
            env.stdout.flush()
    except BrokenPipeError:
        silence_stdout(env)
        return code or ExitStatus.BROKEN_PIPE
    except OutputError as error:  # what was still buffered: the command's status stands, if it had failed
        if code:
            silence_stdout(env)
            return code
        return failure_status(env, error)
    except (OSError, ValueError):  # stdout closed: nothing more can reach it
        pass
    return code
