"""Only regular files: every file option refuses a device, a pipe or a directory with one line and
exit 2 before any request, and never reads past its limit whatever the file's size says."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chatcli.core.errors import BadFileError
from chatcli.storage.conversation_file import ConversationFile, decode_conversation
from chatcli.storage.files import FileTooLarge, NotRegularFile, read_regular_file
from tests.conftest import TEST_KEY, run_chatcli
from tests.inprocess import invoke
from tests.leaks import one_line_error
from tests.openai_server import OpenAIServer
from tests.test_repl_pty import exit_code, say, spawn


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.json"
    os.mkfifo(path)
    return path


def ask_with(server: OpenAIServer, *args: str, process: bool = True) -> tuple[int, str]:
    """`chatcli ask ARGS hi`: the installed chatcli (`process`: with a 20 s limit, as a file that blocks must
    not hang the suite), or in this process."""
    argv = ("ask", "--base-url", server.url, *args, "hi")
    key = {"OPENAI_API_KEY": TEST_KEY}
    result = run_chatcli(*argv, env=key, timeout=20) if process else invoke(*argv, env=key)
    assert server.requests == [], "a request was sent"
    return result.returncode, one_line_error(result)


@pytest.mark.parametrize(
    ("flag", "path", "kind"),
    [
        ("-o", "/dev/full", "a device"),
        ("-l", "/dev/zero", "a device"),
        ("-l", "/dev/urandom", "a device"),
        ("-f", "/dev/zero", "a device"),
        ("-l", "/", "a directory"),
    ],
)
def test_devices_and_directories_are_refused_before_any_request(
    server: OpenAIServer, flag: str, path: str, kind: str
) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    code, error = ask_with(server, flag, path, process=False)
    assert code == 2
    assert f"is {kind}, not a regular file" in error


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flag", "path", "kind"),
    [
        ("-o", "/dev/stdout", "a named pipe"),  # the process's stdout is the test's pipe
        ("-o", "/dev/tty", "a device"),  # the process's controlling terminal, if it has one
    ],
)
def test_the_process_own_stdout_and_terminal_are_refused_before_any_request(
    server: OpenAIServer, flag: str, path: str, kind: str
) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    code, error = ask_with(server, flag, path)
    assert code == 2
    assert f"is {kind}, not a regular file" in error


@pytest.mark.e2e
@pytest.mark.parametrize("flag", ["-o", "-l", "-f"])
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(
    server: OpenAIServer, fifo: Path, flag: str
) -> None:
    code, error = ask_with(server, flag, str(fifo))
    assert code == 2
    assert "is a named pipe, not a regular file" in error


@pytest.mark.e2e
def test_history_import_and_export_refuse_devices(server: OpenAIServer, fifo: Path) -> None:
    result = invoke("history", "import", "/dev/zero")
    assert result.returncode == 2
    assert one_line_error(result) == "/dev/zero: is a device, not a regular file; give a conversation file"
    assert invoke("ask", "-b", "echo", "hi").returncode == 0
    conversation_id = json.loads(invoke("history", "list", "--json").stdout)[0]["id"]
    # a process, with a time limit: an export that waited for a reader would hang this test's process
    result = run_chatcli("history", "export", conversation_id, str(fifo))
    assert result.returncode == 2
    assert one_line_error(result) == f"{fifo}: is a named pipe, not a regular file; save to a file"


@pytest.mark.e2e
def test_save_and_load_in_the_session_refuse_devices_and_the_session_goes_on(fifo: Path) -> None:
    child = spawn("-b", "echo")
    say(child, "hello", "Echo: hello")
    say(child, "/save /dev/full", "not saved: /dev/full: is a device, not a regular file; save to a file")
    say(child, f"/load {fifo}", f"{fifo}: is a named pipe, not a regular file")
    say(child, "/load /dev/zero", "/dev/zero: is a device, not a regular file")
    say(child, "again", "Echo: again")
    child.send("\x04")
    assert exit_code(child) == 0


def test_reading_stops_at_the_limit_whatever_the_size_on_disk_says(tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge):
        read_regular_file(Path("/proc/self/status"), 10)  # st_size is 0, the content is not
    small = tmp_path / "small"
    small.write_bytes(b"12345")
    assert read_regular_file(small, 5) == b"12345"
    with pytest.raises(FileTooLarge):
        read_regular_file(small, 4)
    with pytest.raises(NotRegularFile):
        read_regular_file(Path("/dev/null"), 10)


def test_a_conversation_file_with_a_lone_surrogate_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text('{"version": 1, "messages": [{"role": "user", "content": "a\\ud800b"}]}')
    with pytest.raises(BadFileError, match="lone surrogate"):
        ConversationFile(path).load()
    paired = b'{"version": 1, "messages": [{"role": "user", "content": "\\ud83d\\ude00 \\\\ud800"}]}'
    assert decode_conversation(paired, "paired").messages[0].content == "\U0001f600 \\ud800"


def test_a_lone_surrogate_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text('[{"role": "user", "content": "\\udfff"}]')
    result = invoke("ask", "-b", "echo", "-l", str(path), "hi")
    assert result.returncode == 2
    assert "lone surrogate" in one_line_error(result)
