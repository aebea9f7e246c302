"""Shell commands from the model (`chatcli cmd`, `/cmd`): the system prompt that asks for one, the command taken
out of an answer, what is asked to revise or describe it, and what became of it (kept with the answer)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from chatcli.core.conversation import Message

# README shows this text verbatim (a test checks); the `cmd_system` setting replaces it. {shell}, {os} and {cwd}
# are filled in, in it and in a `cmd_system` of the user's.
DEFAULT_CMD_SYSTEM = (
    "You turn a task into one command for {shell} on {os}, run in a directory named {cwd}. "
    "Reply with the command only: no explanation, no Markdown, no code fence. "
    "Prefer a single line; use several lines only when the task needs them. "
    "When asked for a change, reply with the whole new command."
)
DESCRIBE_PROMPT = (
    "Explain what this command does, part by part, and say what it changes and whether running it is risky."
)
FALLBACK_SHELL = "/bin/sh"
COMMAND_KEY = "command"  # the answer's `extra` key for what became of its command
MAX_COMMAND_BYTES = 64 * 1024  # a longer command cannot be read before it runs: refused


@dataclass(frozen=True, slots=True)
class ShellContext:
    """Where a command will run: the shell (`$SHELL`, else /bin/sh), the operating system, the working
    directory's name."""

    shell: str  # the path run with -c
    system: str  # "Linux (Ubuntu 24.04 LTS)", "macOS 14.5", …
    directory: str

    @staticmethod
    def here(environ: Mapping[str, str]) -> ShellContext:
        try:
            cwd = os.getcwd()
        except OSError:  # removed while we stood in it
            cwd = "(a directory that no longer exists)"
        return ShellContext(
            environ.get("SHELL") or FALLBACK_SHELL, operating_system(), os.path.basename(cwd) or cwd
        )

    @property
    def shell_name(self) -> str:
        return os.path.basename(self.shell) or self.shell

    def system_prompt(self, template: str | None = None) -> str:
        """`template` (by default DEFAULT_CMD_SYSTEM) with {shell}, {os} and {cwd} filled in; other braces stay."""
        text = template if template is not None else DEFAULT_CMD_SYSTEM
        values = {"{shell}": self.shell_name, "{os}": self.system, "{cwd}": self.directory}
        return re.sub(r"\{(?:shell|os|cwd)\}", lambda match: values[match[0]], text)


def operating_system() -> str:
    """platform.system(), with the distribution (from os-release) or the macOS version when they are at hand."""
    import platform  # only when a command is asked for

    name = platform.system() or "an unknown system"
    if name == "Darwin":
        version = platform.mac_ver()[0]
        return f"macOS {version}" if version else "macOS"
    if name == "Linux":
        try:
            release = platform.freedesktop_os_release()
        except OSError:
            return name
        distribution = release.get("PRETTY_NAME") or release.get("NAME")
        return f"{name} ({distribution})" if distribution else name
    return name


_FENCED = re.compile(r"\A(?P<fence>`{3,}|~{3,})[^\n`]*\n(?P<body>.*?)\n?(?P=fence)[`~]*\Z", re.DOTALL)
_INLINE = re.compile(r"\A`(?P<body>[^`\n]+)`\Z")


def command_of(answer: str) -> str:
    """The command in the model's answer: the answer without surrounding white space, the inside of a Markdown
    fence (or of one pair of backticks) when the whole answer is one. Anything else stays: what is shown is
    what runs."""
    text = answer.strip()
    if (fenced := _FENCED.match(text)) is not None:
        return fenced["body"].strip()
    if (inline := _INLINE.match(text)) is not None:
        return inline["body"].strip()
    return text


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What became of a command: run (and its exit status: 128+N for a signal's death) or not."""

    executed: bool
    exit_status: int | None = None

    def as_extra(self) -> dict[str, Any]:
        return {"executed": self.executed, "exit_status": self.exit_status}


NOT_EXECUTED = CommandOutcome(False)


def with_outcome(message: Message, outcome: CommandOutcome) -> Message:
    """The answer that proposed a command, with what became of it (under COMMAND_KEY; never sent)."""
    return replace(message, extra={**message.extra, COMMAND_KEY: outcome.as_extra()})


def outcome_of(message: Message) -> CommandOutcome | None:
    """What a recorded answer says became of its command; None for an answer that proposed none."""
    kept = message.extra.get(COMMAND_KEY)
    if not isinstance(kept, dict):
        return None
    status = kept.get("exit_status")
    return CommandOutcome(kept.get("executed") is True, status if isinstance(status, int) else None)
