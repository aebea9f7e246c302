"""`-f DIR`: every text file under the folder, each under its relative path, leaving out what .gitignore files
ignore, hidden files and binaries; a total over --max-input-bytes stops with the largest files named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatcli.core.errors import UsageError
from chatcli.storage.folders import folder_files
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer
from tests.probe import exit_probe
from tests.test_images import IMAGES


def make_project(root: Path) -> Path:
    project = root / "project"
    files = {
        ".gitignore": "build/\n*.log\n!keep.log\n",
        "README.md": "# Project\n",
        "src/main.py": "print('hi')\n",
        "src/debug.log": "noise\n",
        "src/keep.log": "kept despite *.log\n",
        "src/vendor/.gitignore": "*\n!lib.py\n",
        "src/vendor/lib.py": "x = 1\n",
        "src/vendor/junk.py": "ignored by the nested .gitignore\n",
        "build/out.txt": "ignored folder\n",
        ".env": "SECRET=1\n",
        ".git/config": "[core]\n",
        "docs/.hidden.md": "hidden\n",
    }
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (project / "docs" / "logo.png").write_bytes(IMAGES["image/png"])
    (project / "docs" / "data.bin").write_bytes(b"\x01\x02\x00\x03")
    (project / "docs" / "latin1.txt").write_bytes(b"caf\xe9\n")
    os.symlink(project / "README.md", project / "docs" / "link.md")
    return project


def test_only_visible_not_ignored_text_files_are_taken_in_path_order(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    found = folder_files(project, 1_000_000)
    prefix = project.as_posix()
    assert [(file.name, file.text) for file in found] == [
        (f"{prefix}/README.md", "# Project\n"),
        (f"{prefix}/src/keep.log", "kept despite *.log\n"),
        (f"{prefix}/src/main.py", "print('hi')\n"),
        (f"{prefix}/src/vendor/lib.py", "x = 1\n"),
    ]


def test_a_folder_over_the_limit_is_refused_naming_its_largest_files(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for name, size in (("a.txt", 10), ("b.txt", 300), ("c.txt", 200)):
        (folder / name).write_text("x" * size)
    with pytest.raises(UsageError) as caught:
        folder_files(folder, 500)
    assert str(caught.value) == (
        f"folder '{folder}' holds 510 bytes of text files, more than 500; the largest: b.txt (300 bytes), "
        "c.txt (200 bytes), a.txt (10 bytes); leave some out with a .gitignore or raise --max-input-bytes"
    )


def test_a_folder_is_sent_file_by_file_under_relative_paths(tmp_path: Path, server: OpenAIServer) -> None:
    project = make_project(tmp_path)
    result = invoke("ask", "--base-url", server.url, "-f", str(project), "review")
    assert result.returncode == 0, result.stderr
    prefix = project.as_posix()
    expected = (
        f"### {prefix}/README.md\n\n```\n# Project\n```\n\n"
        f"### {prefix}/src/keep.log\n\n```\nkept despite *.log\n```\n\n"
        f"### {prefix}/src/main.py\n\n```\nprint('hi')\n```\n\n"
        f"### {prefix}/src/vendor/lib.py\n\n```\nx = 1\n```\n\n"
        "review"
    )
    assert server.bodies[0]["messages"] == [{"role": "user", "content": expected}]


def test_a_folder_over_max_input_bytes_or_without_text_is_refused_before_any_request(
    tmp_path: Path, server: OpenAIServer
) -> None:
    project = make_project(tmp_path)
    result = invoke("ask", "--base-url", server.url, "--max-input-bytes", "40", "-f", str(project), "hi")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"chatcli: error: folder '{project}' holds 52 bytes of text files, more than 40; the largest: "
        "src/keep.log (19 bytes), src/main.py (12 bytes), README.md (10 bytes), src/vendor/lib.py (6 bytes), "
        "docs/latin1.txt (5 bytes); leave some out with a .gitignore or raise --max-input-bytes\n"
    )
    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)
    (empty / ".hidden" / "a.txt").write_text("x")
    result = invoke("ask", "--base-url", server.url, "-f", str(empty), "hi")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"chatcli: error: folder '{empty}' holds no text file to attach "
        "(hidden, ignored and binary files are left out)\n"
    )
    assert server.requests == []


PROBE = exit_probe('"PATHSPEC=%s" % ("pathspec" in sys.modules)')


@pytest.mark.e2e
def test_pathspec_is_imported_only_to_read_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    for target, expected in ((tmp_path / "a.txt", "False"), (tmp_path, "True")):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, "ask", "-b", "echo", "-f", str(target)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.decode().splitlines()[-1] == f"PATHSPEC={expected}"
