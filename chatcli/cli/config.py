"""`chatcli config path|show|init|edit`: where the config file lives, the effective settings with their sources,
a commented starter file, and editing it."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import typer

from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import ExitStatus, report, with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.lazy_commands import sub_command_app
from chatcli.cli.options import TakesSharedOptions, given_options
from chatcli.core.errors import ChatError, HistoryError, UsageError
from chatcli.render.sanitize import sanitize

if TYPE_CHECKING:
    from chatcli.cli.settings import Setting
    from chatcli.cli.settings_resolution import Resolved, Source

config_app = sub_command_app("config")


@config_app.command("path", cls=HelpCommand)
@with_exit_status
def path_command(context: typer.Context) -> int:
    """Print the config file's path (it may not exist yet)."""
    env = environment(context)
    echo(env, str(env.dirs.config_file))
    return 0


class ShowCommand(TakesSharedOptions, HelpCommand):
    """`config show` takes the options that change which settings apply, to show their effect."""

    shared: ClassVar[tuple[str, ...]] = ("profile", "model", "backend", "base_url", "request_options")
    helps: ClassVar[Mapping[str, str]] = {
        "profile": "Show this profile's settings.",
        "model": "As if given -m.",
        "backend": "As if given -b.",
        "base_url": "As if given --base-url.",
        "request_options": "As if given -O KEY VALUE.",
    }

    def adapted_option(self, param: Any) -> Any:
        changed = copy.copy(super().adapted_option(param))  # the shared declaration stays as it is
        changed.rich_help_panel = None  # its few options: no panels
        return changed


@config_app.command("show", cls=ShowCommand)
@with_exit_status
def show_command(context: typer.Context) -> int:
    """Print every setting's effective value and where it came from: flag, environment, profile, file or default.

    Keys are never printed, only whether one is set."""
    from chatcli.cli.settings_resolution import resolve_config

    env = environment(context)
    flags = given_options(context).settings_flags()
    echo(env, describe(resolve_config(flags, env.environ, env.dirs.config_file)), end="")
    return 0


STARTER_HEADER = """\
# chatcli's config file (TOML). Every line is commented out: the defaults apply until you uncomment one.
# Strongest first: command-line flags > environment > profile > this file > defaults.
# Each setting shows its default (or, when it has none, an example); `chatcli config show` prints each
# setting's value and where it came from.
"""
STARTER_TABLES = """\
# [aliases]                          # -m fast, -m smart
# fast = "gpt-4o-mini"
# smart = "gpt-4o"

# [prices]                           # US dollars per million tokens, for ask -u and the chat's toolbar
# "gpt-4o-mini" = { input = 0.15, output = 0.60 }
# "claude-sonnet-4-5" = { input = 3, output = 15, cache_read = 0.30, cache_write = 3.75 }

# [context_windows]                  # tokens, for models whose server does not say (the gauge, ask -u)
# "llama3.1:8b" = 8192

# [options]                          # request-body keys sent with every request (-O KEY VALUE adds one)
# top_p = 0.9

# [templates.review]                 # chatcli ask -T review, or /review in a chat
# description = "review code"
# system = "You review {language} code."
# prompt = "Review this:\\n\\n{input}"
# defaults = { language = "Python" }

# [mcp.notes]                        # an MCP server whose tools --tools notes offers
# command = "notes-server"           # a stdio server (or url = "https://…" for a streamable HTTP one)
# args = ["--dir", "notes"]
# env = { NOTES_TOKEN_cmd = "pass show notes" }
# auto_approve = ["search"]          # tools that run without asking
"""
PROFILE_EXAMPLE = """\
# [profiles.ollama]                  # chatcli -p ollama: any setting, over the ones above
# backend = "ollama"                 # Ollama's own API at http://localhost:11434 (base_url to change it)
# model = "llama3.2"
# context_window = 32768             # sent as num_ctx: Ollama loads the model with that context
"""


def starter_config() -> str:
    """The file `config init` writes: every setting commented out, with its default (or an example) and what it
    means, then an example of each table. Uncommented as a whole, it loads."""
    from chatcli.cli.settings import settings

    declared = settings()
    top = [_starter_line(name, setting) for name, setting in declared.items() if setting.excludes is None]
    in_profile = [_starter_line(name, setting) for name, setting in declared.items() if setting.excludes]
    return "\n".join(
        [STARTER_HEADER, *top, "", STARTER_TABLES, PROFILE_EXAMPLE + "\n".join(in_profile) + "\n"]
    )


def _starter_line(name: str, setting: Setting) -> str:
    from chatcli.cli.settings import default_of

    default = default_of(name)
    value = setting.example if default is None else default
    notes = [setting.description]
    notes += [f"flag {setting.flag}"] if setting.flag else []
    notes += [f"env {setting.environment}"] if setting.environment else []
    notes += [f"unset: {setting.unset}"] if default is None else []
    if setting.excludes:
        notes.append(f"or {setting.excludes}, not both in one place")
    return f"{f'# {name} = {_quote(value)}':<36} # {'; '.join(notes)}"


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
        write_atomic(path, starter_config().encode())
    except OSError as error:
        raise HistoryError(f"cannot write {path} ({error.strerror})") from None


@config_app.command("edit", cls=HelpCommand)
@with_exit_status
def edit_command(context: typer.Context) -> int:
    """Open the config file in $VISUAL or $EDITOR (a starter file first if there is none), then check it; on a
    terminal a file that does not pass is offered to the editor again."""
    env = environment(context)
    editor = env.environ.get("VISUAL") or env.environ.get("EDITOR")
    if not editor or not editor.strip():
        raise UsageError("no editor set; set VISUAL or EDITOR (e.g. EDITOR=nano)")
    path = env.dirs.config_file
    if not path.exists():
        write_starter_config(path)
    from chatcli.cli.config_file import read_config_file

    while True:
        _edit(editor, path)
        try:
            read_config_file(path)  # a mistake is reported now, naming the file and the key
        except UsageError as error:
            if not env.stdin_isatty:
                raise
            report(env, f"error: {error}")
            if not typer.confirm("open it again to fix it?", default=True, err=True):
                return ExitStatus.USAGE
            continue
        echo(env, "saved; checks passed")
        return 0


def _edit(editor: str, path: Path) -> None:
    """Run the editor on `path` and wait for it."""
    import shlex
    import subprocess

    try:
        done = subprocess.run([*shlex.split(editor), str(path)], check=False)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot start the editor {editor!r} ({error}); check VISUAL or EDITOR") from None
    if done.returncode != 0:
        raise ChatError(f"the editor {editor!r} exited with status {done.returncode}")


def describe(resolved: Resolved) -> str:
    """The `config show` text: the file, the profile, then one `name  value  source` row per setting."""
    found = "" if resolved.file_found else " (not found; defaults apply)"
    lines = [f"config file: {resolved.path}{found}"]
    if resolved.profile is not None:
        lines.append(f"profile: {_quote(resolved.profile)} (from {resolved.profile_source})")
    rows = [_row(resolved, name, source) for name, source in resolved.sources.items()]
    width = max(len(name) for name, _, _ in rows) + 2
    value_width = min(max(len(value) for _, value, _ in rows), 40)  # a longer value still leaves a gap
    lines += [f"{name:<{width}}{value:<{value_width}}  {origin}".rstrip() for name, value, origin in rows]
    for key, value in resolved.config.options.items():
        lines.append(f"option {_quote(key)} = {_json(value)}  {resolved.option_sources[key]}")
    for alias, target in resolved.config.aliases.items():
        lines.append(f"alias {_quote(alias)} = {_quote(target)}")
    for model_name, price in resolved.config.prices.items():
        cached = "".join(
            f", ${dollars:g} {label}"
            for dollars, label in ((price.cache_read, "cache read"), (price.cache_write, "cache write"))
            if dollars is not None
        )
        lines.append(
            f"price {_quote(model_name)}: ${price.input:g} input, ${price.output:g} output{cached} per 1M tokens"
        )
    for model_name, tokens in resolved.config.context_windows.items():
        lines.append(f"context window {_quote(model_name)}: {tokens} tokens")
    return "\n".join(lines) + "\n"


def _row(resolved: Resolved, name: str, source: Source) -> tuple[str, str, str]:
    """One setting: its name, its value as TOML would write it (a secret only as set or not, a URL without
    user:password@ or query, which may hold keys) and where it came from."""
    from chatcli.cli.settings import http_url, settings

    declared, value = settings()[name], getattr(resolved.config, name)
    origin = str(source)
    if name == "model" and resolved.alias is not None:
        origin += f", alias {_quote(resolved.alias)}"
    if declared.secret:
        return name, "set" if value else "not set", origin
    if value is None:
        return name, declared.unset, origin
    if declared.check is http_url and value:
        from chatcli.backends.redact import shown_url

        value = shown_url(value)
    return name, _quote(value), origin


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
