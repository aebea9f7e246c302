"""The options the chat and `ask` share, declared once: each field of `DeclaredOptions` is one option (its
annotation is its Typer declaration), and `-O`/`-P` (KEY VALUE, repeatable) are read into dicts where the command
line is parsed. They work before the sub-command or after it."""

# No `from __future__ import annotations`: Typer reads the fields' annotations as objects.

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer
import typer.main

from chatcli.cli.completion import backend_names, conversation_ids, model_names
from chatcli.cli.help_format import HelpCommand
from chatcli.core.errors import UsageError

MODEL_PANEL = "Model and server"
CONVERSATION_PANEL = "Conversation"
INPUT_PANEL = "Input"
OUTPUT_PANEL = "Output"
TOOLS_PANEL = "Tools"
STDIO = Path("-")  # `-` for a file: stdin to read from, stdout to write to


def expand_user(path: Any) -> Any:
    """A path option's value with a leading `~` expanded, as a shell would have (`-o '~/chat.json'`);
    a list of paths element by element; None and `-` unchanged."""
    if isinstance(path, list):
        return [expand_user(item) for item in path]
    return path.expanduser() if isinstance(path, Path) else path


def profile_names(prefix: str = "") -> list[str]:
    """Shell completion after -p (the settings load only when Tab is pressed)."""
    from chatcli.cli.settings_resolution import profile_names as defined_profiles

    return defined_profiles(prefix)


def template_names(prefix: str = "") -> list[str]:
    """The templates starting with `prefix`, for shell completion after -T; none when the config is unusable."""
    from chatcli.cli.config_file import read_config_file
    from chatcli.storage.paths import platform_dirs
    from chatcli.storage.templates import TemplateStore

    dirs = platform_dirs()
    try:
        tables = read_config_file(dirs.config_file)[0].get("templates", {})
    except UsageError:
        tables = {}
    store = TemplateStore(dirs.config / "templates", tables, dirs.config_file)
    return [name for name in store.names() if name.startswith(prefix)]


def _option(*names: str, help: str, panel: str, metavar: str | None = None, **extra: Any) -> Any:
    return typer.Option(
        *names, help=help, rich_help_panel=panel, metavar=metavar, show_default=False, **extra
    )


@dataclass(frozen=True, slots=True)
class DeclaredOptions:
    """The shared options Typer parses. None (or False) means "not given", so the environment and defaults
    apply."""

    model: Annotated[
        str | None,
        _option(
            "-m",
            "--model",
            help="Model id or alias (env: CHATCLI_MODEL).",
            panel=MODEL_PANEL,
            metavar="NAME",
            autocompletion=model_names,
        ),
    ] = None
    profile: Annotated[
        str | None,
        _option(
            "-p",
            "--profile",
            help="Use the settings of the config file's profile NAME (env: CHATCLI_PROFILE).",
            panel=MODEL_PANEL,
            metavar="NAME",
            autocompletion=profile_names,
        ),
    ] = None
    backend: Annotated[
        str | None,
        _option(
            "-b",
            "--backend",
            help="auto, openai or echo (auto: openai once a key or base URL is set).",
            panel=MODEL_PANEL,
            metavar="NAME",
            autocompletion=backend_names,
        ),
    ] = None
    base_url: Annotated[
        str | None,
        _option(
            "--base-url",
            help="OpenAI-compatible endpoint, ending in /v1 (env: OPENAI_BASE_URL).",
            panel=MODEL_PANEL,
            metavar="URL",
        ),
    ] = None
    system: Annotated[
        str | None, _option("-s", "--system", help="System prompt.", panel=MODEL_PANEL, metavar="TEXT")
    ] = None
    temperature: Annotated[
        float | None,
        _option("-t", "--temperature", help="Sampling temperature, 0 to 2.", panel=MODEL_PANEL, metavar="T"),
    ] = None
    max_tokens: Annotated[
        int | None, _option("--max-tokens", help="Longest answer, in tokens.", panel=MODEL_PANEL, metavar="N")
    ] = None
    timeout: Annotated[
        float | None,
        _option(
            "--timeout",
            help="Longest silence between two chunks of a started answer, seconds (default 60).",
            panel=MODEL_PANEL,
            metavar="SECONDS",
        ),
    ] = None
    load: Annotated[
        Path | None,
        _option(
            "-l",
            "--load",
            help="Start from a saved conversation file.",
            panel=CONVERSATION_PANEL,
            metavar="FILE",
            callback=expand_user,
        ),
    ] = None
    save: Annotated[
        Path | None,
        _option(
            "-o",
            "--save",
            help="Save the conversation to FILE after every turn.",
            panel=CONVERSATION_PANEL,
            metavar="FILE",
            callback=expand_user,
        ),
    ] = None
    continue_: Annotated[
        bool,
        _option(
            "-c",
            "--continue",
            help="Continue the most recent conversation in the library.",
            panel=CONVERSATION_PANEL,
        ),
    ] = False
    cid: Annotated[
        str | None,
        _option(
            "--cid",
            help="Continue the library conversation with this name or id (a unique prefix will do).",
            panel=CONVERSATION_PANEL,
            metavar="ID",
            autocompletion=conversation_ids,
        ),
    ] = None
    name: Annotated[
        str | None,
        _option(
            "--name",
            help="Name the new conversation in the library (unique; not hex digits only): --cid NAME resumes it.",
            panel=CONVERSATION_PANEL,
            metavar="NAME",
        ),
    ] = None
    no_log: Annotated[
        bool,
        _option("--no-log", help="Do not record this conversation in the library.", panel=CONVERSATION_PANEL),
    ] = False
    max_input_bytes: Annotated[
        int | None,
        _option(
            "--max-input-bytes",
            help="Refuse piped stdin, or any -f file, larger than this (default 8 MiB); nothing is sent.",
            panel=INPUT_PANEL,
            metavar="BYTES",
            min=1,
        ),
    ] = None
    no_stream: Annotated[
        bool,
        _option("--no-stream", help="Wait for the whole answer instead of streaming it.", panel=OUTPUT_PANEL),
    ] = False
    markdown: Annotated[
        bool | None,
        _option(
            "--markdown/--plain",
            help="Force Markdown or raw text (default: Markdown on a terminal).",
            panel=OUTPUT_PANEL,
        ),
    ] = None
    reasoning: Annotated[
        str | None,
        _option(
            "--reasoning",
            help="What a terminal shows of the model's reasoning: show, hide or summary (default).",
            panel=OUTPUT_PANEL,
            metavar="MODE",
        ),
    ] = None
    show_reasoning: Annotated[
        bool,
        _option(
            "-R",
            "--show-reasoning",
            help="Show the reasoning as it streams (--reasoning show).",
            panel=OUTPUT_PANEL,
        ),
    ] = False
    template: Annotated[
        str | None,
        _option(
            "-T",
            "--template",
            help="Use the template NAME: its system prompt, prompt, model and options (chatcli templates list).",
            panel=INPUT_PANEL,
            metavar="NAME",
            autocompletion=template_names,
        ),
    ] = None
    image_detail: Annotated[
        str | None,
        _option(
            "--image-detail",
            help="Detail the model looks at attached images in: low, high or auto (default: the server's).",
            panel=INPUT_PANEL,
            metavar="LEVEL",
        ),
    ] = None
    tools: Annotated[
        str | None,
        _option(
            "--tools",
            help="Offer the tools of these \\[mcp.NAME] servers to the model; each call asks first.",
            panel=TOOLS_PANEL,
            metavar="NAME[,NAME…]",
        ),
    ] = None
    yes_tools: Annotated[
        str | None,
        _option(
            "--yes-tools",
            help="Run these tools (server__tool, exact names) without asking.",
            panel=TOOLS_PANEL,
            metavar="TOOL[,TOOL…]",
        ),
    ] = None
    no_stdin: Annotated[
        bool,
        _option(
            "--no-stdin",
            help="Do not read stdin, even when it is piped (scripts, loops); a lone - in the prompt reads it there.",
            panel=INPUT_PANEL,
        ),
    ] = False
    yes: Annotated[
        bool,
        _option(
            "--yes",
            help="Send a prompt past confirm_above_tokens or confirm_above_cost without asking.",
            panel=INPUT_PANEL,
        ),
    ] = False


@dataclass(frozen=True, slots=True)
class ChatOptions(DeclaredOptions):
    """The shared options as given: the declared ones, and -O's and -P's pairs as dicts."""

    request_options: Mapping[str, Any] = field(default_factory=dict)  # -O: each value JSON when it is JSON
    template_params: Mapping[str, str] = field(default_factory=dict)  # -P: each value text

    def filled_from(self, earlier: "ChatOptions | None") -> "ChatOptions":
        """These options, with those given before the sub-command (`earlier`) filling in what these leave unset."""
        if earlier is None:
            return self
        unset = {f.name: getattr(earlier, f.name) for f in fields(self) if not self._given(f.name, f.default)}
        return replace(self, **unset)

    def given_flags(self) -> list[str]:
        """The options that were given, as their long flags."""
        return [long_flag(f.name) for f in fields(self) if self._given(f.name, f.default)]

    def _given(self, name: str, default: Any) -> bool:
        value = getattr(self, name)
        return bool(value) if isinstance(value, Mapping) else value != default

    def settings_flags(self) -> dict[str, Any]:
        """The values that override config settings (None: not given)."""
        return {
            "profile": self.profile,
            "model": self.model,
            "backend": self.backend,
            "base_url": self.base_url,
            "system": self.system,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": False if self.no_stream else None,
            "markdown": self.markdown,
            "timeout": self.timeout,
            "log": False if self.no_log else None,
            "reasoning": "show" if self.show_reasoning else self.reasoning,
            "options": dict(self.request_options) or None,
            "tools": self.tools,
        }


def _key_value_declarations(
    request_options: Annotated[
        list[str] | None,
        _option(
            "-O",
            "--option",
            help="Add KEY with VALUE (JSON if it parses, else text) to the request body (repeatable): "
            "-O top_p 0.9 -O seed 7.",
            panel=MODEL_PANEL,
            metavar="KEY VALUE",
        ),
    ] = None,
    template_params: Annotated[
        list[str] | None,
        _option(
            "-P",
            "--param",
            help="Give the template's parameter KEY the value VALUE (repeatable).",
            panel=INPUT_PANEL,
            metavar="KEY VALUE",
        ),
    ] = None,
) -> None:
    """-O and -P as --help lists them. Typer has no option that takes two values, repeatedly, so
    `take_key_values` reads each KEY VALUE off the command line before it is parsed; a KEY left without a
    VALUE is all that can reach these."""


def _parse_request_option(text: str) -> Any:
    from chatcli.core.request_options import parse_option_value

    return parse_option_value(text)


KEY_VALUE_PARSERS: dict[str, Callable[[str], Any]] = {
    "request_options": _parse_request_option,
    "template_params": str,
}
_LISTED_AFTER = {"request_options": "timeout", "template_params": "template"}  # where --help lists them


@functools.cache
def declared_parameters() -> dict[str, Any]:
    """Every shared option as Typer makes it from its declaration, by the ChatOptions field it fills, in --help's
    order. `typer.main.get_command` is Typer's public way to turn declarations into command-line parameters;
    commands then list these among their own (`TakesSharedOptions`)."""
    declared, key_value_declarations = typer.Typer(add_completion=False), typer.Typer(add_completion=False)
    declared.command()(DeclaredOptions)
    key_value_declarations.command()(_key_value_declarations)
    key_values = {param.name: param for param in typer.main.get_command(key_value_declarations).params}
    ordered = {}
    for param in typer.main.get_command(declared).params:
        ordered[param.name] = param
        ordered |= {name: key_values[name] for name, after in _LISTED_AFTER.items() if after == param.name}
    return ordered | key_values  # any not placed: last


def long_flag(name: str) -> str:
    """The longest flag of the shared option `name`: --continue for continue_."""
    return max(declared_parameters()[name].opts, key=len)  # type: ignore[no-any-return]


def take_key_values(
    args: list[str], params: list[Any], stop_at_argument: bool
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The command line without its KEY VALUE options (-O, -P), and their pairs as dicts by ChatOptions field
    (a later KEY wins), each VALUE read by its parser. Nothing after `--` is taken; with `stop_at_argument` (a
    group's own options) nothing from the first word that is no option's value on (the sub-command)."""
    by_flag = {
        flag: param
        for param in params
        if param.param_type_name == "option"
        for flag in (*param.opts, *param.secondary_opts)
    }
    rest: list[str] = []
    found: dict[str, dict[str, Any]] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        param = by_flag.get(arg)
        if arg == "--" or (stop_at_argument and not arg.startswith("-")):
            break
        if param is not None and param.name in KEY_VALUE_PARSERS and index + 2 < len(args):
            key, value = args[index + 1].strip(), args[index + 2]
            if not key:
                raise UsageError(f"{arg} takes a KEY and a VALUE: {arg} top_p 0.9")
            found.setdefault(param.name, {})[key] = KEY_VALUE_PARSERS[param.name](value)
            index += 3
            continue
        taken = 1 if param is None or param.is_flag or param.count or "=" in arg else 2
        rest += args[index : index + taken]
        index += taken
    return rest + args[index:], found


def first_argument(args: list[str], params: list[Any]) -> int:
    """The index in `args` of the first word that is no option nor an option's value (len(args) when none is);
    `params` are the command's, to know which options take values."""
    by_flag = {flag: param for param in params for flag in (*param.opts, *param.secondary_opts)}
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] not in ("-", "--"):
        param = by_flag.get(args[index])
        if param is None or param.is_flag or param.count or "=" in args[index]:
            index += 1
        else:
            index += 3 if param.name in KEY_VALUE_PARSERS else 2
    return index


# Each command's options are kept in ctx.meta (shared by the nested contexts) under this prefix and its path.
_GIVEN = "chatcli.options:"
_PROBLEM = "chatcli.options.problem"  # a KEY VALUE option given wrong


class TakesSharedOptions:
    """A command (or group) that takes the shared options `shared` (all by default), `helps` replacing the help
    of some. Its function reads them with `given_options(context)`."""

    shared: ClassVar[tuple[str, ...]] = ()
    helps: ClassVar[Mapping[str, str]] = {}
    stop_at_argument: ClassVar[bool] = False  # a group: its options end where the sub-command starts
    params: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared = declared_parameters()
        names = self.shared or tuple(declared)
        self.params[:0] = [
            self.adapted_option(declared[name]) for name in names
        ]  # first: their help panels lead

    def adapted_option(self, param: Any) -> Any:
        """The shared option as this command lists it: with the help `helps` gives it, if any."""
        if param.name not in self.helps:
            return param
        changed = copy.copy(param)
        changed.help = self.helps[param.name]
        return changed

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            rest, found = take_key_values(args, self.get_params(ctx), self.stop_at_argument)  # type: ignore[attr-defined]
        except UsageError as error:
            ctx.meta[_PROBLEM] = error  # said in one line when the command runs (a completion never runs it)
            rest, found = args, {}
        remaining: list[str] = super().parse_args(ctx, rest)  # type: ignore[misc]
        for name in KEY_VALUE_PARSERS:
            if ctx.params.get(name):  # a KEY without a VALUE
                flag = long_flag(name)
                ctx.meta.setdefault(_PROBLEM, UsageError(f"{flag} takes a KEY and a VALUE: {flag} top_p 0.9"))
            if name in ctx.params:
                ctx.params[name] = found.get(name, {})
        return remaining

    def invoke(self, ctx: Any) -> Any:
        if (problem := ctx.meta.get(_PROBLEM)) is not None:
            from chatcli.cli.context import environment
            from chatcli.cli.exit_status import failure_status

            raise typer.Exit(failure_status(environment(ctx), problem))
        names = self.shared or tuple(declared_parameters())
        ctx.meta[_GIVEN + ctx.command_path] = ChatOptions(**{name: ctx.params.pop(name) for name in names})
        return super().invoke(ctx)  # type: ignore[misc]


def given_options(context: typer.Context) -> ChatOptions:
    """The shared options given to this command, those given before the sub-command filling in what these leave
    unset (the later wins)."""
    own: ChatOptions = context.meta[_GIVEN + context.command_path]
    root = context.find_root()
    return own if root is context else own.filled_from(context.meta.get(_GIVEN + root.command_path))


class ChatCommand(TakesSharedOptions, HelpCommand):
    """A sub-command taking every shared option (`ask`)."""


SERVER_OPTIONS = ("profile", "backend", "base_url", "timeout")  # what `models` takes


class ServerCommand(TakesSharedOptions, HelpCommand):
    """A sub-command taking the options that choose the server (`models`)."""

    shared: ClassVar[tuple[str, ...]] = SERVER_OPTIONS
    helps: ClassVar[Mapping[str, str]] = {
        "timeout": "Longest wait for the server's reply once connected, seconds (default 60)."
    }
