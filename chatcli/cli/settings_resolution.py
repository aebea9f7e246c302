"""Settings for one run: flags > environment > profile > config file > defaults, each value's source kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from chatcli.backends import KEY_VARIABLES, BackendName, is_anthropic_url
from chatcli.cli.config_file import describe_kind, read_config_file
from chatcli.cli.settings import AUTO, DEFAULT_MODELS, Config, problem_with, settings
from chatcli.core.errors import UsageError
from chatcli.core.request_options import reserved_option_problem

PROFILE_VARIABLE = "CHATCLI_PROFILE"


class SourceKind(StrEnum):
    FLAG = "flag"
    ENVIRONMENT = "environment"
    PROFILE = "profile"
    FILE = "file"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a setting's value came from, and which variable or profile it was."""

    kind: SourceKind
    detail: str = ""  # the variable, the profile name

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}" if self.detail else self.kind

    def where(self, path: Path) -> str:
        """The place a user fixes the value, for messages."""
        if self.kind is SourceKind.FLAG:
            return "the command line"
        if self.kind is SourceKind.ENVIRONMENT:
            return self.detail
        if self.kind is SourceKind.PROFILE:
            return f"[profiles.{self.detail}] in {path}"
        if self.kind is SourceKind.FILE:
            return str(path)
        return "the defaults"


DEFAULT = Source(SourceKind.DEFAULT)
FILE = Source(SourceKind.FILE)
FLAG = Source(SourceKind.FLAG)
_RANK = {
    SourceKind.FLAG: 4,
    SourceKind.ENVIRONMENT: 3,
    SourceKind.PROFILE: 2,
    SourceKind.FILE: 1,
    SourceKind.DEFAULT: 0,
}


@dataclass(frozen=True, slots=True)
class Resolved:
    """The effective Config plus what `chatcli config show` needs to explain it."""

    config: Config
    sources: Mapping[str, Source]
    path: Path
    file_found: bool
    profile: str | None = None
    profile_source: Source | None = None
    alias: str | None = None  # the alias the model name was given as
    option_sources: Mapping[str, Source] = field(default_factory=dict)  # each [options] key's source

    def api_key_origin(self) -> str:
        """Where the key in use came from, for a message about a key that cannot be sent."""
        if self.config.api_key is None:
            return "api_key_cmd"
        source = self.sources["api_key"]
        return source.detail if source.kind is SourceKind.ENVIRONMENT else "the config file's api_key"

    def exposed_key_file(self) -> Path | None:
        """The config file, when the API key in use comes from it and other users may read it."""
        if self.config.api_key is None or self.sources["api_key"].kind not in (
            SourceKind.FILE,
            SourceKind.PROFILE,
        ):
            return None
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return None
        return self.path if mode & 0o077 else None


class _Layers:
    """The values and request options found so far, each with its source; a stronger layer is applied later."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sources: dict[str, Source] = {}
        self.options: dict[str, Any] = {}
        self.option_sources: dict[str, Source] = {}

    def apply(self, values: Mapping[str, Any], options: Mapping[str, Any], source: Source) -> None:
        for name, value in values.items():
            self.values[name], self.sources[name] = value, source
        for key, value in options.items():
            self.options[key], self.option_sources[key] = value, source


def resolve_config(flags: Mapping[str, Any], environ: Mapping[str, str], path: Path) -> Resolved:
    """The Config from command-line values (None means not given; `profile` picks a profile, `options` holds
    -O's request-body keys), the environment and the config file at `path`, with each setting's source."""
    data, found = read_config_file(path)
    layers = _Layers()
    layers.apply(
        {key: value for key, value in data.items() if key in settings()}, data.get("options", {}), FILE
    )
    profile, profile_source = _chosen_profile(flags, environ)
    if profile is not None:
        in_profile = _profile(data, profile, profile_source, path)
        values = {key: value for key, value in in_profile.items() if key != "options"}
        layers.apply(values, in_profile.get("options", {}), Source(SourceKind.PROFILE, profile))
    for name, declared in settings().items():
        if name == "api_key":
            continue  # its variable depends on the backend: _apply_key_variable
        if declared.environment is not None and environ.get(declared.environment):
            value = _from_text(name, environ[declared.environment], declared.environment)
            layers.apply({name: value}, {}, Source(SourceKind.ENVIRONMENT, declared.environment))
    given = {key: value for key, value in flags.items() if key in settings() and value is not None}
    layers.apply(given, flags.get("options") or {}, FLAG)
    for key, source in layers.option_sources.items():
        if (problem := reserved_option_problem(key)) is not None:
            raise UsageError(f"{problem}; remove it from {source.where(path)}")
    auto_backend = (
        _auto_backend(layers.values, environ) if layers.values.get("backend", AUTO) == AUTO else None
    )
    chosen = auto_backend or BackendName(layers.values["backend"])
    _apply_key_variable(layers, chosen, environ)
    if "model" not in layers.values and chosen in DEFAULT_MODELS:
        layers.values["model"] = DEFAULT_MODELS[chosen]
    _choose_between_exclusive(layers, path)
    aliases = data.get("aliases", {})
    alias = layers.values["model"] if layers.values.get("model") in aliases else None
    if alias is not None:
        layers.values["model"] = aliases[alias]
    config = Config(
        **layers.values,
        aliases=aliases,
        prices=data.get("prices", {}),
        context_windows=data.get("context_windows", {}),
        options=layers.options,
        templates=data.get("templates", {}),
        mcp=data.get("mcp", {}),
        auto_backend=auto_backend,
    )
    sources = {name: layers.sources.get(name, DEFAULT) for name in settings()}
    _check_values(config, sources, path)
    return Resolved(config, sources, path, found, profile, profile_source, alias, layers.option_sources)


def _apply_key_variable(layers: _Layers, backend: BackendName, environ: Mapping[str, str]) -> None:
    """The key from the chosen backend's variable (OPENAI_API_KEY, ANTHROPIC_API_KEY; none for ollama), as the
    environment layer: over the profile and the file, under a flag."""
    variable = KEY_VARIABLES.get(backend)
    source = layers.sources.get("api_key")
    if variable and environ.get(variable) and (source is None or source.kind is not SourceKind.FLAG):
        layers.apply({"api_key": environ[variable]}, {}, Source(SourceKind.ENVIRONMENT, variable))


def _auto_backend(values: Mapping[str, Any], environ: Mapping[str, str]) -> BackendName:
    """anthropic for api.anthropic.com; openai once a base URL, a key, a key command or OPENAI_API_KEY is set;
    anthropic when ANTHROPIC_API_KEY is the only key; else the offline echo backend."""
    base_url = values.get("base_url")
    if is_anthropic_url(base_url):
        return BackendName.ANTHROPIC
    openai_key = environ.get(KEY_VARIABLES[BackendName.OPENAI])
    if base_url or values.get("api_key") or values.get("api_key_cmd") or openai_key:
        return BackendName.OPENAI
    return BackendName.ANTHROPIC if environ.get(KEY_VARIABLES[BackendName.ANTHROPIC]) else BackendName.ECHO


def _profile(data: Mapping[str, Any], name: str, source: Source | None, path: Path) -> dict[str, Any]:
    profiles = data.get("profiles", {})
    if name not in profiles:
        defined = ", ".join(sorted(profiles)) or "none"
        raise UsageError(f"unknown profile {name!r} (from {source}); profiles defined in {path}: {defined}")
    return dict(profiles[name])


def _chosen_profile(flags: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str | None, Source | None]:
    if flags.get("profile"):
        return str(flags["profile"]), FLAG
    if environ.get(PROFILE_VARIABLE):
        return environ[PROFILE_VARIABLE], Source(SourceKind.ENVIRONMENT, PROFILE_VARIABLE)
    return None, None


def _choose_between_exclusive(layers: _Layers, path: Path) -> None:
    """Two settings that give the same value (`api_key` and `api_key_cmd`, declared with `excludes`): the one
    from the stronger layer wins; both in the same place is a mistake."""
    for name, declared in settings().items():
        if declared.excludes is None:
            continue
        source, other_source = layers.sources.get(name), layers.sources.get(declared.excludes)
        if source is None or other_source is None:
            continue
        if _RANK[source.kind] == _RANK[other_source.kind]:
            raise UsageError(
                f"{source.where(path)} sets both {name} and {declared.excludes}; keep one of them"
            )
        loser = name if _RANK[other_source.kind] > _RANK[source.kind] else declared.excludes
        del layers.values[loser], layers.sources[loser]


def _from_text(name: str, text: str, variable: str) -> Any:
    """An environment variable's text as the type of the setting it sets."""
    declared = settings()[name]
    if declared.kind is str:
        return text
    if declared.kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return lowered in ("1", "true", "yes", "on")
    else:
        try:
            return declared.kind(text)
        except ValueError:
            pass
    raise UsageError(f"{variable} must be {describe_kind(declared)}; unset it or fix its value")


def _check_values(config: Config, sources: Mapping[str, Source], path: Path) -> None:
    """Every value in range; the first that is not is a UsageError naming where it came from."""
    for name in settings():
        if (problem := problem_with(name, getattr(config, name))) is not None:
            raise UsageError(f"{problem} (from {sources[name].where(path)})")


def profile_names(prefix: str = "") -> list[str]:
    """The config file's profiles starting with `prefix`, for shell completion; none when the file is unusable."""
    from chatcli.storage.paths import platform_dirs

    try:
        data, _ = read_config_file(platform_dirs().config_file)
    except UsageError:
        return []
    return sorted(name for name in data.get("profiles", {}) if name.startswith(prefix))
