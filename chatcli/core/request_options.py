"""Extra request-body options (-O, [options], /set, templates): how a typed value is read, and the keys
chatcli sets itself and so refuses."""

from __future__ import annotations

import json
from typing import Any

RESERVED_OPTIONS = ("model", "messages", "stream")


def parse_option_value(text: str) -> Any:
    """A value as typed: JSON when it parses as JSON (numbers, true, null, lists, objects), else the text."""

    def no_constants(name: str) -> Any:
        raise ValueError(name)  # NaN and Infinity are not JSON a server can read

    try:
        return json.loads(text, parse_constant=no_constants)
    except ValueError:
        return text


def reserved_option_problem(key: str) -> str | None:
    """Why `key` cannot be an extra option (chatcli sets it itself), or None."""
    if key not in RESERVED_OPTIONS:
        return None
    instead = {"model": "use -m or /model", "stream": "use --no-stream", "messages": "it is the conversation"}
    return f"option {key!r} is set by chatcli itself ({instead[key]})"


def unsendable_option(options: dict[str, Any]) -> str | None:
    """The first key whose value JSON cannot carry (a TOML date or time), or None."""
    for key, value in options.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return key
    return None
