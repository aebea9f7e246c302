"""`chatcli history …`: list, show, search, export, import and delete the conversations in the library."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TextIO

import typer

from chatcli.cli.completion import conversation_ids
from chatcli.cli.context import echo, environment
from chatcli.cli.exit_status import report, with_exit_status
from chatcli.cli.help_format import HelpCommand
from chatcli.cli.help_names import EXAMPLE_SEPARATOR
from chatcli.cli.lazy_commands import sub_command_app
from chatcli.cli.options import SERVER_OPTIONS, STDIO, TakesSharedOptions, expand_user, given_options
from chatcli.core.environment import Environment
from chatcli.core.errors import HistoryError, UsageError
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
        help="Conversation name or id (or a unique prefix of one).",
        metavar="ID",
        autocompletion=conversation_ids,
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
        str | None,
        typer.Option("-m", "--model", help="Only conversations with this model (or alias).", metavar="NAME"),
    ] = None,
    as_json: JsonFlag = False,
    tree: Annotated[
        bool,
        typer.Option("--tree", help="Under each conversation, those forked or edited from it, indented."),
    ] = False,
) -> int:
    """List conversations, most recently active first: id, date, model, turns, name and title."""

    env = environment(context)
    model = _model_named(env, model)
    with _open(env) as library:
        summaries = library.summaries(limit, model)
        rows = (
            _tree(summaries, library.descendants([s.id for s in summaries]))
            if tree
            else [(0, s) for s in summaries]
        )
    if as_json:
        echo(
            env,
            _json(
                env, [{**summary.to_json(), **({"depth": depth} if tree else {})} for depth, summary in rows]
            ),
        )
        return 0
    if not summaries:  # never a silent empty list: on stderr when piped, so stdout stays an empty list
        nothing = "no conversations" + (f" with model {sanitize(model)}" if model is not None else "")
        if env.stdout_isatty:
            echo(env, nothing)
        else:
            report(env, nothing)
        return 0
    width = env.terminal_size().columns if env.stdout_isatty else 0
    layout = ListLayout.for_width(width)
    if env.stdout_isatty:
        echo(env, layout.row("id", "date", "model", "turns", "title", width))
    for depth, summary in rows:
        row = layout.row(
            summary.id,
            _local_time(summary.updated_at),
            sanitize(summary.model or "-"),
            str(summary.turns),
            ("  " * (depth - 1) + "└ " if depth else "") + _titled(summary),
            width,
        )
        echo(env, row)
    return 0


def _titled(summary: Summary) -> str:
    """The name (when it has one) and the title, as one line fit for a terminal."""
    title = sanitize_title(summary.title)
    return f"{sanitize_title(summary.name)} · {title}" if summary.name else title


def _tree(listed: list[Summary], descendants: list[Summary]) -> list[tuple[int, Summary]]:
    """The `listed` conversations in their order, each followed by what was made from it, directly or not
    (oldest first, depth first), with each one's depth; one made from a listed one shows only under it.
    Linear in their number."""
    ids = {summary.id for summary in listed}
    children: dict[str, list[Summary]] = {}
    for summary in sorted((*listed, *descendants), key=lambda summary: summary.created_at):
        children.setdefault(summary.origin_id or "", []).append(summary)
    rows: list[tuple[int, Summary]] = []
    stack = [(0, summary) for summary in reversed(listed) if summary.origin_id not in ids]
    while stack:
        depth, summary = stack.pop()
        rows.append((depth, summary))
        stack += [(depth + 1, child) for child in reversed(children.get(summary.id, []))]
    return rows


def _model_named(env: Environment, name: str | None) -> str | None:
    """The model `-m NAME` means: the model an alias of the config file's [aliases] stands for, else NAME."""
    if name is None:
        return None
    from chatcli.cli.config_file import read_config_file

    aliases: dict[str, str] = read_config_file(env.dirs.config_file)[0].get("aliases", {})
    return aliases.get(name, name)


_ID_WIDTH, _DATE_WIDTH, _TURNS_WIDTH = 12, 16, 5
_TITLE_AT_LEAST = 16  # the columns `history list` keeps for the title before it narrows the others


@dataclass(frozen=True, slots=True)
class ListLayout:
    """The columns of `history list`: on a narrow terminal the model column narrows, then the date goes,
    then the model, so the title always shows (shortened, with …)."""

    date: bool = True
    model_width: int = 20

    @classmethod
    def for_width(cls, width: int) -> ListLayout:
        """The widest layout that leaves the title _TITLE_AT_LEAST columns at `width` (0: no limit)."""
        for layout in (cls(True, 20), cls(True, 12), cls(False, 12), cls(False, 8)):
            if not width or width - layout.fixed_width() >= _TITLE_AT_LEAST:
                return layout
        return cls(False, 0)

    def fixed_width(self) -> int:
        """The columns left of the title, with their gaps."""
        date = _DATE_WIDTH + 2 if self.date else 0
        model = self.model_width + 2 if self.model_width else 0
        return _ID_WIDTH + 2 + date + model + _TURNS_WIDTH + 2

    def row(self, cid: str, date: str, model: str, turns: str, title: str, width: int) -> str:
        """One line; at `width` (0: no limit) the title is shortened to fit."""
        cells = [f"{cid:<{_ID_WIDTH}}"]
        cells += [f"{date:<{_DATE_WIDTH}}"] if self.date else []
        cells += [f"{_shortened(model, self.model_width):<{self.model_width}}"] if self.model_width else []
        cells.append(f"{turns:>{_TURNS_WIDTH}}")
        line = "  ".join(cells) + "  "
        return line + (_shortened(title, width - len(line)) if width else title)


def _shortened(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns (a CJK character takes two), the last one … when it was cut."""
    from rich.cells import cell_len, set_cell_size  # only on a terminal, where a width applies

    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, max(width, 0))


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
        named = f"{sanitize_title(summary.name)} · " if summary.name else ""
        echo(
            env,
            f"{named}{summary.id} · {sanitize(summary.model or '-')} · {_local_time(summary.created_at)} · "
            f"{plural(summary.turns, 'turn')}",
        )
        echo(env, f"{summary.origin_line()}\n" if summary.origin_id else "")
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
    number = 0  # as /fork, /edit and `history fork` count: the system prompt aside
    for message in conversation.messages:
        if reasoning and message.reasoning:
            console.print("reasoning", style="bold dim")
            console.print(sanitize(message.reasoning), style="dim", markup=False)
            console.print()
        number += message.role != "system"
        heading = _heading(message.role, message.status)
        heading = heading if message.role == "system" else f"{number} {heading}"
        console.print(heading, style=colours.get(message.role, "bold magenta"), markup=False)
        # As answers show while they stream; a huge block shows as wrapped text, at a cost linear in its size.
        lines, _ = render_markdown(console, sanitize(shown_text(message)), PieceContext(), "monokai")
        console.print(Lines(lines), crop=False)
        console.print()


def _heading(role: str, status: str | None) -> str:
    return f"{role} ({status})" if status else role


@history_app.command("rename", cls=HelpCommand)
@with_exit_status
def rename_command(
    context: typer.Context,
    conversation_id: IdArgument,
    name: Annotated[
        str,
        typer.Argument(
            help="The new name: unique in the library, not hex digits only (- removes the name).",
            metavar="NAME",
        ),
    ],
) -> int:
    """Name a conversation, to find it by name (`--cid NAME`, `history show NAME`)."""

    env = environment(context)
    from chatcli.storage.library import check_name

    new_name = None if name == "-" else check_name(name)
    with _open(env) as library:
        summary = library.summary(library.resolve(conversation_id))
        library.rename(summary.id, new_name)
    echo(
        env,
        f"{summary.id} is now named {sanitize_title(new_name)}"
        if new_name
        else f"{summary.id} has no name now",
    )
    return 0


@history_app.command("fork", cls=HelpCommand)
@with_exit_status
def fork_command(
    context: typer.Context,
    conversation_id: IdArgument,
    count: Annotated[
        int | None,
        typer.Argument(
            help="How many of its messages to take, numbered as `history show` numbers them (default: all).",
            metavar="N",
            min=1,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Name the new conversation.", metavar="NAME")
    ] = None,
) -> int:
    """Start a new conversation from the first N messages of one (the original stays whole) and print its id."""

    env = environment(context)
    from chatcli.storage.library import check_name

    new_name = None if name is None else check_name(name)
    with _open(env) as library:
        echo(env, library.fork(library.resolve(conversation_id), count, new_name))
    return 0


class CompactCommand(TakesSharedOptions, HelpCommand):
    """`history compact`: the options that choose the server and the model, as `ask` takes them."""

    shared: ClassVar[tuple[str, ...]] = (
        *SERVER_OPTIONS,
        "model",
        "temperature",
        "max_tokens",
        "request_options",
    )


@history_app.command(
    "compact",
    cls=CompactCommand,
    epilog=EXAMPLE_SEPARATOR.join(
        ("chatcli history compact project-x -m gpt-4o-mini", "summarise it into a new conversation")
    ),
)
@with_exit_status
def compact_command(
    context: typer.Context,
    conversation_id: IdArgument,
    instructions: Annotated[
        list[str] | None,
        typer.Argument(
            help="What the summary should keep or leave out, after the built-in prompt.",
            metavar="INSTRUCTIONS",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Compact without asking (needed without a terminal).")
    ] = False,
) -> int:
    """Ask the model for a summary of a conversation and start a new one from it (the original stays whole);
    print its id."""

    from chatcli.cli.compaction import CompactRequest, run_compact

    request = CompactRequest(conversation_id, " ".join(instructions or []), yes)
    return run_compact(environment(context), given_options(context), request)


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
    if not any(message.role in ("user", "assistant") for message in conversation.messages):
        raise UsageError(
            f"{'stdin' if file == STDIO else file}: the conversation has no messages; nothing imported"
        )
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
            help="Conversation names or ids (or unique prefixes of ids).",
            metavar="ID",
            autocompletion=conversation_ids,
        ),
    ],
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Delete without asking.")] = False,
) -> int:
    """Delete conversations from the library (asks first on a terminal)."""

    env = environment(context)
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
    cached = any(key in stats["total"] for key in CACHE_COLUMNS)
    for title, key in (("model", "models"), ("day", "days"), ("day and model", "days_by_model")):
        if key != "models":
            echo(env)
        total = [] if key == "days_by_model" else [{**stats["total"], title: "total"}]
        for line in _stats_table(title, [*stats[key], *total], cached):
            echo(env, line)
    if stats["unpriced_models"]:
        names = ", ".join(sanitize(name) for name in stats["unpriced_models"])
        echo(env, f"\nno [prices] entry for {names}: tokens only, not in the cost")
    return 0


CACHE_COLUMNS = {"cache_read_tokens": "cache read", "cache_write_tokens": "cache write"}


def _stats_table(title: str, entries: list[dict[str, Any]], cached: bool) -> list[str]:
    """`history stats`'s table of `entries` under `title`; the cache columns when the library holds cache counts."""
    columns = {"prompt_tokens": "prompt", "completion_tokens": "completion"}
    if cached:
        columns |= CACHE_COLUMNS
    labels = [
        " ".join(str(entry[part] or "-") for part in ("day", "model") if part in entry)
        if title == "day and model"
        else str(entry[title] or "-")
        for entry in entries
    ]
    width = max([24, *(len(label) for label in labels)])
    head = "".join(f"  {name:>10}" for name in columns.values())
    lines = [f"{title:<{width}}  {'turns':>6}{head}  {'cost':>10}"]
    for label, entry in zip(labels, entries, strict=True):
        dollars = "-" if entry["cost"] is None else f"${entry['cost']:.4f}"
        counts = "".join(f"  {entry.get(key, 0):>10}" for key in columns)
        lines.append(f"{sanitize(label):<{width}}  {entry['turns']:>6}{counts}  {dollars:>10}")
    return lines


def _one_line(summary: Summary) -> str:
    return f"{summary.id}  {plural(summary.turns, 'turn')}  {_titled(summary)}"


@history_app.command("path", cls=HelpCommand)
@with_exit_status
def path_command(context: typer.Context) -> int:
    """Print the library database's path."""

    env = environment(context)
    echo(env, str(env.dirs.library_file))
    return 0
