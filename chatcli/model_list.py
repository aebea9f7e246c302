"""`chatcli models`: the endpoint's model ids, one per line with control characters made visible, or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from chatcli.backends import ModelEntry
from chatcli.sanitize import sanitize


def one_line(text: str) -> str:
    """A server's string made safe to print as one line: controls visible, newline and tab too."""
    return sanitize(text).replace("\n", "^J").replace("\t", "^I")


def format_models(entries: Sequence[ModelEntry], as_json: bool) -> str:
    """Sorted by id. JSON is a list of {"id", "owned_by"} objects, ASCII-escaped so it is inert on a terminal."""
    ordered = sorted(entries, key=lambda entry: entry.id)
    if as_json:
        return json.dumps([{"id": entry.id, "owned_by": entry.owned_by} for entry in ordered], indent=2) + "\n"
    return "".join(f"{one_line(entry.id)}\n" for entry in ordered)
