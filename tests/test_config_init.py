"""`chatcli config init` writes a commented starter config; `chatcli config edit` opens it in the user's editor."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from tests.conftest import run_chatcli
from tests.inprocess import invoke

pytestmark = pytest.mark.e2e


def config_file(home: Path) -> Path:
    return home / ".config" / "chatcli" / "config.toml"


def test_init_writes_a_private_commented_config_that_changes_nothing_and_never_overwrites(
    isolated_home: Path,
) -> None:
    result = run_chatcli("config", "init")
    assert result.returncode == 0, result.stderr
    path = config_file(isolated_home)
    assert result.stdout.decode() == f"wrote {path}; edit it with: chatcli config edit\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert tomllib.loads(text) == {}  # every setting commented out: the defaults still apply
    assert '# model = "gpt-4o-mini"' in text and "# [profiles.ollama]" in text
    shown = invoke("config", "show")
    assert shown.returncode == 0 and b"(not found" not in shown.stdout

    path.write_text('model = "mine"\n')
    again = invoke("config", "init")
    assert again.returncode == 1
    assert again.stderr == (
        f"chatcli: error: {path} exists; not overwritten (chatcli config edit opens it)\n".encode()
    )
    assert path.read_text() == 'model = "mine"\n'


def test_edit_opens_the_file_in_visual_or_editor_and_checks_it_afterwards(
    isolated_home: Path, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(
        '#!/bin/sh\necho "$1" > "$(dirname "$0")/edited"\necho \'temperature = "hot"\' >> "$1"\n'
    )
    editor.chmod(0o700)
    result = invoke("config", "edit", env={"VISUAL": str(editor), "EDITOR": "false"})
    path = config_file(isolated_home)
    assert (tmp_path / "edited").read_text().strip() == str(path)
    assert result.returncode == 2
    assert result.stderr.decode().startswith(
        f"chatcli: error: config file {path}: temperature must be a number, not a string"
    )


def test_edit_without_an_editor_says_how_to_set_one() -> None:
    result = invoke("config", "edit", env={"VISUAL": "", "EDITOR": ""})
    assert result.returncode == 2
    assert result.stderr == b"chatcli: error: no editor set; set VISUAL or EDITOR (e.g. EDITOR=nano)\n"


def test_edit_on_a_terminal_reopens_a_file_that_does_not_pass_and_says_when_it_does(
    isolated_home: Path, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"  # first run: a mistake; second run: fixed
    editor.write_text(
        '#!/bin/sh\nif [ -e "$0.ran" ]; then echo "temperature = 0.5" > "$1"; '
        'else touch "$0.ran"; echo \'temperature = "hot"\' >> "$1"; fi\n'
    )
    editor.chmod(0o700)
    result = invoke("config", "edit", input=b"y\n", stdin_isatty=True, env={"VISUAL": str(editor)})
    path = config_file(isolated_home)
    assert result.returncode == 0
    assert f"chatcli: error: config file {path}: temperature must be a number".encode() in result.stderr
    assert b"open it again to fix it? [Y/n]" in result.stderr
    assert result.stdout.endswith(b"saved; checks passed\n")
    assert path.read_text() == "temperature = 0.5\n"
    declined = invoke(
        "config", "edit", input=b"n\n", stdin_isatty=True, env={"VISUAL": "sh -c 'echo x >> $0'"}
    )
    assert declined.returncode == 2 and b"saved" not in declined.stdout
