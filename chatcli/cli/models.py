"""`chatcli models`: the endpoint's model ids, one per line with control characters made visible, or JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from chatcli.backends import BackendName
from chatcli.cli import wiring
from chatcli.cli.options import ChatOptions
from chatcli.core.environment import Environment
from chatcli.core.errors import UsageError
from chatcli.core.stream import ModelEntry, ModelLister
from chatcli.render.sanitize import sanitize


def one_line(text: str) -> str:
    """A server's string made safe to print as one line: controls visible, newline and tab too."""
    return sanitize(text).replace("\n", "^J").replace("\t", "^I")


def format_models(entries: Sequence[ModelEntry], as_json: bool) -> str:
    """Sorted by id. JSON is a list of {"id", "owned_by"} objects, ASCII-escaped so it is inert on a terminal."""
    ordered = sorted(entries, key=lambda entry: entry.id)
    if as_json:
        return (
            json.dumps([{"id": entry.id, "owned_by": entry.owned_by} for entry in ordered], indent=2) + "\n"
        )
    return "".join(f"{one_line(entry.id)}\n" for entry in ordered)


def run_models(env: Environment, options: ChatOptions, as_json: bool) -> int:
    from chatcli.backends import create_backend
    from chatcli.cli.key_command import resolve_api_key

    resolved = wiring.resolve_settings(env, options)
    config = resolved.config
    backend = config.resolved_backend()
    if backend is BackendName.ECHO:
        raise UsageError(
            "the echo backend has no model list; set --base-url, OPENAI_API_KEY or ANTHROPIC_API_KEY, "
            "or pick a profile"
        )
    settings = wiring.backend_settings(
        env, resolved, resolve_api_key(config, functools.partial(wiring.spinner, env))
    )
    assert env.stdout is not None
    listing = create_backend(backend, settings)
    assert isinstance(listing, ModelLister)
    env.stdout.write(format_models(listing.list_models(), as_json))
    env.stdout.flush()
    return 0
