"""`chatcli history compact ID`: a library conversation summarised by the model into a new one, without the REPL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatcli.cli import wiring
from chatcli.cli.context import echo
from chatcli.cli.exit_status import report
from chatcli.cli.options import ChatOptions
from chatcli.core.compaction import CONTINUE_QUESTION, compacted, compaction_prompt, has_messages
from chatcli.core.conversation import Status
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.terminal_mode import ask_yes
from chatcli.core.turn import Round

if TYPE_CHECKING:
    from chatcli.storage.library import Library


@dataclass(frozen=True, slots=True)
class CompactRequest:
    """What the command line asked: the conversation, the user's instructions, and whether yes was given."""

    reference: str
    instructions: str
    yes: bool


def run_compact(env: Environment, options: ChatOptions, request: CompactRequest) -> int:
    """Summarise the conversation (shown on a terminal), ask (unless --yes), store the compacted conversation
    and print its id; the original stays whole. Without a terminal to ask on, --yes is required."""
    from chatcli.render.plain import SilentRenderer
    from chatcli.storage.library import Origin, split_system

    fd = env.stdin_fd() if env.stdin_isatty and env.stdout_isatty else None
    if not request.yes and fd is None:
        raise UsageError(
            "history compact asks before it compacts, and there is no terminal to ask on; add --yes"
        )
    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    with _open_library(env) as library:
        conversation_id = library.resolve(request.reference)
        conversation = library.load(conversation_id)
    if not has_messages(conversation):
        raise UsageError(f"conversation {conversation_id} has no messages to compact")
    wiring.conversation_defaults(resolved).apply(conversation)
    session = wiring.new_session(resolved, conversation, wiring.new_backend(env, resolved))
    renderer = wiring.new_renderer(env, config) if env.stdout_isatty else SilentRenderer()
    summary = usable_summary(
        session.summarize(compaction_prompt(config.compact_prompt, request.instructions), renderer)
    )
    if not request.yes:
        assert fd is not None
        if not ask_yes(fd, env.stderr, CONTINUE_QUESTION):
            report(env, "not compacted; the conversation stays as it was")
            return 0
    origin = Origin(conversation_id, len(split_system(conversation)[1]), "compacted")
    with _open_library(env) as library:
        echo(env, library.add_conversation(compacted(conversation, summary), origin))
    return 0


def _open_library(env: Environment) -> Library:
    from chatcli.render.message_text import shown_content
    from chatcli.storage.library import Library

    return Library(env.dirs.library_file, content_text=shown_content)


def usable_summary(summary: Round) -> str:
    """The summary's text; a ChatError when it cannot be compacted from, KeyboardInterrupt after Ctrl-C."""
    if summary.status is Status.INTERRUPTED:
        raise KeyboardInterrupt
    if summary.failure is not None:
        raise summary.failure
    if summary.info.finish_reason == "length":
        raise ChatError(
            "the summary was cut off at the token limit (finish_reason: length); nothing compacted"
        )
    if not summary.text.strip():
        raise ChatError("the summary is empty; nothing compacted")
    return summary.text
