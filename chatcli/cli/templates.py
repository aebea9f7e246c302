"""`chatcli templates list|show|edit|path`, and how `-T NAME` turns a template into options and a prompt."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any

import typer

from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import report, with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.lazy_commands import sub_command_app
from chatcli.cli.options import ChatOptions
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.render.sanitize import sanitize
from chatcli.storage.templates import Template, TemplateStore

templates_app = sub_command_app("templates")

NameArgument = Annotated[str, typer.Argument(help="The template's name.")]
SKELETON = """\
# A chatcli template: chatcli ask -T {name} "text", or /{name} text in a chat.
description = "what it does, for the lists"
system = "You are a careful reviewer."
# {{input}} is the text after the command (or stdin); other {{names}} are parameters (-P name value).
prompt = \"\"\"Review this {{language}} code:

{{input}}\"\"\"
params = []                            # parameters without a default
defaults = {{ language = "Python" }}   # parameters with one
# model = "gpt-4o-mini"
# profile = "ollama"
# [options]
# temperature = 0.2
"""


def template_store(env: Environment, tables: Mapping[str, Any] | None = None) -> TemplateStore:
    """The user's templates; `tables` are the config file's [templates] (read here when not given)."""
    config_file = env.dirs.config_file
    if tables is None:
        from chatcli.cli.config_file import read_config_file

        tables = read_config_file(config_file)[0].get("templates", {})
    return TemplateStore(env.dirs.config / "templates", tables, config_file)


def with_template(options: ChatOptions, template: Template, system: str | None) -> ChatOptions:
    """The options, with the template's profile, model, system prompt and request options filling in what the
    command line leaves unset (the command line wins)."""
    return replace(
        options,
        profile=options.profile or template.profile,
        model=options.model or template.model,
        system=options.system if options.system is not None else system,
        request_options={**template.options, **options.request_options},
    )


@templates_app.command("list", cls=HelpCommand)
@with_exit_status
def list_command(context: typer.Context) -> int:
    """List the templates: name, then what it does."""
    env = environment(context)
    store = template_store(env)
    names = store.names()
    if not names:  # never silent: on stderr when piped, so stdout stays an empty list
        nothing = f"no templates yet; create one: chatcli templates edit NAME (in {store.directory})"
        if env.stdout_isatty:
            echo(env, nothing)
        else:
            report(env, nothing)
    for name in names:
        try:
            summary = store.load(name).summary
        except UsageError as error:
            summary = f"(broken: {error})"
        echo(env, f"{sanitize(name):<16}  {sanitize(summary)}")
    return 0


@templates_app.command("show", cls=HelpCommand)
@with_exit_status
def show_command(context: typer.Context, name: NameArgument) -> int:
    """Print a template's TOML as written."""
    env = environment(context)
    store = template_store(env)
    template = store.load(name)
    path = store.path(name)
    text = path.read_text("utf-8-sig") if path.is_file() else f"# {template.source}\n" + _as_toml(template)
    echo(env, sanitize(text) if env.stdout_isatty else text, end="" if text.endswith("\n") else "\n")
    return 0


def _as_toml(template: Template) -> str:
    lines = []
    for key in ("description", "system", "prompt", "model", "profile"):
        if (value := getattr(template, key)) is not None:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    if template.params:
        lines.append(f"params = {json.dumps(list(template.params))}")
    if template.defaults:
        pairs = ", ".join(f"{key} = {json.dumps(value)}" for key, value in template.defaults.items())
        lines.append(f"defaults = {{ {pairs} }}")
    if template.options:
        lines.append("[options]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in template.options.items()]
    return "\n".join(lines) + "\n"


@templates_app.command("edit", cls=HelpCommand)
@with_exit_status
def edit_command(context: typer.Context, name: NameArgument) -> int:
    """Open templates/NAME.toml in $VISUAL or $EDITOR (created from an example when new), then check it."""
    env = environment(context)
    from chatcli.storage.files import make_private_dir, write_atomic
    from chatcli.storage.templates import NAME

    if not NAME.fullmatch(name):
        raise UsageError(f"{name!r} is not a template name; names are lowercase letters, digits, - and _")
    store = template_store(env)
    path = store.path(name)
    if not path.exists():
        make_private_dir(path.parent)
        write_atomic(path, SKELETON.format(name=name).encode())
    editor = env.environ.get("VISUAL") or env.environ.get("EDITOR") or "vi"
    try:
        done = subprocess.run([*shlex.split(editor), str(path)], check=False)
    except (OSError, ValueError) as error:
        raise ChatError(f"cannot start the editor {editor!r} ({error}); set VISUAL or EDITOR") from None
    if done.returncode != 0:
        raise ChatError(f"the editor exited with status {done.returncode}; {path} is as it left it")
    try:
        store.load(name)
    except UsageError as error:
        report(env, f"warning: {error}")
        return 1
    return 0


@templates_app.command("path", cls=HelpCommand)
@with_exit_status
def path_command(context: typer.Context) -> int:
    """Print the templates directory (it may not exist yet)."""
    env = environment(context)
    echo(env, str(env.dirs.config / "templates"))
    return 0
