"""The options the chat and `ask` share, declared once: they work before the sub-command or after it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from chatcli.cli.settings import profile_names

MODEL_PANEL = "Model and server"
CONVERSATION_PANEL = "Conversation"
INPUT_PANEL = "Input"
OUTPUT_PANEL = "Output"


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
    no_stdin: bool = False

    def over(self, earlier: ChatOptions | None) -> ChatOptions:
        """These options, with those given before the sub-command filling in what these leave unset."""
        if earlier is None:
            return self
        unset = (None, False)
        return replace(
            self,
            **{f.name: getattr(earlier, f.name) for f in fields(self) if getattr(self, f.name) in unset},
        )

    def given(self) -> list[str]:
        """The options that were given, as their long flags."""
        return [
            "--" + f.name.rstrip("_").replace("_", "-")
            for f in fields(self)
            if getattr(self, f.name) not in (None, False)
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
        }


def _option(*names: str, help: str, panel: str, metavar: str | None = None, **extra: Any) -> Any:
    return typer.Option(
        *names, help=help, rich_help_panel=panel, metavar=metavar, show_default=False, **extra
    )


_DECLARATIONS: dict[str, tuple[Any, Any]] = {
    "model": (
        str | None,
        _option(
            "-m", "--model", help="Model id or alias (env: CHATCLI_MODEL).", panel=MODEL_PANEL, metavar="NAME"
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
            help="Longest silence between two chunks of the answer, seconds.",
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
        ),
    ),
    "no_log": (
        bool,
        _option("--no-log", help="Do not record this conversation in the library.", panel=CONVERSATION_PANEL),
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
    "max_input_bytes": (
        int | None,
        _option(
            "--max-input-bytes",
            help="Refuse stdin or an attached file larger than this many bytes (default 8 MiB).",
            panel=INPUT_PANEL,
            metavar="BYTES",
            min=1,
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


def _parameter(name: str) -> inspect.Parameter:
    kind, option = _DECLARATIONS[name]
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
    return _with_options(command, SERVER_OPTIONS)


def _with_options(command: Command, names: tuple[str, ...]) -> Command:
    signature = inspect.signature(command)
    hints = get_type_hints(command, include_extras=True)
    own = [
        parameter.replace(annotation=hints.get(parameter.name, parameter.annotation))
        for parameter in signature.parameters.values()
        if parameter.name != "options"
    ]

    @functools.wraps(command)
    def with_options(*args: Any, **kwargs: Any) -> Any:
        shared = {name: kwargs.pop(name) for name in names}
        return command(*args, options=ChatOptions(**shared), **kwargs)

    parameters = [*own, *(_parameter(name) for name in names)]
    with_options.__signature__ = signature.replace(parameters=parameters, return_annotation=None)  # type: ignore[attr-defined]
    with_options.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return with_options  # type: ignore[return-value]
