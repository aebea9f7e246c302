"""The REPL without a terminal: commands, code blocks, OSC 52, key bindings on pipe input, the spinner."""

from __future__ import annotations

import base64
import io
import json
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Self

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.backends.background import BackgroundBackend
from chatcli.backends.echo import EchoBackend
from chatcli.core.conversation import Content, Conversation, Message, Status
from chatcli.core.errors import BackendError, UsageError
from chatcli.core.session import Session, TurnOverrides
from chatcli.core.stream import AnswerStream, BackendSettings, ChatRequest, StreamInfo
from chatcli.core.turn import TurnResult
from chatcli.render.code_blocks import code_blocks
from chatcli.render.plain import PlainRenderer
from chatcli.render.turn_display import TurnDisplay
from chatcli.repl.commands import (
    COMMANDS,
    KEYS_HELP,
    Command,
    CommandRunner,
    KnownModels,
    help_lines,
    parse_line,
    use_templates,
)
from chatcli.repl.prompt import PromptState, SlashCompleter, build_prompt_session
from chatcli.repl.terminal import osc52
from chatcli.storage.conversation_file import Autosave, ConversationFile
from chatcli.storage.recorder import Recorder
from chatcli.storage.templates import Template
from tests.fakes import ScriptedBackend

# --- parsing ------------------------------------------------------------------------------------------------


def test_plain_text_is_sent_stripped_and_blank_lines_are_ignored() -> None:
    assert parse_line("  what is 2+2?  ") == "what is 2+2?"
    assert parse_line(" \n\t ") is None


def test_a_multi_line_message_stays_one_message() -> None:
    assert parse_line("first\nsecond\n") == "first\nsecond"


def test_slash_commands_are_parsed_with_their_argument() -> None:
    assert parse_line("/model  gpt-4o ") == Command("model", "gpt-4o")
    assert parse_line("/SYSTEM be brief\nand kind") == Command("system", "be brief\nand kind")
    assert parse_line("/quit") == Command("exit", "")
    assert parse_line("/copy") == Command("copy", "")


def test_a_unique_prefix_names_a_command_and_an_ambiguous_one_says_which() -> None:
    assert parse_line("/mo big") == Command("model", "big")
    assert parse_line("/q") == Command("exit", "")
    with pytest.raises(UsageError, match=r"^/c could be /clear, /copy, /compact, /cmd; type more of it$"):
        parse_line("/c")


def test_double_slash_sends_a_line_that_starts_with_a_slash() -> None:
    assert parse_line("//usr/bin is a directory") == "/usr/bin is a directory"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/usr/bin/env", "unknown command /usr/bin/env; type /help for the list"),
        ("/", "unknown command /;"),
        ("/clear now", "/clear takes no argument"),
        ("/load", "/load needs an argument: /load FILE"),
    ],
)
def test_bad_commands_are_one_line_usage_errors(line: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_line(line)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_code_blocks_follow_fences_of_either_kind_and_length() -> None:
    answer = (
        "Intro\n```python\nprint(1)\n```\ntext\n~~~\nraw ``` inside\n~~~\n"
        "````md\n```\nnested\n```\n````\n```sh\nls -l\n"
    )
    assert code_blocks(answer) == ["print(1)", "raw ``` inside", "```\nnested\n```", "ls -l"]
    assert code_blocks("no code, just `inline`") == []


def test_osc52_carries_the_text_base64_encoded() -> None:
    sequence = osc52("héllo\n")
    match = re.fullmatch(r"\x1b\]52;c;([A-Za-z0-9+/=]+)\x07", sequence)
    assert match is not None
    assert base64.b64decode(match.group(1)).decode() == "héllo\n"


# --- carrying out commands ----------------------------------------------------------------------------------


class RecordingScreen:
    def __init__(self) -> None:
        self.notices: list[str] = []
        self.warnings: list[str] = []
        self.shown: list[list[Message]] = []
        self.clipboard: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def show_messages(self, messages: Sequence[Message]) -> None:
        self.shown.append(list(messages))

    def copy_to_clipboard(self, text: str) -> bool:
        self.clipboard.append(text)
        return True


class Chat(NamedTuple):
    """A CommandRunner on a session, the screen it reports to, and the `ask` it was given: what the REPL
    calls with a line that is not a command."""

    runner: CommandRunner
    screen: RecordingScreen
    ask: Callable[[str], TurnResult | None]


def make_chat(
    backend: ScriptedBackend, save_file: ConversationFile | None = None, aliases: dict[str, str] | None = None
) -> Chat:
    screen = RecordingScreen()
    autosave = Autosave(save_file, warn=screen.warn)
    recorder = Recorder(Path("/nonexistent/library.db"), screen.warn, records=False)
    session = Session(backend, Conversation(model="m1"), "m1", observers=[autosave])

    def ask(text: Content, overrides: TurnOverrides | None = None) -> TurnResult | None:
        try:
            return session.turn(text, PlainRenderer(io.BytesIO()), overrides=overrides)
        except BackendError as error:
            screen.warn(str(error))
            return None

    return Chat(CommandRunner(session, screen, ask, autosave, recorder, model_aliases=aliases), screen, ask)


def make_runner(
    backend: ScriptedBackend, save_file: ConversationFile | None = None, aliases: dict[str, str] | None = None
) -> tuple[CommandRunner, RecordingScreen]:
    """The runner and its screen, for a test that needs no `ask`."""
    chat = make_chat(backend, save_file, aliases)
    return chat.runner, chat.screen


def run(runner: CommandRunner, line: str) -> bool:
    command = parse_line(line)
    assert isinstance(command, Command)
    return runner.run(command)


def texts(runner: CommandRunner) -> list[tuple[str, str]]:
    return [(message.role, message.text) for message in runner.session.conversation.messages]


def test_retry_replaces_the_last_answer_and_sends_the_same_question() -> None:
    backend = ScriptedBackend("first answer", "second answer")
    runner, _, ask = make_chat(backend)
    ask("question")
    assert run(runner, "/retry") is True
    assert texts(runner) == [("user", "question"), ("assistant", "second answer")]
    assert [m.text for m in backend.requests[1].messages] == ["question"]


def test_a_failed_retry_keeps_the_previous_answer() -> None:
    runner, screen, ask = make_chat(
        ScriptedBackend("kept", BackendError("cannot connect to x (connection refused)"))
    )
    ask("question")
    run(runner, "/retry")
    assert texts(runner) == [("user", "question"), ("assistant", "kept")]
    assert screen.warnings == ["cannot connect to x (connection refused)"]


def test_undo_drops_the_last_exchange_and_retry_with_nothing_sends_nothing() -> None:
    backend = ScriptedBackend("a1", "a2")
    runner, screen, ask = make_chat(backend)
    ask("q1")
    ask("q2")
    run(runner, "/undo")
    assert texts(runner) == [("user", "q1"), ("assistant", "a1")]
    run(runner, "/undo")
    run(runner, "/undo")
    run(runner, "/retry")
    assert texts(runner) == []
    assert screen.notices[-2:] == ["nothing to undo", "nothing to retry yet"]
    assert len(backend.requests) == 2


def test_model_resolves_a_configured_alias_and_the_next_request_uses_it() -> None:
    backend = ScriptedBackend("answer")
    runner, screen, ask = make_chat(backend, aliases={"fast": "gpt-4o-mini"})
    run(runner, "/model fast")
    ask("question")
    assert backend.requests[0].model == "gpt-4o-mini"
    assert screen.notices == ["model set to gpt-4o-mini (alias fast)"]


def test_model_and_system_are_shown_and_switched() -> None:
    runner, screen, _ = make_chat(ScriptedBackend())
    run(runner, "/model")
    run(runner, "/model qwen3")
    run(runner, "/system")
    run(runner, "/system be brief")
    run(runner, "/system")
    assert runner.session.model == "qwen3"
    assert runner.session.conversation.model == "qwen3"
    assert runner.session.conversation.system == "be brief"
    assert screen.notices == [
        "model: m1",
        "model set to qwen3",
        "no system prompt; set one with /system TEXT",
        "system prompt set",
        "system prompt: be brief",
    ]


def test_clear_keeps_the_system_prompt_and_stops_saving_over_the_old_file(tmp_path: Path) -> None:
    saved = ConversationFile(tmp_path / "chat.json")
    runner, _, ask = make_chat(ScriptedBackend("a1"), saved)
    run(runner, "/system terse")
    ask("q1")
    runner.autosave.save(runner.session.conversation)
    run(runner, "/clear")
    assert texts(runner) == [("system", "terse")]
    runner.autosave.save(runner.session.conversation)
    assert len(json.loads(saved.path.read_text())["messages"]) == 3


def test_save_then_load_round_trips_and_keeps_saving_to_the_new_file(tmp_path: Path) -> None:
    runner, screen, ask = make_chat(ScriptedBackend("a1", "a2"))
    ask("q1")
    run(runner, f"/save {tmp_path / 'one.json'}")
    assert runner.autosave.file is not None and runner.autosave.file.path == tmp_path / "one.json"
    ask("q2")
    runner.autosave.save(runner.session.conversation)
    run(runner, "/clear")
    run(runner, f"/load {tmp_path / 'one.json'}")
    assert texts(runner) == [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]
    assert screen.shown[-1] == runner.session.conversation.messages
    assert screen.warnings == []


def test_save_refuses_to_overwrite_a_file_it_did_not_write(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text("precious")
    runner, screen, ask = make_chat(ScriptedBackend("a1"))
    ask("q1")
    run(runner, f"/save {other}")
    run(runner, "/save")
    assert other.read_text() == "precious"
    assert screen.warnings[0] == f"not saved: {other} exists; /save! {other} overwrites it"
    assert screen.warnings[1] == "no file to save to; use /save FILE"


def test_load_of_a_bad_file_is_one_warning_and_keeps_the_conversation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    runner, screen, ask = make_chat(ScriptedBackend("a1"))
    ask("q1")
    run(runner, f"/load {bad}")
    assert texts(runner) == [("user", "q1"), ("assistant", "a1")]
    assert screen.warnings == [f"{bad}: invalid JSON at line 1, column 2"]


def test_copy_code_picks_the_numbered_code_block_of_the_last_answer() -> None:
    answer = "Try:\n```sh\nls\n```\nor\n```py\nimport os\nprint(os.getcwd())\n```\n"
    runner, screen, ask = make_chat(ScriptedBackend(answer))
    run(runner, "/copy code")
    assert screen.warnings == ["no answer to copy from yet"]
    ask("how do I list files?")
    run(runner, "/copy code")
    run(runner, "/copy code 1")
    run(runner, "/copy code 3")
    run(runner, "/copy code 0")
    assert screen.clipboard == ["import os\nprint(os.getcwd())", "ls"]
    assert screen.notices == [
        "sent code block 2 of 2, 2 lines, to the terminal's clipboard (OSC 52)",
        "sent code block 1 of 2, 1 line, to the terminal's clipboard (OSC 52)",
    ]
    assert screen.warnings[1:] == [
        "the last answer has 2 code blocks",
        "code blocks are numbered from 1; /copy [N] [FILE] or /copy code [K] [FILE]",
    ]


def test_copy_takes_the_markdown_source_of_the_last_answer_or_of_answer_n() -> None:
    first, second = "# One\n\n```py\nx = 1\n```\n", "**two**, with `code`"
    runner, screen, ask = make_chat(ScriptedBackend(first, second))
    ask("q1")
    ask("q2")
    run(runner, "/copy")
    run(runner, "/copy 1")
    run(runner, "/copy 3")
    assert screen.clipboard == [second, first]
    assert screen.notices == [
        "sent the last answer, 1 line, to the terminal's clipboard (OSC 52)",
        "sent answer 1 of 2, 5 lines, to the terminal's clipboard (OSC 52)",
    ]
    assert screen.warnings == ["the conversation has 2 answers"]


def test_copy_to_a_file_writes_it_privately_and_overwrites_only_with_a_bang(tmp_path: Path) -> None:
    runner, screen, ask = make_chat(ScriptedBackend("Here:\n```sh\nls -l\n```"))
    ask("q")
    target = tmp_path / "my notes.md"
    run(runner, f"/copy {target}")
    assert target.read_text() == "Here:\n```sh\nls -l\n```\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    run(runner, f"/copy code {target}")
    assert screen.warnings == [f"{target} exists; /copy! … {target} overwrites it"]
    run(runner, f"/copy! code 1 {target}")
    assert target.read_text() == "ls -l\n"
    assert screen.clipboard == []
    assert screen.notices == [
        f"wrote the last answer, 4 lines, to {target}",
        f"wrote code block 1 of 1, 1 line, to {target}",
    ]


def test_copy_without_a_terminal_writes_the_fallback_file(tmp_path: Path) -> None:
    screen = NoTerminalScreen()
    session = Session(ScriptedBackend("an answer"), Conversation(model="m1"), "m1")
    autosave = Autosave(None, warn=screen.warn)
    recorder = Recorder(Path("/nonexistent/library.db"), screen.warn, records=False)
    fallback = tmp_path / "data" / "copied.md"
    runner = CommandRunner(
        session,
        screen,
        lambda text, _: session.turn(text, PlainRenderer(io.BytesIO())),
        autosave,
        recorder,
        copy_file=fallback,
    )
    runner.send("q")
    run(runner, "/copy")
    assert fallback.read_text() == "an answer\n"
    assert screen.notices == [f"wrote the last answer, 1 line, to {fallback}"]


class NoTerminalScreen(RecordingScreen):
    def copy_to_clipboard(self, text: str) -> bool:
        return False


def test_copy_without_code_blocks_says_so() -> None:
    runner, screen, ask = make_chat(ScriptedBackend("just prose"))
    ask("q")
    run(runner, "/copy code")
    assert screen.warnings == ["the last answer has 0 code blocks"]


def test_help_lists_every_command_and_exit_leaves() -> None:
    runner, screen, _ = make_chat(ScriptedBackend())
    assert run(runner, "/help") is True
    listed = "\n".join(screen.notices)
    for name in (
        "/help",
        "/exit",
        "/quit",
        "/model",
        "/system",
        "/clear",
        "/retry",
        "/undo",
        "/save",
        "/load",
        "/history",
        "/copy",
    ):
        assert name in listed
    assert run(runner, "/exit") is False
    assert run(runner, "/quit") is False


def test_history_shows_the_conversation_with_interrupted_answers() -> None:
    runner, screen, _ = make_chat(ScriptedBackend())
    run(runner, "/history")
    assert screen.notices == ["the conversation is empty"]
    conversation = runner.session.conversation
    conversation.commit_exchange([Message("user", "q"), Message("assistant", "part", Status.INTERRUPTED)])
    run(runner, "/history")
    assert screen.shown == [conversation.messages]


# --- the prompt: key bindings on pipe input -----------------------------------------------------------------


@dataclass
class Prompt:
    state: PromptState
    session: PromptSession[str]
    pipe: PipeInput

    def answer(self, keys: str) -> str:
        self.pipe.send_text(keys)
        return self.session.prompt()


@pytest.fixture
def prompt() -> Iterator[Prompt]:
    with create_pipe_input() as pipe:
        state = PromptState()
        yield Prompt(
            state,
            build_prompt_session(state, list, InMemoryHistory(), input=pipe, output=DummyOutput()),
            pipe,
        )


def test_enter_sends_and_escape_enter_inserts_a_newline(prompt: Prompt) -> None:
    assert prompt.answer("first\x1b\rsecond\r") == "first\nsecond"


def test_a_bracketed_paste_of_several_lines_is_one_message(prompt: Prompt) -> None:
    assert prompt.answer("\x1b[200~line one\r\nline two\nline three\x1b[201~\r") == (
        "line one\nline two\nline three"
    )


def test_ctrl_c_clears_the_line(prompt: Prompt) -> None:
    assert prompt.answer("oops\x03fine\r") == "fine"
    assert prompt.state.exit_armed is False


def test_ctrl_c_twice_at_an_empty_prompt_exits(prompt: Prompt) -> None:
    with pytest.raises(EOFError):
        prompt.answer("\x03\x03")


def test_typing_after_one_ctrl_c_disarms_the_exit(prompt: Prompt) -> None:
    assert prompt.answer("\x03a\x7f\x03\r") == ""
    assert prompt.state.exit_armed is True


def test_ctrl_d_at_an_empty_prompt_exits(prompt: Prompt) -> None:
    with pytest.raises(EOFError):
        prompt.answer("\x04")


def test_ctrl_r_finds_an_earlier_line_and_enter_then_sends_it(prompt: Prompt) -> None:
    for line in ("hello world", "another line"):
        prompt.session.history.append_string(line)
    assert prompt.answer("\x12hel\r\r") == "hello world"
    assert prompt.answer("draft\x12hel\x03 kept\r") == "draft kept"  # Ctrl-C ends the search only


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        ("/mod\t\r", "/model"),
        ("/model ll\t\r", "/model llama-3"),
        ("/c\t\r", "/c"),  # two commands start so: the menu opens, nothing is chosen
        ("hello\tworld\r", "helloworld"),
    ],
)
def test_tab_completes_when_it_comes_in_one_burst_with_the_text(keys: str, line: str) -> None:
    with create_pipe_input() as pipe:
        session = build_prompt_session(
            PromptState(),
            list,
            InMemoryHistory(),
            input=pipe,
            output=DummyOutput(),
            model_names=lambda: ["gpt-4o", "llama-3"],
        )
        pipe.send_text(keys)  # one write: prompt_toolkit reads it as one burst of keys
        assert session.prompt() == line


def test_completer_offers_commands_only_for_slash_lines_and_files_after_load(tmp_path: Path) -> None:
    completer = SlashCompleter()

    def complete(text: str) -> list[str]:
        return [
            c.text
            for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
        ]

    (tmp_path / "chat.json").write_text("{}")
    assert complete("/c") == ["/clear", "/copy", "/compact", "/cmd"]
    assert complete("/copy co") == ["code"]
    assert complete(f"/copy code {tmp_path}/ch") == ["at.json"]
    assert complete("hello /c") == []
    assert complete("//c") == []
    assert complete(f"/load {tmp_path}/ch") == ["at.json"]


# --- the waiting indicator and the background backend -------------------------------------------------------


class RecordingRenderer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> Self:
        self.log.append("enter")
        return self

    def feed(self, text: str) -> None:
        self.log.append(text)

    def reason(self, text: str) -> None:
        self.log.append(f"reasoning: {text}")

    def __exit__(self, *exc: object) -> None:
        self.log.append("exit")


def test_waiting_indicator_is_erased_before_the_first_text() -> None:
    terminal = io.StringIO()
    log: list[str] = []
    with TurnDisplay(lambda: RecordingRenderer(log), terminal) as renderer:
        renderer.feed("Hel")
        spinner_output = terminal.getvalue()
        renderer.feed("lo")
    assert "waiting…" in spinner_output
    assert spinner_output.endswith("\r\x1b[2K\x1b[?25h")  # line erased, cursor shown
    assert terminal.getvalue() == spinner_output  # nothing drawn after the erase
    assert log == ["enter", "Hel", "lo", "exit"]


def test_a_turn_without_text_leaves_no_trace_and_never_starts_the_renderer() -> None:
    terminal = io.StringIO()
    log: list[str] = []
    with pytest.raises(BackendError), TurnDisplay(lambda: RecordingRenderer(log), terminal):
        raise BackendError("refused")
    assert terminal.getvalue().endswith("\r\x1b[2K\x1b[?25h")
    assert log == []


def test_background_backend_streams_once_built_and_hands_over_errors() -> None:
    echo = BackgroundBackend("echo", lambda: EchoBackend(BackendSettings()))
    echo.start()
    request = ChatRequest([Message("user", "hi")], "m")
    assert "".join(str(piece) for piece in echo.stream(request)) == "Echo: hi"

    def refuse() -> EchoBackend:
        raise UsageError("unknown backend 'x'")

    def crash() -> EchoBackend:
        raise ImportError("No module named 'openai'")

    with pytest.raises(UsageError):
        list(BackgroundBackend("x", refuse).stream(request))
    with pytest.raises(BackendError, match=r"cannot start the openai backend \(ImportError: No module named"):
        list(BackgroundBackend("openai", crash).stream(request))


def test_clear_stops_saving_so_the_file_keeps_the_previous_conversation(tmp_path: Path) -> None:
    chat = ConversationFile(tmp_path / "chat.json")
    runner, screen, ask = make_chat(ScriptedBackend("answer"), chat)
    ask("question")
    runner.autosave.save(runner.session.conversation)
    run(runner, "/clear")
    assert runner.autosave.file is None
    assert screen.notices[-1] == (
        f"new conversation; {tmp_path / 'chat.json'} keeps the previous conversation (/save FILE to save this one)"
    )
    assert [m["content"] for m in json.loads((tmp_path / "chat.json").read_text())["messages"]] == [
        "question",
        "answer",
    ]


@pytest.mark.parametrize(
    ("reason", "warning"),
    [
        ("length", "the answer was cut off at the token limit (finish_reason: length)"),
        ("content_filter", "the server's content filter stopped the answer (finish_reason: content_filter)"),
        ("stop", None),
    ],
)
def test_a_turn_says_why_the_server_cut_its_answer_short(reason: str, warning: str | None) -> None:
    class CutShort(ScriptedBackend):
        def stream(self, request: ChatRequest) -> AnswerStream:
            yield "Once upon a"
            return StreamInfo(reason)

    session = Session(CutShort(), Conversation(), "m1")
    assert session.turn("story", PlainRenderer(io.BytesIO())).cut_short == warning


# --- removing the system prompt, checking /model, /help's width, bare words, templates ----------------------


@pytest.mark.parametrize("argument", ["--clear", "-", '""', "''"])
def test_system_clear_removes_the_system_prompt(argument: str) -> None:
    runner, screen = make_runner(ScriptedBackend())
    run(runner, "/system be brief")
    run(runner, f"/system {argument}")
    run(runner, f"/system {argument}")
    assert runner.session.conversation.system is None
    assert runner.session.conversation.messages == []
    assert screen.notices == ["system prompt set", "system prompt removed", "no system prompt to remove"]


def chat_with_models(names: list[str], aliases: dict[str, str] | None = None) -> Chat:
    chat = make_chat(ScriptedBackend(), aliases=aliases)
    asked: list[int] = []

    def model_names() -> list[str]:
        asked.append(1)
        assert len(asked) == 1, "the model list is asked for once"
        return [*(aliases or {}), *names]

    runner = chat.runner
    chat = chat._replace(
        runner=CommandRunner(
            runner.session,
            chat.screen,
            chat.ask,
            runner.autosave,
            runner._recorder,
            model_aliases=aliases,
            model_names=KnownModels(model_names),
        )
    )
    return chat


def test_model_warns_about_a_name_the_server_does_not_list_and_sets_it_anyway() -> None:
    runner, screen, _ = chat_with_models(["gpt-4o", "llama-3"], aliases={"fast": "gpt-4o"})
    run(runner, "/model llama-3")
    run(runner, "/model fast")
    run(runner, "/model lama-3")
    assert runner.session.model == "lama-3"
    assert screen.notices == [
        "model set to llama-3",
        "model set to gpt-4o (alias fast)",
        "model set to lama-3",
    ]
    assert screen.warnings == ["the server does not list lama-3; /model then Tab shows the models it does"]


def test_model_says_when_the_server_list_is_not_available() -> None:
    runner, screen, _ = chat_with_models([], aliases={"fast": "gpt-4o"})
    run(runner, "/model anything")
    assert runner.session.model == "anything"
    assert screen.warnings == ["anything is not checked: the server's model list is not available"]


@pytest.mark.parametrize("width", [120, 80, 40, 30])
def test_help_is_wrapped_to_the_terminal_without_splitting_a_word(width: int) -> None:
    lines = help_lines(width)
    assert all(len(line) <= width for line in lines)
    words = " ".join([spec.usage + " " + spec.summary for spec in COMMANDS] + list(KEYS_HELP)).split()
    assert " ".join(lines).split() == words  # every word whole, in order
    if width >= 80:
        assert lines[0].startswith("/help ") and lines[0].endswith("list commands and keys")


def test_help_uses_the_width_it_is_given() -> None:
    chat = make_chat(ScriptedBackend())
    runner = CommandRunner(
        chat.runner.session,
        chat.screen,
        chat.ask,
        chat.runner.autosave,
        chat.runner._recorder,
        width=lambda: 41,
    )
    run(runner, "/help")
    assert chat.screen.notices == help_lines(40)


@pytest.mark.parametrize(
    ("line", "name"),
    [("exit", "exit"), ("quit", "exit"), (":q", "exit"), (" clear ", "clear"), ("help", "help")],
)
def test_a_line_that_is_just_a_command_word_is_that_command(line: str, name: str) -> None:
    assert parse_line(line) == Command(name, "", bare=True)


def test_bare_exit_leaves_and_bare_clear_runs_clear_with_one_note() -> None:
    runner, screen, ask = make_chat(ScriptedBackend("a1"))
    ask("q1")
    assert run_line(runner, "clear") is True
    assert runner.session.conversation.messages == []
    assert screen.notices == ["(/clear is the documented form)", "new conversation"]
    assert run_line(runner, "exit") is False
    assert run_line(runner, ":q") is False
    assert parse_line("exit now") == "exit now"  # only the word alone


def run_line(runner: CommandRunner, line: str) -> bool:
    command = parse_line(line)
    assert isinstance(command, Command)
    return runner.run(command)


@pytest.fixture
def review_template() -> Iterator[None]:
    use_templates({"review": Template("review", "test", system="You review code.", prompt="Review: {input}")})
    yield
    use_templates({})


@pytest.mark.usefixtures("review_template")
def test_a_template_command_sends_its_system_prompt_for_that_turn_only() -> None:
    backend = ScriptedBackend("reviewed", "plain")
    runner, _, ask = make_chat(backend)
    run(runner, "/review x = 1")
    ask("and this?")
    first, second = backend.requests
    assert [(m.role, m.text) for m in first.messages] == [
        ("system", "You review code."),
        ("user", "Review: x = 1"),
    ]
    assert [m.role for m in second.messages] == ["user", "assistant", "user"]
    assert runner.session.conversation.system is None
