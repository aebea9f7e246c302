"""The REPL's slash commands: parsing a line, and carrying out a command on the session (no terminal)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chatcli.core.conversation import Message
from chatcli.core.errors import HistoryError, UsageError
from chatcli.core.session import Session
from chatcli.storage.conversation_file import Autosave, ConversationFile
from chatcli.storage.library import is_conversation_id
from chatcli.storage.recorder import Recorder
from chatcli.tools.control import ToolControl


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    summary: str
    argument: str  # "none", "optional" or "required"
    aliases: tuple[str, ...] = ()


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("help", "/help", "list commands and keys", "none"),
    CommandSpec("exit", "/exit, /quit", "leave (also Ctrl-D)", "none", ("quit",)),
    CommandSpec("model", "/model [NAME]", "show or switch the model", "optional"),
    CommandSpec("system", "/system [TEXT]", "show or set the system prompt", "optional"),
    CommandSpec("clear", "/clear", "start a new conversation (keeps the system prompt)", "none"),
    CommandSpec("retry", "/retry", "regenerate the last answer", "none"),
    CommandSpec("undo", "/undo", "drop the last question and its answer", "none"),
    CommandSpec("save", "/save [FILE]", "save now, and after every turn from now on", "optional"),
    CommandSpec(
        "load", "/load FILE", "replace the conversation with a saved one (or a library id)", "required"
    ),
    CommandSpec("history", "/history", "show the conversation so far", "none"),
    CommandSpec(
        "tools",
        "/tools [on [NAME,…]|off|list]",
        "offer MCP tools to the model, or stop; list them",
        "optional",
    ),
    CommandSpec(
        "copy",
        "/copy [N]",
        "copy code block N of the last answer (default: the last) to the clipboard",
        "optional",
    ),
)

_BY_NAME = {name: spec for spec in COMMANDS for name in (spec.name, *spec.aliases)}

KEYS_HELP = (
    "Enter sends · Alt-Enter or Esc Enter: new line · Up, Ctrl-R: input history · "
    "Ctrl-C: clear the line or stop an answer · Ctrl-D: exit · //text sends a line that starts with /"
)


def command_names() -> list[str]:
    """Every spelling of every command, without the slash, in /help order."""
    return [name for spec in COMMANDS for name in (spec.name, *spec.aliases)]


def summary_of(name: str) -> str:
    return _BY_NAME[name].summary


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # canonical: "exit" for /quit
    argument: str


def parse_line(line: str) -> Command | str | None:
    """A slash command, the text to send to the model, or None for a blank line.

    A line that starts with `//` is sent with one slash.
    Raises UsageError for an unknown command or a bad argument.
    """
    text = line.strip()
    if not text:
        return None
    if text.startswith("//"):
        return text[1:]
    if not text.startswith("/"):
        return text
    parts = text[1:].split(maxsplit=1)
    name = parts[0].lower() if parts else ""
    argument = parts[1].strip() if len(parts) > 1 else ""
    spec = _find_command(name)
    if spec is None:
        shown = f"/{parts[0]}" if parts else "/"
        raise UsageError(
            f"unknown command {shown[:40]}; type /help for the list, or // to send a line starting with /"
        )
    if spec.argument == "none" and argument:
        raise UsageError(f"/{spec.name} takes no argument")
    if spec.argument == "required" and not argument:
        raise UsageError(f"/{spec.name} needs an argument: {spec.usage}")
    return Command(spec.name, argument)


def _find_command(name: str) -> CommandSpec | None:
    """The command called `name`, or the only one whose name starts with it (`/mo` is /model)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if not name:
        return None
    matches = {
        spec.name: spec for spec in COMMANDS for alias in (spec.name, *spec.aliases) if alias.startswith(name)
    }
    if len(matches) > 1:
        raise UsageError(f"/{name} could be {', '.join('/' + match for match in matches)}; type more of it")
    return next(iter(matches.values()), None)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks in `markdown`; an unclosed last one (a cut-off answer) too."""
    blocks: list[str] = []
    lines: list[str] | None = None
    fence = ""
    for line in markdown.splitlines():
        if lines is None:
            match = _FENCE.match(line)
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence, lines = match.group(1), []
            continue
        closing = line.strip()
        if closing.startswith(fence) and closing == fence[0] * len(closing):
            blocks.append("\n".join(lines))
            lines = None
        else:
            lines.append(line)
    if lines is not None:
        blocks.append("\n".join(lines))
    return blocks


def preview(text: str, width: int = 60) -> str:
    """The start of `text` on one line."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class Screen(Protocol):
    """Where commands show things; the terminal in the REPL, a recorder in tests."""

    def notice(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def show_messages(self, messages: Sequence[Message]) -> None: ...

    def copy_to_clipboard(self, text: str) -> bool: ...


class CommandRunner:
    """Carries out slash commands on a session; decides where the conversation is saved (`autosave.file`)."""

    def __init__(
        self,
        session: Session,
        screen: Screen,
        ask: Callable[[str], None],
        autosave: Autosave,
        recorder: Recorder,
        model_aliases: Mapping[str, str] | None = None,
        known_files: Sequence[ConversationFile] = (),
        tools: ToolControl | None = None,
    ) -> None:
        self.session = session
        self.screen = screen
        self.autosave = autosave
        self._recorder = recorder
        self._model_aliases = model_aliases or {}
        self._ask = ask
        self._tools = tools
        # Files we loaded or wrote, by absolute path: saving to them again continues them.
        saving = [autosave.file] if autosave.file is not None else []
        self._files = {os.path.abspath(f.path): f for f in (*known_files, *saving)}
        self._actions: dict[str, Callable[[str], bool]] = {
            "help": self._help,
            "exit": lambda _: False,
            "model": self._model,
            "system": self._system,
            "clear": self._clear,
            "retry": self._retry,
            "undo": self._undo,
            "save": self._save,
            "load": self._load,
            "history": self._history,
            "copy": self._copy,
            "tools": self._tool_command,
        }

    def run(self, command: Command) -> bool:
        """Carry out `command`; False means leave the REPL."""
        return self._actions[command.name](command.argument)

    def _save_now(self) -> None:
        self.autosave.save(self.session.conversation)

    def _help(self, _: str) -> bool:
        width = max(len(spec.usage) for spec in COMMANDS)
        for spec in COMMANDS:
            self.screen.notice(f"{spec.usage:<{width}}  {spec.summary}")
        self.screen.notice(KEYS_HELP)
        return True

    def _model(self, name: str) -> bool:
        if name:
            alias, name = name, self._model_aliases.get(name, name)
            self.session.switch_model(name)
            self.screen.notice(f"model set to {name}" + (f" (alias {alias})" if alias != name else ""))
            self._save_now()
        else:
            self.screen.notice(f"model: {self.session.model}")
        return True

    def _system(self, text: str) -> bool:
        conversation = self.session.conversation
        if text:
            conversation.set_system(text)
            self.screen.notice("system prompt set")
            self._save_now()
        elif conversation.system is None:
            self.screen.notice("no system prompt; set one with /system TEXT")
        else:
            self.screen.notice(f"system prompt: {conversation.system}")
        return True

    def _clear(self, _: str) -> bool:
        self.session.conversation.clear()
        self._stop_saving_after_replace("new conversation")
        return True

    def _stop_saving_after_replace(self, what_happened: str) -> None:
        """The conversation was replaced: the save file keeps the previous one, so saving to it stops."""
        if self.autosave.file is None:
            self.screen.notice(what_happened)
            return
        self.screen.notice(
            f"{what_happened}; {self.autosave.file.path} keeps the previous conversation "
            "(/save FILE to save this one)"
        )
        self.autosave.file = None

    def _retry(self, _: str) -> bool:
        conversation = self.session.conversation
        removed = conversation.pop_exchange()
        if not removed:
            self.screen.notice("nothing to retry yet")
            return True
        before = len(conversation.messages)
        self.screen.notice(f"retrying: {preview(removed[0].text)}")
        try:
            self._ask(removed[0].text)
        finally:
            if len(conversation.messages) == before:  # no new answer (an error, or stopped before any text)
                conversation.messages += removed  # so the old one stays
        return True

    def _undo(self, _: str) -> bool:
        removed = self.session.conversation.pop_exchange()
        if removed:
            self.screen.notice(f"removed: {preview(removed[0].text)}")
            self._save_now()
        else:
            self.screen.notice("nothing to undo")
        return True

    def _save(self, name: str) -> bool:
        if name:
            target = self._file(name)
        elif self.autosave.file is not None:
            target = self.autosave.file
        else:
            recorded = self._recorder.recorded_id
            kept = f" (the library keeps it as {recorded})" if recorded else ""
            self.screen.warn(f"no file to save to; use /save FILE{kept}")
            return True
        try:
            target.save(self.session.conversation)
        except HistoryError as error:
            self.screen.warn(f"not saved: {error}")
            return True
        self.autosave.file = target
        self.screen.notice(f"saved to {target.path}; saving after every turn")
        return True

    def _load(self, name: str) -> bool:
        if is_conversation_id(name) and not Path(name).expanduser().exists():
            return self._load_from_library(name)
        source = self._file(name)
        try:
            loaded = source.load()
        except HistoryError as error:
            self.screen.warn(str(error))
            return True
        self.session.replace_conversation(loaded)
        self.screen.show_messages(self.session.conversation.messages)
        if self.autosave.file is not None:
            self.autosave.file = source
            self.screen.notice(f"loaded {source.path}; saving to it after every turn")
        else:
            self.screen.notice(f"loaded {source.path}")
        return True

    def _load_from_library(self, reference: str) -> bool:
        """/load ID: a conversation from the library; the next turns continue it there."""
        try:
            loaded = self._recorder.resume(reference)
        except (HistoryError, UsageError) as error:
            self.screen.warn(str(error))
            return True
        self.session.replace_conversation(loaded)
        conversation_id = self._recorder.conversation_id
        self.screen.show_messages(self.session.conversation.messages)
        self._stop_saving_after_replace(f"loaded {conversation_id} from the library")
        return True

    def _history(self, _: str) -> bool:
        if any(message.role != "system" for message in self.session.conversation.messages):
            self.screen.show_messages(self.session.conversation.messages)
        else:
            self.screen.notice("the conversation is empty")
        return True

    def _copy(self, argument: str) -> bool:
        if argument and not (argument.isdigit() and int(argument) > 0):
            self.screen.warn("/copy takes the number of a code block: /copy 2")
            return True
        answer = next(
            (m for m in reversed(self.session.conversation.messages) if m.role == "assistant"), None
        )
        if answer is None:
            self.screen.notice("no answer to copy from yet")
            return True
        blocks = code_blocks(answer.text)
        if not blocks and not argument:
            text, what = answer.text, "the last answer (it has no code block)"
        elif not blocks or int(argument or len(blocks)) > len(blocks):
            self.screen.warn(f"the last answer has {len(blocks)} code block{'s' if len(blocks) != 1 else ''}")
            return True
        else:
            number = int(argument or len(blocks))
            text, what = blocks[number - 1], f"code block {number} of {len(blocks)}"
        if self.screen.copy_to_clipboard(text):
            self.screen.notice(f"copied {what} to the clipboard ({len(text.splitlines())} lines)")
        return True

    def _tool_command(self, argument: str) -> bool:
        action, _, names = argument.partition(" ")
        if self._tools is None:
            self.screen.notice("tools are not available in this session")
        elif action == "on":
            try:
                self.screen.notice(self._tools.on(names.strip()))
            except UsageError as error:
                self.screen.warn(str(error))
        elif action == "off" and not names:
            self.screen.notice(self._tools.off())
        elif action in ("list", "") and not names:
            for line in self._tools.lines():
                self.screen.notice(line)
        else:
            self.screen.warn("/tools takes on [NAME,…], off or list")
        return True

    def _file(self, name: str) -> ConversationFile:
        path = Path(name).expanduser()
        key = os.path.abspath(path)
        if key not in self._files:
            self._files[key] = ConversationFile(path)
        return self._files[key]
