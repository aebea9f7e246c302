"""`chatcli config path|show|init|edit`: where the config file lives, the effective settings with their sources,
a commented starter file, and editing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chatcli.cli.completion import backend_names, model_names
from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.lazy_commands import sub_command_app
from chatcli.cli.options import ChatOptions, profile_names
from chatcli.core.errors import ChatError, HistoryError, UsageError
from chatcli.render.sanitize import sanitize

if TYPE_CHECKING:
    from chatcli.cli.settings import Resolved

config_app = sub_command_app("config")
_SECRETS = ("api_key", "api_key_cmd")  # shown as set or not set, never their value


@config_app.command("path", cls=HelpCommand)
@with_exit_status
def path_command(context: typer.Context) -> int:
    """Print the config file's path (it may not exist yet)."""
    env = environment(context)
    echo(env, str(env.dirs.config_file))
    return 0


@config_app.command("show", cls=HelpCommand)
@with_exit_status
def show_command(
    context: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--profile",
            help="Show this profile's settings.",
            autocompletion=profile_names,
            metavar="NAME",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", help="As if given -m.", metavar="NAME", autocompletion=model_names),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option("-b", "--backend", help="As if given -b.", metavar="NAME", autocompletion=backend_names),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="As if given --base-url.", metavar="URL")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("-O", "--option", help="As if given -O KEY VALUE.", metavar="KEY VALUE"),
    ] = None,
) -> int:
    """Print every setting's effective value and where it came from: flag, environment, profile, file or default.

    Keys are never printed, only whether one is set."""
    env = environment(context)
    flags = {
        "profile": profile,
        "model": model,
        "backend": backend,
        "base_url": base_url,
        "options": ChatOptions(option=option).request_options(),
    }
    from chatcli.cli.settings import resolve_config

    echo(env, describe(resolve_config(flags, env.environ, env.dirs.config_file)), end="")
    return 0


STARTER_CONFIG = """\
# chatcli's config file (TOML). Every line is commented out: the defaults apply until you uncomment one.
# Strongest first: command-line flags > environment > profile > this file > defaults.
# `chatcli config show` prints each setting's value and where it came from.

# model = "gpt-4o-mini"              # or an alias from [aliases]; flag -m, env CHATCLI_MODEL
# backend = "auto"                   # auto, openai or echo
# base_url = "https://api.openai.com/v1"
# api_key_cmd = "pass show openai"   # the first line it prints is the key (or set OPENAI_API_KEY)
# system = "Answer briefly."
# temperature = 0.3                  # 0 to 2
# max_tokens = 1024
# timeout = 60                       # longest silence between two chunks of an answer, seconds
# connect_timeout = 10
# first_token_timeout = 300          # local models may think for minutes
# markdown = true                    # unset: Markdown only on a terminal
# code_theme = "monokai"             # a Pygments style: pygmentize -L styles
# stream = true
# log = true                         # record conversations in the library

# [aliases]
# fast = "gpt-4o-mini"
# smart = "gpt-4o"

# [prices]                           # US dollars per million tokens, for ask -u and the chat's toolbar
# "gpt-4o-mini" = { input = 0.15, output = 0.60 }

# [profiles.ollama]                  # chatcli -p ollama
# base_url = "http://localhost:11434/v1"
# model = "llama3.2"
# api_key = ""                       # no key for this server
"""


@config_app.command("init", cls=HelpCommand)
@with_exit_status
def init_command(context: typer.Context) -> int:
    """Write a commented starter config file (private to you); an existing one is never overwritten."""
    env = environment(context)
    path = env.dirs.config_file
    write_starter_config(path)
    echo(env, f"wrote {path}; edit it with: chatcli config edit")
    return 0


def write_starter_config(path: Path) -> None:
    from chatcli.storage.files import write_atomic

    if path.exists():
        raise HistoryError(f"{path} exists; not overwritten (chatcli config edit opens it)")
    try:
        write_atomic(path, STARTER_CONFIG.encode())
    except OSError as error:
        raise HistoryError(f"cannot write {path} ({error.strerror})") from None


@config_app.command("edit", cls=HelpCommand)
@with_exit_status
def edit_command(context: typer.Context) -> int:
    """Open the config file in $VISUAL or $EDITOR (a starter file first if there is none), then check it."""
    env = environment(context)
    import shlex
    import subprocess

    editor = env.environ.get("VISUAL") or env.environ.get("EDITOR")
    if not editor or not editor.strip():
        raise UsageError("no editor set; set VISUAL or EDITOR (e.g. EDITOR=nano)")
    path = env.dirs.config_file
    if not path.exists():
        write_starter_config(path)
    try:
        done = subprocess.run([*shlex.split(editor), str(path)], check=False)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot start the editor {editor!r} ({error}); check VISUAL or EDITOR") from None
    if done.returncode != 0:
        raise ChatError(f"the editor {editor!r} exited with status {done.returncode}")
    from chatcli.cli.settings import read_config_file

    read_config_file(path)  # a mistake is reported now, naming the file and the key
    return 0


def describe(resolved: Resolved) -> str:
    """The `config show` text: the file, the profile, then one `name  value  source` row per setting."""
    found = "" if resolved.file_found else " (not found; defaults apply)"
    lines = [f"config file: {resolved.path}{found}"]
    if resolved.profile is not None:
        lines.append(f"profile: {_quote(resolved.profile)} (from {resolved.profile_source})")
    rows = []
    for name, source in resolved.sources.items():
        value = getattr(resolved.config, name)
        origin = str(source)
        if name == "model" and resolved.alias is not None:
            origin += f", alias {_quote(resolved.alias)}"
        if name in _SECRETS:
            rows.append((name, "set" if value else "not set", origin))
        elif name in ("base_url", "proxy") and value:
            from chatcli.backends.redact import shown_url

            rows.append((name, _quote(shown_url(value)), origin))  # no user:password@ or query (keys)
        else:
            rows.append((name, "not set" if value is None else _quote(value), origin))
    width = max(len(name) for name, _, _ in rows) + 2
    value_width = min(max(len(value) for _, value, _ in rows), 40) + 2
    lines += [f"{name:<{width}}{value:<{value_width}}{origin}".rstrip() for name, value, origin in rows]
    for key, value in resolved.config.options.items():
        lines.append(f"option {_quote(key)} = {_json(value)}  {resolved.option_sources[key]}")
    for alias, target in resolved.config.aliases.items():
        lines.append(f"alias {_quote(alias)} = {_quote(target)}")
    for model_name, price in resolved.config.prices.items():
        lines.append(
            f"price {_quote(model_name)}: ${price.input:g} input, ${price.output:g} output per 1M tokens"
        )
    return "\n".join(lines) + "\n"


def _json(value: Any) -> str:
    """A request option's value as the request body will carry it, control characters made visible."""
    return sanitize(json.dumps(value, ensure_ascii=False))


def _quote(value: Any) -> str:
    """A value as TOML would write it, with control characters made visible."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return sanitize(json.dumps(value, ensure_ascii=False))
    return str(value)
