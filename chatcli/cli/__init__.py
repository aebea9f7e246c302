"""The command line: the Typer app, the wiring that picks concrete classes, one module per sub-command."""

import signal


def main() -> None:
    """The `chatcli` command. Ctrl-C while it loads (its first 0.1 s) ends it at once, quietly, with status 130:
    nothing has been done yet, and a KeyboardInterrupt there would print a traceback from whatever import it hit.
    Once loaded, Ctrl-C is a KeyboardInterrupt again, which each command handles. A SIGINT that chatcli's parent
    ignores (a background job) stays ignored."""
    loading_quietly = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if loading_quietly:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from chatcli.cli.app import main as run

    if loading_quietly:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    run()


__all__ = ["main"]
