"""`chatcli history …`: list, show, search, export, import and delete the conversations in the library."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import exit_with
from chatcli.core.environment import Environment
from chatcli.render.sanitize import sanitize, sanitize_title

if TYPE_CHECKING:
    from chatcli.core.conversation import Conversation
    from chatcli.storage.library import Library

history_app = typer.Typer(
    help="The conversation library: every conversation recorded, to list, show, search and resume (-c, --cid).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

IdArgument = Annotated[str, typer.Argument(help="Conversation id, or a unique prefix of one.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOption = Annotated[int, typer.Option("-n", "--limit", help="Show at most this many.", min=1)]
# Search hits come back with the matched terms between these marks (private-use characters, which the
# sanitiser leaves alone), so they can be highlighted after the text around them has been sanitised.
_MARKS = ("\ue000", "\ue001")


def _open(env: Environment) -> Library:
    from chatcli.storage.library import Library

    return Library(env.dirs.library_file)


def _json(env: Environment, data: Any) -> str:
    """Indented JSON; on a terminal every non-ASCII character is escaped (\\u009b, \\u202e), so none of the
    stored text can drive the terminal or reorder what it shows. Piped, the text stays as it is."""
    return json.dumps(data, ensure_ascii=env.stdout_isatty, indent=2)


def _local_time(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")


@history_app.command("list")
def list_command(
    context: typer.Context,
    limit: LimitOption = 20,
    model: Annotated[
        str | None, typer.Option("-m", "--model", help="Only conversations with this model.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List conversations, most recently active first: id, date, model, turns, title."""

    env = environment(context)

    def action() -> int:
        with _open(env) as library:
            summaries = library.summaries(limit, model)
        if as_json:
            echo(env, _json(env, [summary.to_json() for summary in summaries]))
            return 0
        terminal = env.stdout_isatty
        width = env.terminal_size().columns if terminal else 0
        if terminal:
            echo(
                env,
                f"{'id':<12}  {'date':<16}  {'model':<20}  {'turns':>5}  title"
                if summaries
                else "no conversations",
            )
        for summary in summaries:
            line = (
                f"{summary.id:<12}  {_local_time(summary.updated_at)}  {sanitize(summary.model or '-'):<20}  "
                f"{summary.turns:>5}  {sanitize_title(summary.title)}"
            )
            echo(env, line[:width] if width else line)
        return 0

    exit_with(env, action)


@history_app.command("show")
def show_command(
    context: typer.Context,
    conversation_id: IdArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print it as a conversation file (version 1).")
    ] = False,
) -> None:
    """Show one conversation: rendered on a terminal, raw Markdown when piped."""

    env = environment(context)

    def action() -> int:
        from chatcli.storage.conversation_file import conversation_to_json

        with _open(env) as library:
            summary = library.summary(library.resolve(conversation_id))
            conversation = library.load(summary.id)
        terminal = env.stdout_isatty
        if as_json:
            echo(env, _json(env, conversation_to_json(conversation)))
            return 0
        if terminal:
            echo(
                env,
                f"{summary.id} · {sanitize(summary.model or '-')} · {_local_time(summary.created_at)} · "
                f"{summary.turns} turns\n",
            )
        print_conversation(conversation, env.stdout, terminal)  # type: ignore[arg-type]
        return 0

    exit_with(env, action)


def print_conversation(conversation: Conversation, out: TextIO, terminal: bool) -> None:
    """Each message under its role: Markdown rendered and sanitised on a terminal, the exact text otherwise."""
    if not terminal:
        out.write(
            "\n".join(
                f"## {_heading(message.role, message.status)}\n\n{message.text}\n"
                for message in conversation.messages
            )
        )
        out.flush()
        return
    from rich.console import Console

    from chatcli.render.markdown import Flow, Lines, render_markdown

    console = Console(file=out, highlight=False)
    colours = {"user": "bold cyan", "assistant": "bold green"}
    for message in conversation.messages:
        console.print(_heading(message.role, message.status), style=colours.get(message.role, "bold magenta"))
        # As answers show while they stream; a huge block shows as wrapped text, at a cost linear in its size.
        lines, _ = render_markdown(console, sanitize(message.text), Flow(), "monokai")
        console.print(Lines(lines), crop=False)
        console.print()


def _heading(role: str, status: str | None) -> str:
    return f"{role} ({status})" if status else role


@history_app.command("search")
def search_command(
    context: typer.Context,
    query: Annotated[
        list[str], typer.Argument(help="Words to find (all of them); end a word with * for a prefix.")
    ],
    limit: LimitOption = 20,
    as_json: JsonFlag = False,
) -> None:
    """Full-text search over every message, newest first; matches highlighted on a terminal."""

    env = environment(context)

    def action() -> int:
        terminal = env.stdout_isatty and not as_json
        with _open(env) as library:
            hits = library.search(" ".join(query), limit, _MARKS if terminal else ("", ""))
        if as_json:
            rows = [
                {
                    "id": hit.conversation_id,
                    "date": hit.created_at,
                    "role": hit.role,
                    "title": hit.title,
                    "snippet": hit.snippet,
                }
                for hit in hits
            ]
            echo(env, _json(env, rows))
            return 0
        highlight, reset = ("\x1b[1;33m" if not env.no_color else "\x1b[1m"), "\x1b[0m"
        for hit in hits:
            snippet = sanitize(" ".join(hit.snippet.split()))
            if terminal:
                snippet = snippet.replace(_MARKS[0], highlight).replace(_MARKS[1], reset)
            echo(env, f"{hit.conversation_id}  {_local_time(hit.created_at)}  {hit.role}: {snippet}")
        return 0

    exit_with(env, action)


@history_app.command("export")
def export_command(
    context: typer.Context,
    conversation_id: IdArgument,
    file: Annotated[Path, typer.Argument(help="The conversation file to write (it must not exist yet).")],
) -> None:
    """Write one conversation to a JSON conversation file, the format --save writes and --load reads."""

    env = environment(context)

    def action() -> int:
        from chatcli.storage.conversation_file import ConversationFile

        with _open(env) as library:
            conversation = library.load(library.resolve(conversation_id))
        ConversationFile(file).save(conversation)
        return 0

    exit_with(env, action)


@history_app.command("import")
def import_command(
    context: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A conversation file, or a JSON list of {role, content} messages.")
    ],
) -> None:
    """Add a conversation file to the library as a new conversation and print its id."""

    env = environment(context)

    def action() -> int:
        from chatcli.storage.conversation_file import ConversationFile

        conversation = ConversationFile(file).load()
        with _open(env) as library:
            echo(env, library.add_conversation(conversation))
        return 0

    exit_with(env, action)


@history_app.command("rm")
def rm_command(
    context: typer.Context,
    conversation_ids: Annotated[list[str], typer.Argument(help="Conversation ids, or unique prefixes.")],
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Delete without asking.")] = False,
) -> None:
    """Delete conversations from the library (asks first on a terminal)."""

    env = environment(context)

    def action() -> int:
        from chatcli.core.errors import UsageError

        with _open(env) as library:
            summaries = [library.summary(library.resolve(reference)) for reference in conversation_ids]
            if not yes:
                if not env.stdin_isatty:
                    raise UsageError("refusing to delete without confirmation; add --yes")
                for summary in summaries:
                    echo(env, f"{summary.id}  {summary.turns} turns  {sanitize_title(summary.title)}")
                if not typer.confirm(f"Delete {len(summaries)} conversation(s)?", default=False, err=True):
                    env.stderr.write("nothing deleted\n")
                    return 1
            for summary in summaries:
                library.delete(summary.id)
        return 0

    exit_with(env, action)


@history_app.command("path")
def path_command(context: typer.Context) -> None:
    """Print the library database's path."""

    env = environment(context)

    def action() -> int:
        echo(env, str(env.dirs.library_file))
        return 0

    exit_with(env, action)
