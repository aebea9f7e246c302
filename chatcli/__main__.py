"""Run chatcli as `python -m chatcli`."""

from chatcli.cli import main

main()
