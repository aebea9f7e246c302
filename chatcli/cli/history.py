"""`chatcli history …`: list, show, search, export, import and delete the conversations in the library."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from chatcli.cli.completion import conversation_ids
from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import report, with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.lazy_commands import sub_command_app
from chatcli.cli.options import STDIO, expand_user
from chatcli.core.environment import Environment
from chatcli.core.errors import HistoryError
from chatcli.render.sanitize import sanitize, sanitize_title
from chatcli.render.wording import plural

if TYPE_CHECKING:
    from chatcli.core.conversation import Conversation
    from chatcli.storage.library import Library
    from chatcli.storage.library_rows import Summary

history_app = sub_command_app("history")

IdArgument = Annotated[
    str,
    typer.Argument(
        help="Conversation id, or a unique prefix of one.", metavar="ID", autocompletion=conversation_ids
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOption = Annotated[
    int, typer.Option("-n", "--limit", help="Show at most this many (at least 1).", min=1, metavar="N")
]
# Search hits come back with the matched terms between these marks (private-use characters, which the
# sanitiser leaves alone), so they can be highlighted after the text around them has been sanitised.
_MARKS = ("\ue000", "\ue001")


def _open(env: Environment) -> Library:
    from chatcli.render.message_text import shown_content
    from chatcli.storage.library import Library

    return Library(env.dirs.library_file, content_text=shown_content)


def _json(env: Environment, data: Any) -> str:
    """Indented JSON; on a terminal every non-ASCII character is escaped (\\u009b, \\u202e), so none of the
    stored text can drive the terminal or reorder what it shows. Piped, the text stays as it is."""
    return json.dumps(data, ensure_ascii=env.stdout_isatty, indent=2)


def _local_time(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")


@history_app.command("list", cls=HelpCommand)
@with_exit_status
def list_command(
    context: typer.Context,
    limit: LimitOption = 20,
    model: Annotated[
        str | None, typer.Option("-m", "--model", help="Only conversations with this model.", metavar="NAME")
    ] = None,
    as_json: JsonFlag = False,
) -> int:
    """List conversations, most recently active first: id, date, model, turns, title."""

    env = environment(context)
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


@history_app.command("show", cls=HelpCommand)
@with_exit_status
def show_command(
    context: typer.Context,
    conversation_id: IdArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print it as a conversation file (version 1).")
    ] = False,
    reasoning: Annotated[
        bool, typer.Option("--reasoning", help="Show the model's reasoning before each answer.")
    ] = False,
) -> int:
    """Show one conversation: rendered on a terminal, raw Markdown when piped."""

    env = environment(context)
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
            f"{plural(summary.turns, 'turn')}\n",
        )
    print_conversation(conversation, env.stdout, terminal, reasoning)  # type: ignore[arg-type]
    return 0


def print_conversation(
    conversation: Conversation, out: TextIO, terminal: bool, reasoning: bool = False
) -> None:
    """Each message under its role: Markdown rendered and sanitised on a terminal, the exact text otherwise;
    an image as a one-line placeholder, never its base64. With `reasoning`, an answer's reasoning comes
    first, under its own heading (dimmed on a terminal)."""
    from chatcli.render.message_text import shown_text

    if not terminal:
        out.write(
            "\n".join(
                (f"## reasoning\n\n{message.reasoning}\n\n" if reasoning and message.reasoning else "")
                + f"## {_heading(message.role, message.status)}\n\n{shown_text(message)}\n"
                for message in conversation.messages
            )
        )
        out.flush()
        return
    from rich.console import Console

    from chatcli.render.markdown import Lines, PieceContext, render_markdown

    console = Console(file=out, highlight=False)
    colours = {"user": "bold cyan", "assistant": "bold green"}
    for message in conversation.messages:
        if reasoning and message.reasoning:
            console.print("reasoning", style="bold dim")
            console.print(sanitize(message.reasoning), style="dim", markup=False)
            console.print()
        console.print(_heading(message.role, message.status), style=colours.get(message.role, "bold magenta"))
        # As answers show while they stream; a huge block shows as wrapped text, at a cost linear in its size.
        lines, _ = render_markdown(console, sanitize(shown_text(message)), PieceContext(), "monokai")
        console.print(Lines(lines), crop=False)
        console.print()


def _heading(role: str, status: str | None) -> str:
    return f"{role} ({status})" if status else role


@history_app.command("search", cls=HelpCommand)
@with_exit_status
def search_command(
    context: typer.Context,
    query: Annotated[
        list[str],
        typer.Argument(help="Words to find (all of them); end a word with * for a prefix.", metavar="WORD"),
    ],
    limit: LimitOption = 20,
    as_json: JsonFlag = False,
) -> int:
    """Full-text search over every message, newest first; matches highlighted on a terminal."""

    env = environment(context)
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
    if not hits:  # said on stderr, like grep's silence, and exit 1 for scripts (`if chatcli history search`)
        report(env, f"no message matches: {' '.join(query)}")
        return 0 if env.stdout_isatty else 1
    highlight, reset = ("\x1b[1;33m" if not env.no_color else "\x1b[1m"), "\x1b[0m"
    for hit in hits:
        snippet = sanitize(" ".join(hit.snippet.split()))
        if terminal:
            snippet = snippet.replace(_MARKS[0], highlight).replace(_MARKS[1], reset)
        echo(env, f"{hit.conversation_id}  {_local_time(hit.created_at)}  {hit.role}: {snippet}")
    return 0


@history_app.command("export", cls=HelpCommand)
@with_exit_status
def export_command(
    context: typer.Context,
    conversation_id: IdArgument,
    file: Annotated[
        Path,
        typer.Argument(
            help="The conversation file to write (- for stdout).", metavar="FILE", callback=expand_user
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> int:
    """Write one conversation to a JSON conversation file, the format --save writes and --load reads."""

    env = environment(context)
    from chatcli.storage.conversation_file import ConversationFile, NotOurFileError, conversation_to_json

    with _open(env) as library:
        conversation = library.load(library.resolve(conversation_id))
    if file == STDIO:
        echo(env, json.dumps(conversation_to_json(conversation), ensure_ascii=False, indent=2))
        return 0
    try:
        ConversationFile(file).save(conversation, overwrite=force)
    except NotOurFileError:
        raise HistoryError(f"{file} exists; add --force to overwrite it, or export to a new file") from None
    return 0


@history_app.command("import", cls=HelpCommand)
@with_exit_status
def import_command(
    context: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A conversation file, or a JSON list of {role, content} messages (- for stdin).",
            metavar="FILE",
            callback=expand_user,
        ),
    ],
) -> int:
    """Add a conversation file to the library as a new conversation and print its id."""

    env = environment(context)
    from chatcli.cli.wiring import read_conversation_from_stdin
    from chatcli.storage.conversation_file import ConversationFile

    if file == STDIO:
        conversation = read_conversation_from_stdin(None if env.stdin_isatty else env.stdin)
    else:
        conversation = ConversationFile(file).load()
    with _open(env) as library:
        echo(env, library.add_conversation(conversation))
    return 0


@history_app.command("rm", cls=HelpCommand)
@with_exit_status
def rm_command(
    context: typer.Context,
    conversation_ids: Annotated[
        list[str],
        typer.Argument(
            help="Conversation ids, or unique prefixes.", metavar="ID", autocompletion=conversation_ids
        ),
    ],
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Delete without asking.")] = False,
) -> int:
    """Delete conversations from the library (asks first on a terminal)."""

    env = environment(context)
    from chatcli.core.errors import UsageError

    with _open(env) as library:
        summaries = [library.summary(library.resolve(reference)) for reference in conversation_ids]
        if not yes:
            if not env.stdin_isatty:
                raise UsageError("refusing to delete without confirmation; add --yes")
            for summary in summaries:
                echo(env, _one_line(summary))
            if not typer.confirm(
                f"Delete {plural(len(summaries), 'conversation')}?", default=False, err=True
            ):
                env.stderr.write("nothing deleted\n")
                return 1
        for summary in summaries:
            library.delete(summary.id)
            echo(env, f"deleted {_one_line(summary)}")
    return 0


@history_app.command("stats", cls=HelpCommand)
@with_exit_status
def stats_command(context: typer.Context, as_json: JsonFlag = False) -> int:
    """Turns, tokens and cost (for models with a \\[prices] entry) per model and per day, from the library."""

    env = environment(context)
    from chatcli.cli.settings_resolution import resolve_config
    from chatcli.cli.usage import usage_stats

    config = resolve_config({}, env.environ, env.dirs.config_file).config
    with _open(env) as library:
        rows = library.usage()
    stats = usage_stats(rows, config)
    if as_json:
        echo(env, json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        echo(env, "no turns recorded yet")
        return 0
    for title, key in (("model", "models"), ("day", "days")):
        echo(env, f"{title:<24}  {'turns':>6}  {'prompt':>10}  {'completion':>10}  {'cost':>10}")
        for entry in [*stats[key], {**stats["total"], title: "total"}]:
            dollars = "-" if entry["cost"] is None else f"${entry['cost']:.4f}"
            echo(
                env,
                f"{sanitize(str(entry[title] or '-')):<24}  {entry['turns']:>6}  {entry['prompt_tokens']:>10}  "
                f"{entry['completion_tokens']:>10}  {dollars:>10}",
            )
        if key == "models":
            echo(env)
    return 0


def _one_line(summary: Summary) -> str:
    return f"{summary.id}  {plural(summary.turns, 'turn')}  {sanitize_title(summary.title)}"


@history_app.command("path", cls=HelpCommand)
@with_exit_status
def path_command(context: typer.Context) -> int:
    """Print the library database's path."""

    env = environment(context)
    echo(env, str(env.dirs.library_file))
    return 0
