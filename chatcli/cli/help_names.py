"""How `--help` names things, for the command classes (help_format.py) and the page they draw (help_page.py)
alike: an argument by its metavar, and an example of the epilog by the separator after its command."""

from __future__ import annotations

from typer.core import TyperArgument

EXAMPLE_SEPARATOR = "  # "  # an epilog line "COMMAND  # what it does" is an example


def argument_name(argument: TyperArgument) -> str:
    """An argument as help shows it: its metavar (else its name in capitals), `...` when it takes several."""
    name = argument.metavar or (argument.name or "").upper()
    return name if argument.nargs == 1 or name.endswith("...") else name + "..."
