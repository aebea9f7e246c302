"""The start-up floor: a minimal two-command Typer app doing what `chatcli --help/--version/ask -b echo` do."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})


def _show_version(value: bool) -> None:
    if value:
        print("minimal 0.0.0")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Version.")
    ] = False,
) -> None:
    """A minimal chat app."""


@app.command()
def ask(prompt: Annotated[list[str] | None, typer.Argument(help="The prompt.")] = None) -> None:
    """Echo the prompt (piped stdin first), in 4-character chunks."""
    text = sys.stdin.read().strip() if not sys.stdin.isatty() else ""
    answer = "Echo: " + " ".join(filter(None, [text, *(prompt or [])]))
    for start in range(0, len(answer), 4):
        sys.stdout.write(answer[start : start + 4])
        sys.stdout.flush()
    print()


@app.command()
def models() -> None:
    """List models."""
    print("echo")


if __name__ == "__main__":
    app(prog_name="minimal")
