"""The options the chat and `ask` share, declared once: they work before the sub-command or after it."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from chatcli.cli.completion import backend_names, conversation_ids, model_names
from chatcli.core.errors import UsageError

MODEL_PANEL = "Model and server"
CONVERSATION_PANEL = "Conversation"
INPUT_PANEL = "Input"
OUTPUT_PANEL = "Output"
TOOLS_PANEL = "Tools"


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """The shared options as given; None (or False) means "not given", so the environment and defaults apply."""

    model: str | None = None
    profile: str | None = None
    backend: str | None = None
    base_url: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    load: Path | None = None
    save: Path | None = None
    continue_: bool = False
    cid: str | None = None
    no_log: bool = False
    no_stream: bool = False
    markdown: bool | None = None
    max_input_bytes: int | None = None
    image_detail: str | None = None
    option: list[str] | None = None  # -O KEY VALUE, in the order given, each as KEY + PAIR + VALUE
    reasoning: str | None = None
    show_reasoning: bool = False  # -R: --reasoning show
    template: str | None = None
    param: list[str] | None = None  # -P KEY VALUE: the template's parameters, as -O
    tools: str | None = None
    yes_tools: str | None = None
    no_stdin: bool = False

    def over(self, earlier: ChatOptions | None) -> ChatOptions:
        """These options, with those given before the sub-command filling in what these leave unset."""
        if earlier is None:
            return self
        unset = {f.name: getattr(earlier, f.name) for f in fields(self) if getattr(self, f.name) == f.default}
        return replace(self, **unset)

    def given(self) -> list[str]:
        """The options that were given, as their long flags."""
        return [
            "--" + f.name.rstrip("_").replace("_", "-")
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]

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
            "options": self.request_options(),
            "tools": self.tools,
        }

    def request_options(self) -> dict[str, Any] | None:
        """-O's keys and values, each value parsed as JSON when it is JSON (None: no -O given)."""
        from chatcli.core.request_options import parse_option_value

        if not self.option:
            return None
        return {key: parse_option_value(value) for key, value in pairs(self.option, "-O")}

    def template_params(self) -> dict[str, str]:
        """-P's keys and values, as text."""
        return dict(pairs(self.param or [], "-P"))


# Options that take two values (KEY VALUE). Typer has no repeatable two-value option, so `join_pairs` turns
# each `-O KEY VALUE` on the command line into `-O KEY<NUL>VALUE` first: no argument can contain a NUL byte.
PAIR = "\0"
PAIR_OPTIONS = frozenset({"-O", "--option", "-P", "--param"})


def join_pairs(args: list[str]) -> list[str]:
    """The command line with each pair option's two values joined into one (up to `--`)."""
    joined: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return joined + args[index:]
        if arg in PAIR_OPTIONS and index + 2 < len(args):
            joined += [arg, args[index + 1] + PAIR + args[index + 2]]
            index += 3
            continue
        joined.append(arg)
        index += 1
    return joined


def pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    """The (KEY, VALUE) pairs of a pair option, checked."""
    result = []
    for value in values:
        key, separator, text = value.partition(PAIR)
        if not separator or not key.strip():
            raise UsageError(f"{flag} takes a KEY and a VALUE: {flag} top_p 0.9")
        result.append((key.strip(), text))
    return result


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


STDIO = Path("-")  # `-` for a file: stdin to read from, stdout to write to


def expand_user(path: Any) -> Any:
    """A path option's value with a leading `~` expanded, as a shell would have (`-o '~/chat.json'`);
    a list of paths element by element; None and `-` unchanged."""
    if isinstance(path, list):
        return [expand_user(item) for item in path]
    return path.expanduser() if isinstance(path, Path) else path


def profile_names(prefix: str = "") -> list[str]:
    """Shell completion after -p (the settings module loads only when Tab is pressed)."""
    from chatcli.cli.settings_resolution import profile_names as defined_profiles

    return defined_profiles(prefix)


def _option(*names: str, help: str, panel: str, metavar: str | None = None, **extra: Any) -> Any:
    return typer.Option(
        *names, help=help, rich_help_panel=panel, metavar=metavar, show_default=False, **extra
    )


_DECLARATIONS: dict[str, tuple[Any, Any]] = {
    "model": (
        str | None,
        _option(
            "-m",
            "--model",
            help="Model id or alias (env: CHATCLI_MODEL).",
            panel=MODEL_PANEL,
            metavar="NAME",
            autocompletion=model_names,
        ),
    ),
    "profile": (
        str | None,
        _option(
            "-p",
            "--profile",
            help="Use the settings of the config file's profile NAME (env: CHATCLI_PROFILE).",
            panel=MODEL_PANEL,
            metavar="NAME",
            autocompletion=profile_names,
        ),
    ),
    "backend": (
        str | None,
        _option(
            "-b",
            "--backend",
            help="auto, openai or echo (auto: openai once a key or base URL is set).",
            panel=MODEL_PANEL,
            metavar="NAME",
            autocompletion=backend_names,
        ),
    ),
    "base_url": (
        str | None,
        _option(
            "--base-url",
            help="OpenAI-compatible endpoint, ending in /v1 (env: OPENAI_BASE_URL).",
            panel=MODEL_PANEL,
            metavar="URL",
        ),
    ),
    "system": (
        str | None,
        _option("-s", "--system", help="System prompt.", panel=MODEL_PANEL, metavar="TEXT"),
    ),
    "temperature": (
        float | None,
        _option("-t", "--temperature", help="Sampling temperature, 0 to 2.", panel=MODEL_PANEL, metavar="T"),
    ),
    "max_tokens": (
        int | None,
        _option("--max-tokens", help="Longest answer, in tokens.", panel=MODEL_PANEL, metavar="N"),
    ),
    "timeout": (
        float | None,
        _option(
            "--timeout",
            help="Longest silence between two chunks of a started answer, seconds (default 60).",
            panel=MODEL_PANEL,
            metavar="SECONDS",
        ),
    ),
    "load": (
        Path | None,
        _option(
            "-l",
            "--load",
            help="Start from a saved conversation file.",
            panel=CONVERSATION_PANEL,
            metavar="FILE",
            callback=expand_user,
        ),
    ),
    "save": (
        Path | None,
        _option(
            "-o",
            "--save",
            help="Save the conversation to FILE after every turn.",
            panel=CONVERSATION_PANEL,
            metavar="FILE",
            callback=expand_user,
        ),
    ),
    "continue_": (
        bool,
        _option(
            "-c",
            "--continue",
            help="Continue the most recent conversation in the library.",
            panel=CONVERSATION_PANEL,
        ),
    ),
    "cid": (
        str | None,
        _option(
            "--cid",
            help="Continue the library conversation with this id (a unique prefix will do).",
            panel=CONVERSATION_PANEL,
            metavar="ID",
            autocompletion=conversation_ids,
        ),
    ),
    "no_log": (
        bool,
        _option("--no-log", help="Do not record this conversation in the library.", panel=CONVERSATION_PANEL),
    ),
    "max_input_bytes": (
        int | None,
        _option(
            "--max-input-bytes",
            help="Refuse piped stdin, or any -f file, larger than this (default 8 MiB); nothing is sent.",
            panel=INPUT_PANEL,
            metavar="BYTES",
            min=1,
        ),
    ),
    "no_stream": (
        bool,
        _option("--no-stream", help="Wait for the whole answer instead of streaming it.", panel=OUTPUT_PANEL),
    ),
    "markdown": (
        bool | None,
        _option(
            "--markdown/--plain",
            help="Force Markdown or raw text (default: Markdown on a terminal).",
            panel=OUTPUT_PANEL,
        ),
    ),
    "option": (
        list[str] | None,
        _option(
            "-O",
            "--option",
            help="Add KEY with VALUE (JSON if it parses, else text) to the request body (repeatable): "
            "-O top_p 0.9 -O seed 7.",
            panel=MODEL_PANEL,
            metavar="KEY VALUE",
        ),
    ),
    "reasoning": (
        str | None,
        _option(
            "--reasoning",
            help="What a terminal shows of the model's reasoning: show, hide or summary (default).",
            panel=OUTPUT_PANEL,
            metavar="MODE",
        ),
    ),
    "show_reasoning": (
        bool,
        _option(
            "-R",
            "--show-reasoning",
            help="Show the reasoning as it streams (--reasoning show).",
            panel=OUTPUT_PANEL,
        ),
    ),
    "template": (
        str | None,
        _option(
            "-T",
            "--template",
            help="Use the template NAME: its system prompt, prompt, model and options (chatcli templates list).",
            panel=INPUT_PANEL,
            metavar="NAME",
            autocompletion=template_names,
        ),
    ),
    "param": (
        list[str] | None,
        _option(
            "-P",
            "--param",
            help="Give the template's parameter KEY the value VALUE (repeatable).",
            panel=INPUT_PANEL,
            metavar="KEY VALUE",
        ),
    ),
    "image_detail": (
        str | None,
        _option(
            "--image-detail",
            help="Detail the model looks at attached images in: low, high or auto (default: the server's).",
            panel=INPUT_PANEL,
            metavar="LEVEL",
        ),
    ),
    "tools": (
        str | None,
        _option(
            "--tools",
            help="Offer the tools of these \\[mcp.NAME] servers to the model; each call asks first.",
            panel=TOOLS_PANEL,
            metavar="NAME[,NAME…]",
        ),
    ),
    "yes_tools": (
        str | None,
        _option(
            "--yes-tools",
            help="Run these tools (server__tool, exact names) without asking.",
            panel=TOOLS_PANEL,
            metavar="TOOL[,TOOL…]",
        ),
    ),
    "no_stdin": (
        bool,
        _option(
            "--no-stdin",
            help="Do not read stdin, even when it is piped (scripts, loops); a lone - in the prompt reads it there.",
            panel=INPUT_PANEL,
        ),
    ),
}


def _parameter(name: str, help: str | None = None) -> inspect.Parameter:
    """The shared option `name` as a keyword parameter; `help` replaces its help text for one command."""
    kind, option = _DECLARATIONS[name]
    if help is not None:
        option = copy.copy(option)
        option.help = help
    default = False if kind is bool else None
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, option]
    )


SERVER_OPTIONS = ("profile", "backend", "base_url", "timeout")  # what `models` takes

Command = TypeVar("Command", bound=Callable[..., Any])


def with_chat_options(command: Command) -> Command:
    """Give a Typer command the shared options; it receives them as one `options: ChatOptions` argument."""
    return _with_options(command, tuple(_DECLARATIONS))


def with_server_options(command: Command) -> Command:
    """Give a Typer command the options that choose the server (SERVER_OPTIONS), as `options: ChatOptions`."""
    return _with_options(command, SERVER_OPTIONS, {"timeout": _SERVER_TIMEOUT_HELP})


_SERVER_TIMEOUT_HELP = "Longest wait for the server's reply once connected, seconds (default 60)."


def _with_options(command: Command, names: tuple[str, ...], helps: dict[str, str] | None = None) -> Command:
    signature = inspect.signature(command)
    hints = get_type_hints(command, include_extras=True)
    own = [  # keyword-only, so the shared options can come first: their help panels lead
        parameter.replace(
            annotation=hints.get(parameter.name, parameter.annotation), kind=inspect.Parameter.KEYWORD_ONLY
        )
        for parameter in signature.parameters.values()
        if parameter.name != "options"
    ]

    @functools.wraps(command)
    def with_options(*args: Any, **kwargs: Any) -> Any:
        shared = {name: kwargs.pop(name) for name in names}
        return command(*args, options=ChatOptions(**shared), **kwargs)

    parameters = [*(_parameter(name, (helps or {}).get(name)) for name in names), *own]
    with_options.__signature__ = signature.replace(parameters=parameters, return_annotation=None)  # type: ignore[attr-defined]
    with_options.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return with_options  # type: ignore[return-value]
