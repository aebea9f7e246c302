"""What every command takes from the Typer context: the Environment that `main` (or a test) passed in."""

from __future__ import annotations

import typer

from chatcli.cli.environment import process_environment
from chatcli.core.environment import Environment


def environment(context: typer.Context) -> Environment:
    root = context.find_root()
    if not isinstance(root.obj, Environment):
        root.obj = process_environment()
    return root.obj


def echo(env: Environment, text: str = "", *, end: str = "\n") -> None:
    """A line on the Environment's stdout."""
    assert env.stdout is not None
    env.stdout.write(text + end)
    env.stdout.flush()
