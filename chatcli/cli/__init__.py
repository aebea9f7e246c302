"""The command line: the Typer app, the wiring that picks concrete classes, one module per sub-command."""

from chatcli.cli.app import main

__all__ = ["main"]
