"""A fresh interpreter running chatcli's main() that reports, as it exits, what it had loaded."""

from __future__ import annotations

RUN_MAIN = 'sys.argv = ["chatcli", *sys.argv[1:]]\nfrom chatcli.cli.app import main\nmain()'


def exit_probe(report: str, run: str = RUN_MAIN) -> str:
    """Python source for `python -c`: runs chatcli (`run`) and, on the way out, writes the text the expression
    `report` evaluates to (one or more lines) on stderr. chatcli usually leaves by os._exit, where no atexit
    handler runs, and otherwise by the normal exit: the report comes once either way."""
    return f"""
import atexit, json, os, sys
def _report():
    if not getattr(_report, "done", False):
        _report.done = True
        sys.stderr.write({report} + "\\n")
        sys.stderr.flush()
atexit.register(_report)
_os_exit = os._exit
def _reporting_exit(code):
    _report()
    _os_exit(code)
os._exit = _reporting_exit
{run}
"""
