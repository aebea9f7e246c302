"""Copying text to the clipboard through the terminal: the OSC 52 sequence, which also works over SSH."""

from __future__ import annotations

import base64


def osc52(text: str) -> str:
    """The sequence that asks the terminal to put `text` on the system clipboard.

    Model output never produces it (it is sanitised); chatcli emits it only for /copy.
    BEL ends it: more terminals accept BEL than ST here.
    """
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"\x1b]52;c;{payload}\x07"
