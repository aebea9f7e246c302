"""A first word one typo away from a sub-command (`chatcli histroy list`): still a prompt, but on a terminal
chatcli asks which was meant first, and piped it says what it did on stderr."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what only asking needs loads only then: most first words are no typo
    from collections.abc import Iterable

    from chatcli.core.environment import Environment

# Shorter names are one typo away from too many words of a prompt ("mcp" from "map", "ask" from "asks").
SHORTEST_CHECKED = 5


def one_typo_apart(word: str, name: str) -> bool:
    """Whether `word` becomes `name` by one edit: a letter changed, added or dropped, or two neighbours swapped."""
    if word == name or abs(len(word) - len(name)) > 1:
        return False
    start = next(
        (i for i, (a, b) in enumerate(zip(word, name, strict=False)) if a != b), min(len(word), len(name))
    )
    if len(word) == len(name):
        swapped = word[start : start + 2] == name[start : start + 2][::-1]
        return word[start + 1 :] == name[start + 1 :] or (swapped and word[start + 2 :] == name[start + 2 :])
    shorter, longer = sorted((word, name), key=len)
    return shorter[start:] == longer[start + 1 :]


def meant_command(word: str, names: Iterable[str]) -> str | None:
    """The sub-command `word` is one typo away from, if any (checked for names of SHORTEST_CHECKED letters or more)."""
    return next(
        (name for name in names if len(name) >= SHORTEST_CHECKED and one_typo_apart(word.lower(), name)), None
    )


def send_or_run(env: Environment, words: list[str], command: str) -> bool:
    """Whether to run `chatcli COMMAND …` rather than send `words` as a prompt: asked on a terminal; piped,
    the words are sent and the did-you-mean goes to stderr."""
    import typer

    from chatcli.cli.exit_status import failure_status, report
    from chatcli.core.errors import UsageError
    from chatcli.render.sanitize import sanitize

    prompt = " ".join(itertools.takewhile(lambda word: not word.startswith("-"), words))  # the prompt alone
    suggestion = f"chatcli {' '.join([command, *words[1:]])}"
    if not (env.stdin_isatty and env.stderr_isatty) or env.stdin is None:
        report(
            env,
            f"note: {words[0]!r} is no sub-command, so it was sent as a prompt; did you mean '{suggestion}'?",
        )
        return False
    key = command[0]
    env.stderr.write(sanitize(f"send \"{prompt}\" to the model, or did you mean '{suggestion}'? [s/{key}] "))
    env.stderr.flush()
    answer = env.stdin.readline().decode("utf-8", "replace").strip().lower()
    if answer.startswith(key):
        return True
    if answer.startswith("s"):
        return False
    raise typer.Exit(failure_status(env, UsageError("nothing sent")))  # before any command, so said here
