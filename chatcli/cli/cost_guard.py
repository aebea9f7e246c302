"""`ask`'s cost guard: the prompt's estimate before sending and, past `confirm_above_tokens` or
`confirm_above_cost`, the user's yes on a terminal, `--yes`, or a refusal (exit 2) when piped."""

from __future__ import annotations

from chatcli.cli.settings import Config
from chatcli.cli.usage import cost_of
from chatcli.core.conversation import Content
from chatcli.core.environment import Environment
from chatcli.core.errors import ChatError, UsageError
from chatcli.core.prompt_estimate import (
    PromptEstimate,
    confirmation_question,
    describe_estimate,
    estimate_prompt,
)
from chatcli.core.session import Session
from chatcli.core.terminal_mode import ask_yes


class PromptDeclined(ChatError):
    """The user answered no: nothing was sent."""


def check_prompt(
    env: Environment, session: Session, text: Content, config: Config, *, yes: bool, wanted: bool
) -> PromptEstimate | None:
    """The estimate of the prompt `text` makes, when a limit is set (and no --yes) or `wanted` (-u, --json);
    None otherwise, at no cost. Past a limit: PromptDeclined when the user says no on the terminal, and a
    UsageError naming --yes when stdin or stdout is not a terminal to ask on."""
    guard = config.cost_guard()
    if not wanted and (yes or not guard.active):
        return None
    request = session.first_request(text)
    estimate = estimate_prompt(session.backend, request, lambda model, usage: cost_of(config, model, usage))
    exceeded = None if yes else guard.exceeded_by(estimate)
    if exceeded is None:
        return estimate
    fd = env.stdin_fd()
    if not (env.stdin_isatty and env.stdout_isatty) or fd is None:
        raise UsageError(f"{describe_estimate(estimate)}, past {exceeded}; nothing was sent; --yes sends it")
    if not ask_yes(fd, env.stderr, confirmation_question(estimate)):
        raise PromptDeclined("nothing was sent")
    return estimate
