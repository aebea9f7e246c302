"""`chatcli config path|show`: where the config file lives and the effective settings with their sources."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from chatcli.backends.redact import shown_url
from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import exit_with
from chatcli.cli.settings import Resolved, profile_names, resolve_config
from chatcli.render.sanitize import sanitize

config_app = typer.Typer(
    help="Show where the config file is and the settings in effect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_SECRETS = ("api_key", "api_key_cmd")  # shown as set or not set, never their value


@config_app.command("path")
def path_command(context: typer.Context) -> None:
    """Print the config file's path (it may not exist yet)."""
    env = environment(context)

    def action() -> int:
        echo(env, str(env.dirs.config_file))
        return 0

    exit_with(env, action)


@config_app.command("show")
def show_command(
    context: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option("-p", "--profile", help="Show this profile's settings.", autocompletion=profile_names),
    ] = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="As if given -m.")] = None,
    backend: Annotated[str | None, typer.Option("-b", "--backend", help="As if given -b.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="As if given --base-url.")] = None,
) -> None:
    """Print every setting's effective value and where it came from: flag, environment, profile, file or default.

    Keys are never printed, only whether one is set."""
    env = environment(context)
    flags = {"profile": profile, "model": model, "backend": backend, "base_url": base_url}

    def action() -> int:
        echo(env, describe(resolve_config(flags, env.environ, env.dirs.config_file)), end="")
        return 0

    exit_with(env, action)


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
        elif name == "base_url" and value is not None:
            rows.append((name, _quote(shown_url(value)), origin))  # no user:password@ or query (keys)
        else:
            rows.append((name, "not set" if value is None else _quote(value), origin))
    width = max(len(name) for name, _, _ in rows) + 2
    value_width = min(max(len(value) for _, value, _ in rows), 40) + 2
    lines += [f"{name:<{width}}{value:<{value_width}}{origin}".rstrip() for name, value, origin in rows]
    for alias, target in resolved.config.aliases.items():
        lines.append(f"alias {_quote(alias)} = {_quote(target)}")
    for model_name, price in resolved.config.prices.items():
        lines.append(
            f"price {_quote(model_name)}: ${price.input:g} input, ${price.output:g} output per 1M tokens"
        )
    return "\n".join(lines) + "\n"


def _quote(value: Any) -> str:
    """A value as TOML would write it, with control characters made visible."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return sanitize(json.dumps(value, ensure_ascii=False))
    return str(value)
