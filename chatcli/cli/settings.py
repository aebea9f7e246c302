"""Settings for one run: flags > environment > profile > config file > defaults, each value's source kept."""

from __future__ import annotations

import shlex
import subprocess
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from chatcli.backends import BackendName
from chatcli.core.errors import BackendError, UsageError

DEFAULT_MODEL = "gpt-4o-mini"
AUTO = "auto"  # the backend setting's default: openai once a key, key command or base URL is set
BACKENDS = (AUTO, *BackendName)
KEY_COMMAND_TIMEOUT = 30.0
REDIRECT_CHOICES = ("same-host", "always", "never")
_TABLE = {"table": True}  # metadata of Config fields that are TOML tables, not plain settings


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float


@dataclass(frozen=True, slots=True)
class Config:
    """Every plain field is a setting: a `key = value` in the config file and its profiles, type-checked
    from its annotation (str, int, float, bool, optionally `| None`)."""

    model: str = DEFAULT_MODEL
    backend: str = AUTO
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_cmd: str | None = field(default=None, repr=False)  # its output is the key (password managers)
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0  # the longest gap between two chunks of an answer (--timeout)
    connect_timeout: float = 10.0
    first_token_timeout: float = 300.0  # local models may think for minutes before the first token
    markdown: bool | None = None  # None: Markdown only when stdout is a terminal
    code_theme: str = "monokai"
    stream: bool = True
    log: bool = True  # record every conversation in the library
    proxy: str | None = (
        None  # for every request; "" for none; unset: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
    )
    ca_bundle: str | None = (
        None  # trusted certificates, a PEM file or directory; unset: SSL_CERT_FILE or the system's
    )
    follow_redirects: str = "same-host"  # "same-host" (same scheme, host and port), "always" or "never"
    max_turn_seconds: float | None = None  # the longest a whole turn may take; unset: no limit
    aliases: Mapping[str, str] = field(default_factory=dict, metadata=_TABLE)
    prices: Mapping[str, Price] = field(default_factory=dict, metadata=_TABLE)

    def resolved_backend(self) -> BackendName:
        """`auto` becomes `openai` when a key, a key command or a base URL is configured, else `echo`."""
        if self.backend != AUTO:
            return BackendName(self.backend)
        return BackendName.OPENAI if self.api_key or self.api_key_cmd or self.base_url else BackendName.ECHO

    def price(self, model: str | None) -> Price | None:
        return self.prices.get(model) if model else None


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
ENVIRONMENT = {"model": "CHATCLI_MODEL", "base_url": "OPENAI_BASE_URL", "api_key": "OPENAI_API_KEY"}
PROFILE_VARIABLE = "CHATCLI_PROFILE"


def resolve_config(flags: Mapping[str, Any], environ: Mapping[str, str], path: Path) -> Resolved:
    """The Config from command-line values (None means not given; `profile` picks a profile), the environment
    and the config file at `path`, with each setting's source."""
    data, found = read_config_file(path)
    file_settings = {key: value for key, value in data.items() if key in settings()}
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    _apply(values, sources, file_settings, FILE)

    profile, profile_source = _chosen_profile(flags, environ)
    if profile is not None:
        profiles = data.get("profiles", {})
        if profile not in profiles:
            defined = ", ".join(sorted(profiles)) or "none"
            raise UsageError(
                f"unknown profile {profile!r} (from {profile_source}); profiles defined in {path}: {defined}"
            )
        _apply(values, sources, profiles[profile], Source(SourceKind.PROFILE, profile))

    for name, variable in ENVIRONMENT.items():
        if environ.get(variable):
            _apply(
                values,
                sources,
                {name: _parse_text(name, environ[variable], variable)},
                Source(SourceKind.ENVIRONMENT, variable),
            )
    _apply(values, sources, {k: v for k, v in flags.items() if k != "profile" and v is not None}, FLAG)

    _choose_key_source(values, sources, path)
    aliases = data.get("aliases", {})
    alias = None
    if values.get("model") in aliases:
        alias = values["model"]
        values["model"] = aliases[alias]
    config = Config(**values, aliases=aliases, prices=data.get("prices", {}))
    full_sources = {name: sources.get(name, DEFAULT) for name in settings()}
    _validate(config, full_sources, path)
    return Resolved(config, full_sources, path, found, profile, profile_source, alias)


def _apply(
    values: dict[str, Any], sources: dict[str, Source], layer: Mapping[str, Any], source: Source
) -> None:
    for name, value in layer.items():
        values[name] = value
        sources[name] = source


def _chosen_profile(flags: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str | None, Source | None]:
    if flags.get("profile"):
        return str(flags["profile"]), FLAG
    if environ.get(PROFILE_VARIABLE):
        return environ[PROFILE_VARIABLE], Source(SourceKind.ENVIRONMENT, PROFILE_VARIABLE)
    return None, None


def _choose_key_source(values: dict[str, Any], sources: dict[str, Source], path: Path) -> None:
    """`api_key` and `api_key_cmd` both give the key: the one from the stronger layer wins."""
    key_source, command_source = sources.get("api_key"), sources.get("api_key_cmd")
    if key_source is None or command_source is None:
        return
    key_rank, command_rank = _RANK[key_source.kind], _RANK[command_source.kind]
    if key_rank == command_rank:
        raise UsageError(f"{_where(key_source, path)} sets both api_key and api_key_cmd; keep one of them")
    loser = "api_key" if command_rank > key_rank else "api_key_cmd"
    del values[loser], sources[loser]


def profile_names(prefix: str = "") -> list[str]:
    """The config file's profiles starting with `prefix`, for shell completion; none when the file is unusable."""
    from chatcli.storage.paths import platform_dirs

    try:
        data, _ = read_config_file(platform_dirs().config_file)
    except UsageError:
        return []
    return sorted(name for name in data.get("profiles", {}) if name.startswith(prefix))


# -- the file ---------------------------------------------------------------------------------------------


def read_config_file(path: Path) -> tuple[dict[str, Any], bool]:
    """The checked contents of the config file ({} when there is none) and whether it exists.

    Every problem is a UsageError naming the file, the key and what was expected."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, False
    except OSError as error:
        raise UsageError(
            f"cannot read config file {path} ({error.strerror}); check that it is a readable file"
        ) from None
    import tomllib  # about 2 ms, paid only when there is a file

    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UsageError(
            f"config file {path} is not valid UTF-8 (byte offset {error.start}); save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path} is not valid TOML: {error}; fix the syntax") from None
    _check_file(data, path)
    return data, True


def _check_file(data: dict[str, Any], path: Path) -> None:
    tables = {
        "profiles": "a table of [profiles.NAME] tables",
        "aliases": "a table of names",
        "prices": "a table",
    }
    for key, value in data.items():
        if key in tables:
            if not isinstance(value, dict):
                raise UsageError(f"config file {path}: {key} must be {tables[key]}, not {_toml_type(value)}")
            continue
        _check_setting(path, "", key, value, known=[*settings(), *tables])
    for name, profile in data.get("profiles", {}).items():
        where = f"[profiles.{name}] "
        if not isinstance(profile, dict):
            raise UsageError(
                f"config file {path}: profiles.{name} must be a table of settings, not {_toml_type(profile)}"
            )
        for key, value in profile.items():
            _check_setting(path, where, key, value, known=settings())
        profile.update({key: _as_field_type(key, value) for key, value in profile.items()})
    for key, value in data.items():
        if key in settings():
            data[key] = _as_field_type(key, value)
    for name, target in data.get("aliases", {}).items():
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"config file {path}: [aliases] {name} must be a non-empty model name string")
    data["prices"] = {model: _price(path, model, value) for model, value in data.get("prices", {}).items()}


def _check_setting(path: Path, where: str, key: str, value: Any, known: list[str]) -> None:
    if key not in known:
        import difflib

        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(
            f"config file {path}: {where}unknown key {key!r}{hint}; known keys: {', '.join(known)}"
        )
    allowed = _allowed_types(key)
    if not _has_type(value, allowed):
        raise UsageError(
            f"config file {path}: {where}{key} must be {_describe(allowed)}, not {_toml_type(value)}"
        )


def _price(path: Path, model: str, value: Any) -> Price:
    expected = "a table like { input = 0.15, output = 0.60 } (dollars per million tokens)"
    if not isinstance(value, dict) or set(value) != {"input", "output"}:
        raise UsageError(f"config file {path}: [prices] {model!r} must be {expected}")
    for part in ("input", "output"):
        if not _has_type(value[part], (float,)) or value[part] < 0:
            raise UsageError(f"config file {path}: [prices] {model!r} {part} must be a number ≥ 0")
    return Price(float(value["input"]), float(value["output"]))


# -- types, from the Config annotations ---------------------------------------------------------------------


@cache
def settings() -> list[str]:
    """The names a config file or profile may set: every Config field that is not a table."""
    return [f.name for f in fields(Config) if not f.metadata.get("table")]


@cache
def _allowed_types(name: str) -> tuple[type, ...]:
    hint = get_type_hints(Config)[name]
    options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    return tuple(option for option in options if option is not type(None))


def _has_type(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and float in allowed:
        return True  # TOML `temperature = 1` is an integer; it is a fine float
    return isinstance(value, allowed)


def _as_field_type(name: str, value: Any) -> Any:
    if float in _allowed_types(name) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _describe(allowed: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return " or ".join(names.get(kind, kind.__name__) for kind in allowed)


def _toml_type(value: Any) -> str:
    kinds = [(bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string")]
    kinds += [(dict, "a table"), (list, "an array")]
    return next((name for kind, name in kinds if isinstance(value, kind)), "a date or time")


def _parse_text(name: str, text: str, variable: str) -> Any:
    """An environment variable's text as the type of the setting it sets."""
    allowed = _allowed_types(name)
    if str in allowed:
        return text
    if bool in allowed:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return lowered in ("1", "true", "yes", "on")
    else:
        try:
            return int(text) if int in allowed else float(text)
        except ValueError:
            pass
    raise UsageError(f"{variable} must be {_describe(allowed)}; unset it or fix its value")


# -- values -------------------------------------------------------------------------------------------------


def _where(source: Source, path: Path) -> str:
    if source.kind is SourceKind.FLAG:
        return "the command line"
    if source.kind is SourceKind.ENVIRONMENT:
        return source.detail
    if source.kind is SourceKind.PROFILE:
        return f"[profiles.{source.detail}] in {path}"
    if source.kind is SourceKind.FILE:
        return str(path)
    return "the defaults"


def _validate(config: Config, sources: Mapping[str, Source], path: Path) -> None:
    def fail(name: str, problem: str) -> UsageError:
        return UsageError(f"{problem} (from {_where(sources[name], path)})")

    if config.backend not in BACKENDS:
        raise fail("backend", f"unknown backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
    if not config.model.strip():
        raise fail("model", "the model name is empty")
    if config.temperature is not None and not 0 <= config.temperature <= 2:
        raise fail("temperature", f"temperature {config.temperature} is out of range; use 0 to 2")
    if config.max_tokens is not None and config.max_tokens < 1:
        raise fail("max_tokens", "max_tokens must be at least 1")
    for name in ("timeout", "connect_timeout", "first_token_timeout"):
        if getattr(config, name) <= 0:
            raise fail(name, f"{name} must be a positive number of seconds")
    if config.base_url is not None and not config.base_url.startswith(("http://", "https://")):
        raise fail("base_url", f"base URL {config.base_url!r} must start with http:// or https://")
    if config.max_turn_seconds is not None and config.max_turn_seconds <= 0:
        raise fail("max_turn_seconds", "max_turn_seconds must be a positive number of seconds")
    if config.follow_redirects not in REDIRECT_CHOICES:
        choices = ", ".join(REDIRECT_CHOICES)
        raise fail(
            "follow_redirects", f"follow_redirects {config.follow_redirects!r} is not one of {choices}"
        )
    if config.proxy and not config.proxy.startswith(("http://", "https://")):
        raise fail("proxy", f"proxy {config.proxy!r} must start with http:// or https://")


# -- the key ------------------------------------------------------------------------------------------------


def exposed_key_file(resolved: Resolved) -> Path | None:
    """The config file, when the API key in use comes from it and other users may read it."""
    if resolved.config.api_key is None or resolved.sources["api_key"].kind not in (
        SourceKind.FILE,
        SourceKind.PROFILE,
    ):
        return None
    try:
        mode = resolved.path.stat().st_mode
    except OSError:
        return None
    return resolved.path if mode & 0o077 else None


def resolve_api_key(config: Config) -> str | None:
    """The API key: the configured one, else the first line `api_key_cmd` prints, else None."""
    if config.api_key or not config.api_key_cmd:
        return config.api_key
    return run_key_command(config.api_key_cmd)


def run_key_command(command: str, timeout: float = KEY_COMMAND_TIMEOUT) -> str:
    """Run `command` without a shell; its stdout's first line is the key. Its output is never shown."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise UsageError(f"api_key_cmd cannot be split into words ({error}); check its quotes") from None
    if not argv:
        raise UsageError("api_key_cmd is empty; set it to a command that prints the key")
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BackendError(
            f"api_key_cmd did not finish within {timeout:g} s; run it yourself to check it"
        ) from None
    except OSError as error:
        raise BackendError(
            f"api_key_cmd could not start {argv[0]!r} ({error.strerror}); check the command"
        ) from None
    if done.returncode != 0:
        raise BackendError(f"api_key_cmd failed (exit status {done.returncode}); run it yourself to see why")
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines or not lines[0].strip():
        raise BackendError("api_key_cmd printed no key; it must print the key on its first line")
    return lines[0].strip()
