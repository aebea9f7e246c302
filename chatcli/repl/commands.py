"""The REPL's slash commands: parsing a line, and carrying out a command on the session (no terminal)."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chatcli.core.compaction import DEFAULT_COMPACT_PROMPT
from chatcli.core.conversation import Content, Message
from chatcli.core.errors import HistoryError, UsageError
from chatcli.core.request_options import parse_option_value, reserved_option_problem
from chatcli.core.session import Session, TurnOverrides
from chatcli.repl.attachments import Draft, InputCommands
from chatcli.repl.conversation_commands import Confirm, ConversationCommands, Summarize, summary_on_screen
from chatcli.repl.copying import Copied, copied, described, parse_copy, write_copy
from chatcli.repl.screen import Ask, Screen
from chatcli.storage.conversation_file import Autosave, ConversationFile, NotOurFileError
from chatcli.storage.inputs import Limits
from chatcli.storage.library import is_conversation_id
from chatcli.storage.recorder import Recorder
from chatcli.storage.templates import Template
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
    CommandSpec(
        "model", "/model [NAME]", "show or switch the model (checked against the server's list)", "optional"
    ),
    CommandSpec(
        "system", "/system [TEXT|--clear]", "show, set or (--clear) remove the system prompt", "optional"
    ),
    CommandSpec("clear", "/clear", "start a new conversation (keeps the system prompt)", "none"),
    CommandSpec("retry", "/retry", "regenerate the last answer, or ask a failed question again", "none"),
    CommandSpec("undo", "/undo", "drop the last question and its answer", "none"),
    CommandSpec(
        "save",
        "/save [FILE]",
        "save now, and after every turn from now on (/save! FILE overwrites a file chatcli did not write)",
        "optional",
    ),
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
        "/copy [N|code [K]] [FILE]",
        "copy the last answer's Markdown (or answer N, or code block K of the last answer, by default its "
        "last) to the terminal's clipboard, or to FILE (/copy! FILE overwrites one)",
        "optional",
    ),
    CommandSpec(
        "file",
        "/file [PATH|URL…|-]",
        "attach files, folders, images, PDFs or web pages to the next message; - clears",
        "optional",
    ),
    CommandSpec("paste", "/paste", "attach the clipboard's image or text to the next message", "none"),
    CommandSpec(
        "edit",
        "/edit [N]",
        "reopen the last question (or question N); sending it regenerates from there, the library keeps the old",
        "optional",
    ),
    CommandSpec(
        "rename", "/rename NAME", "name this conversation in the library (--cid NAME resumes it)", "required"
    ),
    CommandSpec(
        "fork", "/fork [N]", "go on in a new conversation of the first N messages (default: all)", "optional"
    ),
    CommandSpec(
        "compact",
        "/compact [INSTRUCTIONS]",
        "summarise the conversation; on your yes, go on in a new one that starts from the summary",
        "optional",
    ),
    CommandSpec("set", "/set [KEY [VALUE]]", "list, set or (no VALUE) remove request options", "optional"),
    CommandSpec(
        "cmd",
        "/cmd TASK",
        "ask for a shell command (a small conversation of its own); it runs only on your e key",
        "required",
    ),
)

_BY_NAME = {name: spec for spec in COMMANDS for name in (spec.name, *spec.aliases)}
# The user's templates, each a command too (/review TEXT): set once when the chat starts, by `use_templates`.
# A template named like a built-in command is reachable only through -T.
_TEMPLATES: dict[str, Template] = {}
_TEMPLATE_SPECS: dict[str, CommandSpec] = {}
_TEMPLATE_PARAMS: dict[str, Mapping[str, str]] = {}


def use_templates(
    templates: Mapping[str, Template], params: Mapping[str, Mapping[str, str]] | None = None
) -> None:
    """Make every template (not named like a built-in command) a slash command of this chat; `params` are
    the parameters given for some of them (-T NAME -P KEY VALUE), the others take their defaults."""
    _TEMPLATES.clear()
    _TEMPLATE_SPECS.clear()
    _TEMPLATE_PARAMS.clear()
    _TEMPLATE_PARAMS.update(params or {})
    for name, template in templates.items():
        if name not in _BY_NAME:
            _TEMPLATES[name] = template
            _TEMPLATE_SPECS[name] = CommandSpec(
                name,
                f"/{name} [TEXT]",
                f"template: {template.summary}" if template.summary else "template",
                "optional",
            )


def _all_specs() -> list[CommandSpec]:
    return [*COMMANDS, *_TEMPLATE_SPECS.values()]


KEYS_HELP = (
    "Enter sends · Alt-Enter or Esc Enter: new line · Ctrl-X Ctrl-E: edit in $EDITOR · Up, Ctrl-R: input history · "
    "Tab: complete · Ctrl-C: clear the line, stop an answer or cancel an /edit · Ctrl-D: exit · "
    "//text sends a line that starts with /",
    "A line that is just exit, quit or :q leaves; just clear or help runs /clear or /help.",
    "/copy goes through the terminal (OSC 52, also over SSH); in tmux it needs `set -g set-clipboard on`. "
    "/copy N is now answer N: code blocks are /copy code [K]",
    "The toolbar's ctx 12.4k/32.8k (38%) is how full the model's context window is (the context_window setting "
    "gives the window when the server does not say).",
)
NARROW_SUMMARY = 24  # columns a summary needs beside the usage; narrower, it goes on a line of its own


def help_lines(width: int) -> list[str]:
    """/help's text wrapped to `width` columns, never inside a word: each usage with its summary beside it (or
    below it, indented, on a narrow terminal), then the keys."""
    specs = _all_specs()
    column = max(len(spec.usage) for spec in specs) + 2
    beside = width - column >= NARROW_SUMMARY
    lines: list[str] = []
    for spec in specs:
        if beside:
            lines += textwrap.wrap(
                spec.summary,
                width,
                initial_indent=spec.usage.ljust(column),
                subsequent_indent=" " * column,
                break_long_words=False,
                break_on_hyphens=False,
            )
        else:
            lines += _wrap(spec.usage, width, "", "  ")
            lines += _wrap(spec.summary, width, "  ", "  ")
    for paragraph in KEYS_HELP:
        lines += _wrap(paragraph, width, "", "  ")
    return lines


def _wrap(text: str, width: int, first: str, indent: str) -> list[str]:
    """`text` in lines of `width` columns, the first indented by `first`, the others by `indent`."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


# A line that is just one of these words is that command, as in other chats and shells; the slash form is
# the documented one, so the two that do something other than leave say so.
BARE_COMMANDS = {"exit": "exit", "quit": "exit", ":q": "exit", "clear": "clear", "help": "help"}


def command_names() -> list[str]:
    """Every spelling of every command, without the slash, in /help order."""
    return [name for spec in _all_specs() for name in (spec.name, *spec.aliases)]


def summary_of(name: str) -> str:
    spec = _BY_NAME.get(name) or _TEMPLATE_SPECS[name]
    return spec.summary


# /system --clear removes the system prompt; so do `-` (as /file -) and an empty pair of quotes, which no one
# means as a system prompt of their own.
CLEAR_SYSTEM = frozenset({"--clear", "-", '""', "''"})

_BANG_COMMANDS = frozenset({"save", "copy"})  # those that take a `!` to overwrite on purpose: /save! FILE


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # canonical: "exit" for /quit
    argument: str
    bang: bool = False  # written with a `!` (/save! FILE)
    bare: bool = False  # written without the slash (BARE_COMMANDS)


def parse_line(line: str) -> Command | str | None:
    """A slash command, the text to send to the model, or None for a blank line.

    A line that starts with `//` is sent with one slash; a line that is just a word of BARE_COMMANDS is
    that command.
    Raises UsageError for an unknown command or a bad argument.
    """
    text = line.strip()
    if not text:
        return None
    if text in BARE_COMMANDS:
        return Command(BARE_COMMANDS[text], "", bare=True)
    if text.startswith("//"):
        return text[1:]
    if not text.startswith("/"):
        return text
    parts = text[1:].split(maxsplit=1)
    name = parts[0].lower() if parts else ""
    argument = parts[1].strip() if len(parts) > 1 else ""
    bang = name.endswith("!") and name[:-1] in _BANG_COMMANDS
    spec = _find_command(name[:-1] if bang else name)
    if spec is None:
        shown = f"/{parts[0]}" if parts else "/"
        raise UsageError(
            f"unknown command {shown[:40]}; type /help for the list, or // to send a line starting with /"
        )
    if spec.argument == "none" and argument:
        raise UsageError(f"/{spec.name} takes no argument")
    if spec.argument == "required" and not argument:
        raise UsageError(f"/{spec.name} needs an argument: {spec.usage}")
    return Command(spec.name, argument, bang)


def _find_command(name: str) -> CommandSpec | None:
    """The command called `name`, or the only one whose name starts with it (`/mo` is /model)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name in _TEMPLATE_SPECS:
        return _TEMPLATE_SPECS[name]
    if not name:
        return None
    matches = {
        spec.name: spec
        for spec in _all_specs()
        for alias in (spec.name, *spec.aliases)
        if alias.startswith(name)
    }
    if len(matches) > 1:
        raise UsageError(f"/{name} could be {', '.join('/' + match for match in matches)}; type more of it")
    return next(iter(matches.values()), None)


def preview(text: str, width: int = 60) -> str:
    """The start of `text` on one line."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class KnownModels:
    """The model names (aliases, then the server's), asked for once: at the first /model NAME or Tab after
    /model, since asking the server may take a second."""

    def __init__(self, fetch: Callable[[], list[str]]) -> None:
        self._fetch = fetch
        self._names: list[str] | None = None

    def __call__(self) -> list[str]:
        if self._names is None:
            self._names = self._fetch()
        return self._names


class CommandRunner:
    """Carries out slash commands on a session; decides where the conversation is saved (`autosave.file`)."""

    def __init__(
        self,
        session: Session,
        screen: Screen,
        ask: Ask,
        autosave: Autosave,
        recorder: Recorder,
        model_aliases: Mapping[str, str] | None = None,
        known_files: Sequence[ConversationFile] = (),
        inputs: InputCommands | None = None,
        tools: ToolControl | None = None,
        model_names: Callable[[], list[str]] | None = None,
        width: Callable[[], int] = lambda: 80,
        copy_file: Path | None = None,
        summarize: Summarize | None = None,
        confirm: Confirm = lambda _: False,
        compact_prompt: str = DEFAULT_COMPACT_PROMPT,
        shell_command: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        self._shell_command = shell_command  # /cmd, on the terminal
        self._copy_file = copy_file  # where /copy writes when there is no terminal to take it
        self._model_names = model_names  # aliases, then the server's models; none known: the aliases only
        self._width = width  # the terminal's columns, for /help
        self.screen = screen
        self.autosave = autosave
        self._recorder = recorder
        self._model_aliases = model_aliases or {}
        self._ask = ask
        self._unanswered: Content | None = (
            None  # the question of the last turn, when it failed before any text
        )
        self._tools = tools
        # Files we loaded or wrote, by absolute path: saving to them again continues them.
        saving = [autosave.file] if autosave.file is not None else []
        self._files = {os.path.abspath(f.path): f for f in (*known_files, *saving)}
        self.inputs = inputs or InputCommands(session, screen, Draft(), Limits(), {})
        named = ConversationCommands(
            session,
            screen,
            recorder,
            self._stop_saving_after_replace,
            summarize=summarize or summary_on_screen(session, screen),
            confirm=confirm,
            compact_prompt=compact_prompt,
        )
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
            "file": self.inputs.file,
            "paste": self.inputs.paste,
            "edit": self.inputs.edit,
            "set": self._set,
            "tools": self._tool_command,
            "rename": named.rename,
            "fork": named.fork,
            "compact": named.compact,
            "cmd": self._cmd,
        }

    def run(self, command: Command) -> bool:
        """Carry out `command`; False means leave the REPL."""
        if command.name in _TEMPLATES and command.name not in self._actions:
            return self._template(_TEMPLATES[command.name], command.argument)
        if command.name in ("clear", "undo", "load"):
            self._unanswered = None
        if command.bang:
            overwriting = self._save if command.name == "save" else self._copy
            return overwriting(command.argument, overwrite=True)
        if command.bare and command.name != "exit":
            self.screen.notice(f"(/{command.name} is the documented form)")
        return self._actions[command.name](command.argument)

    def send(self, text: Content) -> bool:
        """Ask `text` (a string, or text and image parts); True when the turn was committed. When it leaves
        the conversation as it was (it failed, or was stopped, before any text), remember it for /retry."""
        result = self._ask(text, None)
        committed = result is not None and result.committed
        self._unanswered = None if committed else text
        return committed

    def _save_now(self) -> None:
        self.autosave.save(self.session.conversation)

    def _help(self, _: str) -> bool:
        for line in help_lines(max(self._width() - 1, 20)):  # the last column: some terminals wrap there
            self.screen.notice(line)
        return True

    def _model(self, name: str) -> bool:
        if not name:
            self.screen.notice(f"model: {self.session.model}")
            return True
        alias, name = name, self._model_aliases.get(name, name)
        self.session.switch_model(name)
        self.screen.notice(f"model set to {name}" + (f" (alias {alias})" if alias != name else ""))
        self._save_now()
        if self._model_names is not None:
            served = [known for known in self._model_names() if known not in self._model_aliases]
            if not served:
                self.screen.warn(f"{name} is not checked: the server's model list is not available")
            elif name not in served:
                self.screen.warn(f"the server does not list {name}; /model then Tab shows the models it does")
        return True

    def _system(self, text: str) -> bool:
        conversation = self.session.conversation
        if text in CLEAR_SYSTEM:
            removed = conversation.system is not None
            conversation.set_system(None)
            self.screen.notice("system prompt removed" if removed else "no system prompt to remove")
            if removed:
                self._save_now()
        elif text:
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
        self._recorder.attach(None, self.session.conversation)  # a new one, not named after the last
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
        if self._unanswered is not None:
            self.screen.notice(f"retrying: {preview(Message('user', self._unanswered).text)}")
            self.send(self._unanswered)
            return True
        conversation = self.session.conversation
        removed = conversation.pop_exchange()
        if not removed:
            self.screen.notice("nothing to retry yet")
            return True
        self.screen.notice(f"retrying: {preview(removed[0].text)}")
        result = None
        try:
            result = self._ask(removed[0].content, None)
        finally:
            if result is None or not result.committed:  # no new answer (an error, or stopped before any text)
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

    def _save(self, name: str, *, overwrite: bool = False) -> bool:
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
            target.save(self.session.conversation, overwrite=overwrite)
        except NotOurFileError as error:
            what = str(error) if error.changed else f"{target.path} exists"
            self.screen.warn(f"not saved: {what}; /save! {target.path} overwrites it")
            return True
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
        self._recorder.attach_copy(loaded)  # continues the library conversation it was saved from, if any
        self.screen.show_messages(self.session.conversation.messages)
        self._stop_saving_after_replace(f"loaded {source.path}")
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

    def _copy(self, argument: str, *, overwrite: bool = False) -> bool:
        try:
            choice = parse_copy(argument)
            taken = copied(choice, self.session.conversation.messages)
            if choice.file is not None:
                return self._copy_to_file(Path(choice.file).expanduser(), taken, overwrite=overwrite)
        except UsageError as error:
            self.screen.warn(str(error))
            return True
        if self.screen.copy_to_clipboard(taken.text):  # no terminal says whether it honoured OSC 52
            self.screen.notice(f"sent {described(taken)}, to the terminal's clipboard (OSC 52)")
        elif self._copy_file is not None:  # no terminal to take it
            return self._copy_to_file(self._copy_file, taken, overwrite=True)
        return True

    def _copy_to_file(self, path: Path, taken: Copied, *, overwrite: bool) -> bool:
        try:
            write_copy(path, taken.text, overwrite=overwrite)
        except UsageError as error:
            self.screen.warn(str(error))
            return True
        self.screen.notice(f"wrote {described(taken)}, to {path}")
        return True

    def _set(self, argument: str) -> bool:
        """/set: list the request options; /set KEY VALUE: set one (JSON when it parses); /set KEY: remove it."""
        options = self.session.options
        key, _, value = argument.partition(" ")
        if not key:
            if not options:
                self.screen.notice("no request options; set one with /set KEY VALUE")
            for name, current in options.items():
                self.screen.notice(f"{name} = {json.dumps(current, ensure_ascii=False)}")
            return True
        if (problem := reserved_option_problem(key)) is not None:
            self.screen.warn(problem)
        elif not value.strip():
            removed = options.pop(key, None) is not None
            self.screen.notice(f"{key} removed" if removed else f"{key} is not set")
        else:
            options[key] = parse_option_value(value.strip())
            self.screen.notice(
                f"{key} = {json.dumps(options[key], ensure_ascii=False)} from the next turn on"
            )
        return True

    def _template(self, template: Template, text: str) -> bool:
        """/NAME TEXT: the template's prompt with TEXT as {input}, sent with its model, system prompt and
        options for this turn; a template without a prompt makes its system prompt the conversation's own."""
        given = _TEMPLATE_PARAMS.get(template.name, {})
        try:
            prompt = template.fill(text, given)
            system = template.system_prompt(given)
        except UsageError as error:
            self.screen.warn(str(error))
            return True
        if template.prompt is None and system is not None:
            self.session.conversation.set_system(system)
        model = self._model_aliases.get(template.model, template.model) if template.model else None
        # With a prompt, the system prompt is this turn's only, as with -T.
        turn_system = system if template.prompt is not None else None
        self._ask(prompt, TurnOverrides(model=model, system=turn_system, options=template.options))
        return True

    def _cmd(self, task: str) -> bool:
        if self._shell_command is None:
            self.screen.notice("/cmd is not available in this session")
        else:
            self._shell_command(task)
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
