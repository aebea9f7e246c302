"""README's command examples that need no server run, and do what README shows.

Which examples run: a fenced `sh` or `console` block right after a line `<!-- readme-test -->` (an HTML comment,
so readers never see it). The other blocks need what a test cannot assume: a server, a key, an editor, a terminal,
or files of the reader's. Each command runs in bash, in an empty temporary directory, with the installed chatcli
first on PATH, a fresh HOME (no config file, an empty library) and no OPENAI_* or CHATCLI_* variables.

- In a `sh` block each line is a command (what follows ` # ` is for the reader); it must exit 0 and print no
  error or warning line.
- In a `console` block each line starting with `$ ` is a command, and the lines after it, up to the next `$ `
  line or the block's end, are exactly what it prints, stderr and stdout together as a terminal shows them.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CHATCLI

pytestmark = pytest.mark.e2e

README = Path(__file__).parent.parent / "README.md"
MARKER = "<!-- readme-test -->"
_MARKED_BLOCK = re.compile(re.escape(MARKER) + r"\n```(sh|console)\n(.*?)\n```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Example:
    """One command of README, and what it prints when README says (None: only that it succeeds)."""

    line: int
    command: str
    output: str | None


def readme_examples(text: str) -> list[Example]:
    examples = []
    for block in _MARKED_BLOCK.finditer(text):
        kind, body = block.group(1), block.group(2)
        first_line = text.count("\n", 0, block.start(2)) + 1
        if kind == "sh":
            examples += [
                Example(first_line + number, re.sub(r"\s+# .*$", "", line).strip(), None)
                for number, line in enumerate(body.splitlines())
                if line.strip()
            ]
            continue
        for part in filter(None, re.split(r"^(?=\$ )", body, flags=re.MULTILINE)):
            command, _, output = part.partition("\n")
            assert command.startswith("$ "), (
                f"README.md:{first_line}: console block text before its first $ line"
            )
            line = first_line + text.count("\n", block.start(2), block.start(2) + body.index(part))
            examples.append(Example(line, command.removeprefix("$ "), output))
    return examples


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


def test_readme_marks_examples_to_run() -> None:
    assert len(EXAMPLES) >= 5, f"no {MARKER} block found: README's examples would go unchecked"
    assert all(example.command.startswith("chatcli ") for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"README.md:{example.line}" for example in EXAMPLES])
def test_readme_example_runs_as_shown(example: Example, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    path = f"{Path(CHATCLI).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", f"{example.command} 2>&1"],
        cwd=workdir,
        env={**os.environ, "PATH": path},
        capture_output=True,
        check=False,
        timeout=60,
    )
    printed = done.stdout.decode()
    if example.output is None:
        assert done.returncode == 0, printed
        assert not re.search(r"^chatcli: (error|warning)", printed, re.MULTILINE), printed
    else:
        assert printed == example.output + "\n"
