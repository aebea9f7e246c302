"""Tab completion of values: model names and aliases (-m, /model), backends (-b), library ids (--cid, history).

The server's model list is asked for only when it answers within a second, and kept for a day in the user cache
directory, so completion never waits long and rarely asks. A key command (`api_key_cmd`) is never run for it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from chatcli.core.environment import Environment, UserDirs
from chatcli.core.errors import ChatError

if TYPE_CHECKING:
    from chatcli.cli.settings import Config

MODELS_TIMEOUT = 1.0  # seconds the server gets to list its models while the user waits at Tab
MODELS_KEPT_FOR = 24 * 3600.0  # seconds a fetched list stays good
MAX_CACHE_BYTES = 4 * 1024 * 1024


def backend_names(incomplete: str = "") -> list[str]:
    from chatcli.cli.settings import BACKENDS

    return [name for name in BACKENDS if name.startswith(incomplete)]


def model_names(ctx: typer.Context, incomplete: str = "") -> list[str]:
    """Shell completion of -m: the config file's aliases and the server's models (profile and --base-url as
    given on the command line so far)."""
    env = _environment()
    params = ctx.params or {}
    flags = {
        "profile": params.get("profile"),
        "base_url": params.get("base_url"),
        "backend": params.get("backend"),
    }
    try:
        from chatcli.cli.settings_resolution import resolve_config

        config = resolve_config(flags, env.environ, env.dirs.config_file).config
    except ChatError:
        return []
    return [name for name in known_models(config, env.dirs) if name.startswith(incomplete)]


def conversation_ids(incomplete: str = "") -> list[tuple[str, str]]:
    """Shell completion of a library conversation: the names, then the ids, of the most recent conversations
    that start with `incomplete`, each with its title."""
    from chatcli.storage.library import Library

    path = _environment().dirs.library_file
    if not path.exists():
        return []
    try:
        with Library(path) as library:
            summaries = library.summaries(500)
    except ChatError:
        return []
    names = [(s.name, s.title[:60]) for s in summaries if s.name and s.name.startswith(incomplete)]
    return names + [(s.id, s.title[:60]) for s in summaries if s.id.startswith(incomplete)]


def known_models(config: Config, dirs: UserDirs) -> list[str]:
    """The aliases, then the server's model ids (cached for a day; fetched only when it answers within a second)."""
    from chatcli.backends import BackendName

    names = list(config.aliases)
    if config.resolved_backend() is BackendName.OPENAI:
        names += [name for name in server_models(config, dirs.cache / "models.json") if name not in names]
    return names


def server_models(config: Config, cache_file: Path, now: float | None = None) -> list[str]:
    base_url = config.base_url or config.default_base_url()
    now = time.time() if now is None else now
    cache = _read_cache(cache_file)
    entry = cache.get(base_url)
    if isinstance(entry, dict) and now - float(entry.get("at", 0)) < MODELS_KEPT_FOR:
        return [name for name in entry.get("ids", []) if isinstance(name, str)]
    fetched = _fetch_models(base_url, config.api_key)
    if fetched is None:  # unreachable for now: an old list is better than none
        return list(entry.get("ids", [])) if isinstance(entry, dict) else []
    cache[base_url] = {"at": now, "ids": fetched}
    _write_cache(cache_file, cache)
    return fetched


def _fetch_models(base_url: str, api_key: str | None) -> list[str] | None:
    import urllib.request

    request = urllib.request.Request(base_url.rstrip("/") + "/models")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=MODELS_TIMEOUT) as response:
            data = json.loads(response.read(MAX_CACHE_BYTES))
        models = data["data"]
        return sorted({model["id"] for model in models if isinstance(model.get("id"), str)})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes()[:MAX_CACHE_BYTES])
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, cache: Mapping[str, Any]) -> None:
    from chatcli.storage.files import write_atomic

    with contextlib.suppress(OSError):  # completion works without the cache, only slower
        write_atomic(path, json.dumps(cache).encode())


def _environment() -> Environment:
    from chatcli.cli.environment import process_environment

    return process_environment()
