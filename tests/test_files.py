"""Conversation files and private files (reliability checklist, section C): atomic, private whatever the umask,
bad files refused and never overwritten, concurrent edits detected, disk full and SIGKILL leave the old file."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatcli.core.conversation import Conversation, Message
from chatcli.core.errors import BadFileError, HistoryError, UsageError
from chatcli.storage.conversation_file import ConversationFile
from chatcli.storage.files import create_private_file, read_user_file, write_atomic
from tests.conftest import CHATCLI, TEST_KEY
from tests.inprocess import invoke
from tests.leaks import assert_clean, one_line_error
from tests.openai_server import OpenAIServer, Reply, chunk, sse_event

GOOD = {
    "version": 1,
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_atomic_write_makes_0600_files_and_0700_directories_whatever_the_umask(
    umask: int, tmp_path: Path
) -> None:
    target = tmp_path / "new" / "deeper" / "chat.json"
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert mode(target) == 0o600
    assert mode(target.parent) == mode(target.parent.parent) == 0o700
    assert os.listdir(target.parent) == ["chat.json"]


def test_an_existing_directory_keeps_its_mode(umask: int, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    write_atomic(shared / "chat.json", b"{}")
    assert mode(shared) == 0o755
    assert mode(shared / "chat.json") == 0o600


def test_replacing_a_file_keeps_it_private_and_leaves_no_temp_file(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "chats" / "chat.json"
    target.parent.mkdir()
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600
    assert os.listdir(target.parent) == ["chat.json"]


def test_a_private_file_stays_0600_when_prompt_toolkit_appends_to_it(umask: int, tmp_path: Path) -> None:
    from prompt_toolkit.history import FileHistory

    history_file = tmp_path / "data" / "input_history"
    create_private_file(history_file)
    FileHistory(str(history_file)).store_string("a line typed at the prompt")
    assert mode(history_file) == 0o600
    assert mode(history_file.parent) == 0o700


def test_saved_files_via_the_command_are_private_under_umask_000(tmp_path: Path) -> None:
    target = tmp_path / "chat.json"  # into an existing directory: chatcli creates none for -o
    previous = os.umask(0)
    try:
        assert invoke("ask", "-b", "echo", "-o", str(target), "hi").returncode == 0
    finally:
        os.umask(previous)
    assert mode(target) == 0o600


# -- refusing bad files -------------------------------------------------------------------------------------

BAD_FILES = {
    "empty": (b"", "file is empty"),
    "blank": (b"  \n", "file is empty"),
    "bom": (b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), "byte-order mark"),
    "not-json": (b'{"version": 1, "messages": [', "invalid JSON at line 1"),
    "not-utf8": (b'{"version": 1, "model": "\xff"}', "not UTF-8 (bad byte at offset 25)"),
    "deeply-nested": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "no-version": (json.dumps({"messages": []}).encode(), 'no "version" number'),
    "future-version": (json.dumps({**GOOD, "version": 2}).encode(), "newer chatcli (format version 2)"),
    "wrong-role": (json.dumps([{"role": "wizard", "content": "x"}]).encode(), "message 1 has role 'wizard'"),
    "wrong-content": (json.dumps([{"role": "user", "content": 5}]).encode(), "content must be a string"),
    "not-a-list": (
        json.dumps({"version": 1, "messages": {"a": 1}}).encode(),
        "expected a conversation object",
    ),
    "scalar": (b"42", "expected a conversation object"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_is_refused_with_one_line_naming_it_and_the_problem(name: str, tmp_path: Path) -> None:
    raw, problem = BAD_FILES[name]
    path = tmp_path / "chat.json"
    path.write_bytes(raw)
    with pytest.raises(BadFileError) as refused:
        ConversationFile(path).load()
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


@pytest.mark.parametrize("name", ["bom", "deeply-nested", "future-version", "wrong-role"])
def test_bad_file_given_to_load_and_save_is_never_overwritten_and_nothing_is_sent(
    name: str, server: OpenAIServer, tmp_path: Path
) -> None:
    raw, problem = BAD_FILES[name]
    path = tmp_path / "chat.json"
    path.write_bytes(raw)
    result = invoke(
        "ask",
        "--base-url",
        server.url,
        "-l",
        str(path),
        "-o",
        str(path),
        "hi",
        env={"OPENAI_API_KEY": TEST_KEY},
    )
    assert result.returncode == 2
    assert str(path) in one_line_error(result) and problem in one_line_error(result)
    assert path.read_bytes() == raw
    assert server.requests == []
    assert_clean(result, tmp_path)


def test_saving_over_an_unloaded_bad_file_is_refused_before_the_request(
    server: OpenAIServer, tmp_path: Path
) -> None:
    path = tmp_path / "chat.json"
    path.write_bytes(b"\xef\xbb\xbfnot ours")
    result = invoke("ask", "--base-url", server.url, "-o", str(path), "hi")
    assert result.returncode == 2  # a usage error: nothing was sent, and --force would overwrite it
    assert "not the loaded conversation" in one_line_error(result)
    assert path.read_bytes() == b"\xef\xbb\xbfnot ours"
    assert server.requests == []


# -- round trip ---------------------------------------------------------------------------------------------


def test_every_role_content_parts_and_unknown_fields_survive_a_round_trip(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "developer", "content": "dev"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            "unknown": {"kept": True},
        },
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "assistant", "content": "half", "status": "interrupted"},
    ]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"version": 1, "model": "m", "title": "kept", "messages": messages}))
    chat = ConversationFile(path)
    conversation = chat.load()
    assert conversation.messages[2].text == "look"
    chat.save(conversation)
    assert json.loads(path.read_text()) == {"version": 1, "model": "m", "title": "kept", "messages": messages}


CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
INVALID_MESSAGES = {
    "tool call arguments not text": (
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{**CALL, "function": {"name": "f", "arguments": 1}}],
        },
        "tool_calls must be a list of",
    ),
    "tool call without an id": (
        {"role": "assistant", "content": None, "tool_calls": [{"function": CALL["function"]}]},
        "tool_calls must be a list of",
    ),
    "tool_calls not a list": (
        {"role": "assistant", "content": None, "tool_calls": "x"},
        "tool_calls must be",
    ),
    "tool_calls on a user message": (
        {"role": "user", "content": "hi", "tool_calls": [CALL]},
        "user messages have no tool_calls",
    ),
    "tool message with a list id": (
        {"role": "tool", "content": "1", "tool_call_id": ["c1"]},
        "tool messages need a tool_call_id string",
    ),
    "tool message without an id": (
        {"role": "tool", "content": "1"},
        "tool messages need a tool_call_id string",
    ),
    "assistant image": (
        {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
        "assistant messages take text content parts only",
    ),
    "name not text": ({"role": "user", "content": "hi", "name": 3}, "name must be a string"),
}


@pytest.mark.parametrize("message, problem", INVALID_MESSAGES.values(), ids=INVALID_MESSAGES.keys())
def test_a_message_of_the_wrong_shape_is_refused_in_one_line(
    tmp_path: Path, message: dict[str, object], problem: str
) -> None:
    for data in ([message], {"version": 1, "messages": [message]}):
        path = tmp_path / "chat.json"
        path.write_text(json.dumps(data))
        with pytest.raises(BadFileError, match="message 1: " + re.escape(problem)):
            ConversationFile(path).load()


def test_only_the_api_fields_of_a_message_are_ever_sent() -> None:
    own = {"chatcli": {"secret": "local"}, "status_note": "x", "name": "ann"}
    assert Message("user", "hi", extra=own).to_api() == {"name": "ann", "role": "user", "content": "hi"}
    assert Message("tool", "1", extra={"tool_call_id": "c1", "chatcli": 1}).to_api() == {
        "tool_call_id": "c1",
        "role": "tool",
        "content": "1",
    }
    asking = Message("assistant", None, extra={"tool_calls": [CALL], "tool_call_id": "stray"})
    assert asking.to_api() == {"tool_calls": [CALL], "role": "assistant", "content": None}


# -- another writer -----------------------------------------------------------------------------------------


def test_a_file_changed_by_another_session_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(GOOD))
    mine = ConversationFile(path)
    conversation = mine.load()
    theirs = ConversationFile(path)
    their_conversation = theirs.load()
    their_conversation.messages.append(Message("user", "their turn"))
    theirs.save(their_conversation)
    after_theirs = path.read_bytes()
    conversation.messages.append(Message("user", "my turn"))
    with pytest.raises(HistoryError, match="changed by another program since it was loaded or saved"):
        mine.save(conversation)
    assert path.read_bytes() == after_theirs


def test_same_size_same_second_edit_is_still_detected(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(GOOD))
    mine = ConversationFile(path)
    conversation = mine.load()
    before = path.stat()
    path.write_text(json.dumps(GOOD).replace('"yo"', '"YO"'))  # same size, maybe the same mtime tick
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(HistoryError, match="changed by another program"):
        mine.save(conversation)


def test_ask_refuses_to_overwrite_a_conversation_edited_while_it_streamed(
    server: OpenAIServer, tmp_path: Path
) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(GOOD))
    gate = threading.Event()
    server.enqueue(Reply(body=[sse_event(chunk("answer")), gate, sse_event(chunk(finish_reason="stop"))]))
    edited = json.dumps({**GOOD, "model": "edited elsewhere"}).encode()

    def edit_while_streaming() -> None:
        try:
            if server.wait_for_requests(1):
                path.write_bytes(edited)
        finally:
            gate.set()

    editor = threading.Thread(target=edit_while_streaming)
    editor.start()
    result = invoke("ask", "--base-url", server.url, "-l", str(path), "-o", str(path), "q")
    editor.join()
    assert result.returncode == 1
    assert result.stdout == b"answer\n"
    assert b"changed by another program" in result.stderr and result.stderr.count(b"\n") == 1
    assert path.read_bytes() == edited


# -- disk full and crashes ----------------------------------------------------------------------------------


def big_conversation_file(path: Path, megabytes: int) -> bytes:
    conversation = Conversation([Message("user", "q"), Message("assistant", "a" * (megabytes << 20))], "m")
    path.parent.mkdir(exist_ok=True)  # a conversation file is saved only into an existing directory
    ConversationFile(path).save(conversation)
    return path.read_bytes()


@pytest.mark.e2e  # a file size limit on a process of its own
def test_disk_full_leaves_the_old_file_intact_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "chats" / "chat.json"
    old = big_conversation_file(path, 1)
    limit = len(old) // 2  # RLIMIT_FSIZE: writes past this size fail with EFBIG, as on a full disk

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [CHATCLI, "ask", "-b", "echo", "--no-log", "-l", str(path), "-o", str(path), "hi"],
        check=False,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=limit_file_size,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == b"Echo: hi\n"  # the answer was shown before the save failed
    assert one_line_error(result) == f"{path}: cannot save (File too large); the old file is unchanged"
    assert path.read_bytes() == old
    assert os.listdir(path.parent) == ["chat.json"]


SAVER = """
import sys
from pathlib import Path
from chatcli.core.conversation import Message
from chatcli.storage.conversation_file import ConversationFile
chat = ConversationFile(Path(sys.argv[1]))
conversation = chat.load()
conversation.messages.append(Message("user", "b" * (48 << 20)))
print("saving", flush=True)
chat.save(conversation)
print("saved", flush=True)
"""


def open_files_in(pid: int, directory: Path) -> bool:
    """Whether process `pid` has a file open in `directory` (a named or an anonymous temp file)."""
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(f"{directory}/") and target != f"{directory}/chat.json":
            return True
    return False


@pytest.mark.e2e
def test_sigkill_in_the_middle_of_a_large_save_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    directory = tmp_path / "chats"
    path = directory / "chat.json"
    old = big_conversation_file(path, 1)
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE)
    assert saver.stdout is not None and saver.stdout.readline() == b"saving\n"
    while not open_files_in(saver.pid, directory):  # the event: the temp file is open and being written
        assert saver.poll() is None, "the save finished before it could be interrupted"
        time.sleep(0.001)
    saver.send_signal(signal.SIGKILL)
    saver.wait(timeout=30)
    saver.stdout.close()
    assert saver.returncode == -signal.SIGKILL
    assert path.read_bytes() == old
    assert os.listdir(directory) == ["chat.json"]


# -- a file the user names --------------------------------------------------------------------------------


def test_a_user_file_that_cannot_be_read_is_one_line_naming_it_and_what_to_do(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 11)
    cases = {
        tmp_path: "notes is a directory, not a regular file; check the path",
        big: "notes is larger than 10 bytes; raise the limit",
        tmp_path / "missing": "notes cannot be read (No such file or directory); check the path",
    }
    for path, message in cases.items():
        with pytest.raises(UsageError) as refused:
            read_user_file(path, 10, "notes", fix="check the path", too_large="raise the limit")
        assert str(refused.value) == message
    big.write_bytes(b"x" * 10)
    assert read_user_file(big, 10, "notes") == b"x" * 10


def test_a_user_file_error_is_the_callers_class_and_the_remedy_only_when_given(tmp_path: Path) -> None:
    with pytest.raises(BadFileError) as refused:
        read_user_file(tmp_path, 10, f"{tmp_path}:", error=BadFileError)
    assert str(refused.value) == f"{tmp_path}: is a directory, not a regular file"
