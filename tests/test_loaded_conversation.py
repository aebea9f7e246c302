"""One rule for the model and system prompt of a loaded or resumed conversation (`-l`, `-c`, `--cid`, `/load`),
and /load leaves saving as `chatcli -l` does."""

from __future__ import annotations

import io
import json
from pathlib import Path

from chatcli.core.conversation import Conversation, Message
from chatcli.core.session import ConversationDefaults, Session
from chatcli.render.plain import PlainRenderer
from chatcli.repl.commands import Command, CommandRunner, parse_line
from chatcli.storage.conversation_file import Autosave, ConversationFile
from chatcli.storage.recorder import Recorder
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply
from tests.test_repl_commands import RecordingScreen, ScriptedBackend


def write_config(home: Path, text: str) -> None:
    config = home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)


def pirate_file(path: Path, model: str | None = "file-model") -> Path:
    messages = [{"role": "system", "content": "Be a pirate."}, {"role": "user", "content": "q"}]
    messages.append({"role": "assistant", "content": "arr"})
    path.write_text(json.dumps({"version": 1, "model": model, "messages": messages}))
    return path


# --- the rule itself --------------------------------------------------------------------------------------


def test_a_loaded_conversation_keeps_its_own_system_prompt_and_model_over_the_config_files() -> None:
    conversation = Conversation([Message("system", "Be a pirate.")], "file-model")
    ConversationDefaults("config-model", "Answer briefly.").apply(conversation)
    assert (conversation.model, conversation.system) == ("file-model", "Be a pirate.")


def test_what_the_user_asked_for_replaces_the_loaded_conversations_own() -> None:
    conversation = Conversation([Message("system", "Be a pirate.")], "file-model")
    ConversationDefaults("chosen", "Be terse.", model_chosen=True, system_chosen=True).apply(conversation)
    assert (conversation.model, conversation.system) == ("chosen", "Be terse.")


def test_settings_fill_in_what_a_loaded_conversation_lacks() -> None:
    conversation = Conversation([Message("user", "q")])
    ConversationDefaults("config-model", "Answer briefly.").apply(conversation)
    assert (conversation.model, conversation.system) == ("config-model", "Answer briefly.")


# --- ask: -l, --cid, -c -----------------------------------------------------------------------------------


def test_ask_with_load_or_cid_sends_the_conversations_own_system_prompt(
    server: OpenAIServer, isolated_home: Path, tmp_path: Path
) -> None:
    write_config(isolated_home, 'system = "Answer briefly."\nmodel = "config-model"\n')
    chat = pirate_file(tmp_path / "chat.json")
    server.enqueue(sse_reply("a1"), sse_reply("a2"), sse_reply("a3"))
    url = ["--base-url", server.url]
    assert invoke("ask", *url, "-l", str(chat), "more").returncode == 0
    imported = invoke("history", "import", str(chat))
    conversation_id = imported.stdout.decode().strip()
    assert invoke("ask", *url, "--cid", conversation_id, "more").returncode == 0
    assert invoke("ask", *url, "-s", "Be terse.", "-l", str(chat), "more").returncode == 0
    for body in server.bodies[:2]:
        assert body["messages"][0] == {"role": "system", "content": "Be a pirate."}
        assert body["model"] == "file-model"
    assert server.bodies[2]["messages"][0] == {"role": "system", "content": "Be terse."}


# --- the REPL's /load --------------------------------------------------------------------------------------


def repl_runner(
    defaults: ConversationDefaults, save_file: ConversationFile | None = None
) -> tuple[CommandRunner, RecordingScreen, ScriptedBackend]:
    screen = RecordingScreen()
    backend = ScriptedBackend("a1", "a2")
    autosave = Autosave(save_file, warn=screen.warn)
    recorder = Recorder(Path("/nonexistent/library.db"), screen.warn, records=False)
    conversation = Conversation(model=defaults.model)
    defaults.apply(conversation)
    session = Session(backend, conversation, defaults.model, observers=[autosave], defaults=defaults)

    def ask(text: str) -> None:
        session.turn(text, PlainRenderer(io.BytesIO()))

    return CommandRunner(session, screen, ask, autosave, recorder), screen, backend


def run(runner: CommandRunner, line: str) -> None:
    command = parse_line(line)
    assert isinstance(command, Command)
    runner.run(command)


def test_repl_load_of_a_file_without_system_prompt_keeps_the_configured_one(tmp_path: Path) -> None:
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]))
    runner, _, backend = repl_runner(ConversationDefaults("config-model", "Answer briefly."))
    run(runner, f"/load {bare}")
    runner._ask("next")
    assert backend.requests[0].messages[0] == Message("system", "Answer briefly.")


def test_repl_load_keeps_a_model_chosen_with_a_profile_and_does_not_start_saving(tmp_path: Path) -> None:
    chat = pirate_file(tmp_path / "chat.json")
    runner, screen, backend = repl_runner(ConversationDefaults("local-model", None, model_chosen=True))
    run(runner, f"/load {chat}")
    runner._ask("next")
    assert backend.requests[0].model == "local-model"
    assert runner.autosave.file is None
    assert screen.notices[-1] == f"loaded {chat}"


def test_repl_load_while_saving_stops_saving_over_the_previous_file(tmp_path: Path) -> None:
    chat = pirate_file(tmp_path / "chat.json")
    current = ConversationFile(tmp_path / "current.json")
    runner, screen, _ = repl_runner(ConversationDefaults("m", None), current)
    runner._ask("q1")
    run(runner, f"/load {chat}")
    assert runner.autosave.file is None
    before = chat.read_bytes()
    runner._ask("q2")
    assert chat.read_bytes() == before  # the loaded file is not written behind the user's back
    assert screen.notices[-1].startswith(f"loaded {chat}; {current.path} keeps the previous conversation")
