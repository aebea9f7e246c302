"""Settings for one run: flags > environment > profile > config file > defaults, each value's source kept."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatcli.backends import BackendName
from chatcli.core.errors import BackendError, UsageError
from chatcli.core.request_options import reserved_option_problem, unsendable_option
from chatcli.core.turn import DEFAULT_MAX_ANSWER_BYTES

if TYPE_CHECKING:  # loaded when a config file has [mcp] tables or --yes-tools names tools
    from chatcli.tools.spec import ServerSpec

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_CODE_THEME = "monokai"
AUTO = "auto"  # the backend setting's default: openai once a key, key command or base URL is set
BACKENDS = (AUTO, *BackendName)
KEY_COMMAND_TIMEOUT = 30.0
REASONING_MODES = ("show", "hide", "summary")
KEY_OUTPUT_LIMIT = 64 * 1024  # a key command's output past this is not read
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
    code_theme: str = DEFAULT_CODE_THEME
    stream: bool = True
    log: bool = True  # record every conversation in the library
    max_image_bytes: int = 20 * 1024 * 1024  # the largest image `-f` or /file attaches
    reasoning: str = "summary"  # show, hide or summary: what a terminal shows of the model's reasoning
    tools: str | None = None  # MCP servers whose tools are offered, comma-separated (--tools)
    max_tool_rounds: int = 8
    max_tool_result_bytes: int = 64 * 1024
    tool_timeout: float = 60.0
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES  # a longer answer is cut there (an endless server)
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
    options: Mapping[str, Any] = field(default_factory=dict, metadata=_TABLE)  # more request-body keys
    templates: Mapping[str, Any] = field(default_factory=dict, metadata=_TABLE)  # [templates.NAME], unparsed
    mcp: Mapping[str, ServerSpec] = field(default_factory=dict, metadata=_TABLE)

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
    option_sources: Mapping[str, Source] = field(default_factory=dict)  # each [options] key's source


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
    """The Config from command-line values (None means not given; `profile` picks a profile, `options` holds
    -O's request-body keys), the environment and the config file at `path`, with each setting's source."""
    data, found = read_config_file(path)
    file_settings = {key: value for key, value in data.items() if key in settings()}
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    options: dict[str, Any] = {}
    option_sources: dict[str, Source] = {}
    _apply(values, sources, file_settings, FILE)
    _apply(options, option_sources, data.get("options", {}), FILE)

    profile, profile_source = _chosen_profile(flags, environ)
    if profile is not None:
        profiles = data.get("profiles", {})
        if profile not in profiles:
            defined = ", ".join(sorted(profiles)) or "none"
            raise UsageError(
                f"unknown profile {profile!r} (from {profile_source}); profiles defined in {path}: {defined}"
            )
        in_profile = {key: value for key, value in profiles[profile].items() if key != "options"}
        _apply(values, sources, in_profile, Source(SourceKind.PROFILE, profile))
        _apply(
            options, option_sources, profiles[profile].get("options", {}), Source(SourceKind.PROFILE, profile)
        )

    for name, variable in ENVIRONMENT.items():
        if environ.get(variable):
            _apply(
                values,
                sources,
                {name: _parse_text(name, environ[variable], variable)},
                Source(SourceKind.ENVIRONMENT, variable),
            )
    given = {k: v for k, v in flags.items() if k not in ("profile", "options") and v is not None}
    _apply(values, sources, given, FLAG)
    _apply(options, option_sources, flags.get("options") or {}, FLAG)
    _refuse_reserved_options(option_sources, path)

    _choose_key_source(values, sources, path)
    aliases = data.get("aliases", {})
    alias = None
    if values.get("model") in aliases:
        alias = values["model"]
        values["model"] = aliases[alias]
    config = Config(
        **values,
        aliases=aliases,
        prices=data.get("prices", {}),
        options=options,
        templates=data.get("templates", {}),
        mcp=data.get("mcp", {}),
    )
    full_sources = {name: sources.get(name, DEFAULT) for name in settings()}
    _validate(config, full_sources, path)
    return Resolved(config, full_sources, path, found, profile, profile_source, alias, option_sources)


def _refuse_reserved_options(option_sources: Mapping[str, Source], path: Path) -> None:
    for key, source in option_sources.items():
        if (problem := reserved_option_problem(key)) is not None:
            raise UsageError(f"{problem}; remove it from {_where(source, path)}")


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
        "options": "a table of request-body keys",
        "templates": "a table of [templates.NAME] tables",
        "mcp": "a table of [mcp.NAME] tables",
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
            if key != "options":  # checked by _check_option_tables
                _check_setting(path, where, key, value, known=[*settings(), "options"])
        profile.update({key: _as_field_type(key, value) for key, value in profile.items()})
    for key, value in data.items():
        if key in settings():
            data[key] = _as_field_type(key, value)
    for name, target in data.get("aliases", {}).items():
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"config file {path}: [aliases] {name} must be a non-empty model name string")
    data["prices"] = {model: _price(path, model, value) for model, value in data.get("prices", {}).items()}
    data["mcp"] = {name: _mcp_server(path, name, value) for name, value in data.get("mcp", {}).items()}
    _check_option_tables(data, path)


def _check_option_tables(data: dict[str, Any], path: Path) -> None:
    """[options] and each [profiles.NAME.options]: tables of values JSON can carry."""
    tables = [("[options]", data.get("options", {}))]
    tables += [
        (f"[profiles.{name}.options]", p.get("options", {})) for name, p in data.get("profiles", {}).items()
    ]
    for where, options in tables:
        if not isinstance(options, dict):
            raise UsageError(f"config file {path}: {where} must be a table of request-body keys")
        if (key := unsendable_option(options)) is not None:
            raise UsageError(
                f"config file {path}: {where} {key} must be a JSON value, not {_toml_type(options[key])}"
            )


def _check_setting(path: Path, where: str, key: str, value: Any, known: list[str]) -> None:
    if key not in known:
        import difflib

        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(
            f"config file {path}: {where}unknown key {key!r}{hint}; known keys: {', '.join(known)}"
        )
    allowed = _allowed_types()[key]
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


_SERVER_NAME = re.compile(r"[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*")  # no "__": it separates server and tool
_MCP_KEYS = ("command", "args", "env", "url", "headers", "auto_approve")


def _mcp_server(path: Path, name: str, value: Any) -> ServerSpec:
    """One [mcp.NAME] table: `command` (+ `args`, `env`) for stdio, or `url` (+ `headers`) for HTTP."""

    def fail(problem: str) -> UsageError:
        return UsageError(f"config file {path}: [mcp.{name}] {problem}")

    if not _SERVER_NAME.fullmatch(name):
        raise UsageError(
            f"config file {path}: MCP server name {name!r} must be letters, digits, - and single _"
        )
    if not isinstance(value, dict):
        raise fail(f"must be a table, not {_toml_type(value)}")
    for key in value:
        if key not in _MCP_KEYS:
            raise fail(f"unknown key {key!r}; known keys: {', '.join(_MCP_KEYS)}")
    if ("command" in value) == ("url" in value):
        raise fail("needs either command (a stdio server) or url (a streamable HTTP server)")
    for key in ("command", "url"):
        if key in value and (not isinstance(value[key], str) or not value[key].strip()):
            raise fail(f"{key} must be a non-empty string")
    if "url" in value and not value["url"].startswith(("http://", "https://")):
        raise fail("url must start with http:// or https://")
    if "command" not in value and ("args" in value or "env" in value):
        raise fail("args and env apply to a command; a url server takes headers")
    if "url" not in value and "headers" in value:
        raise fail("headers apply to a url; a command server takes env")
    args, approved = (
        _strings(value.get("args", []), fail, "args"),
        _strings(value.get("auto_approve", []), fail, "auto_approve"),
    )
    if wild := [tool for tool in approved if re.search(r"[*?\[\]]", tool)]:
        raise fail(f"auto_approve names tools exactly; {wild[0]!r} looks like a pattern")
    tables = {table: _string_table(value.get(table, {}), fail, table) for table in ("env", "headers")}
    commands = {
        (table, key.removesuffix("_cmd")): text
        for table, entries in tables.items()
        for key, text in entries.items()
        if key.endswith("_cmd")
    }
    plain = {
        table: {k: v for k, v in entries.items() if not k.endswith("_cmd")}
        for table, entries in tables.items()
    }
    from chatcli.tools.spec import ServerSpec

    return ServerSpec(
        name,
        value.get("command"),
        tuple(args),
        plain["env"],
        value.get("url"),
        plain["headers"],
        commands,
        tuple(approved),
    )


def _strings(value: Any, fail: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(f"{key} must be an array of strings")
    return value


def _string_table(value: Any, fail: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise fail(f'{key} must be a table of strings (NAME = "value", or NAME_cmd = "a command")')
    return value


def mcp_servers(config: Config, names: str, source: str, path: Path) -> list[ServerSpec]:
    """The [mcp] servers that `names` (comma-separated, from `source`) chooses."""
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    if not chosen:
        raise UsageError(f"{source} names no MCP server")
    for name in chosen:
        if name not in config.mcp:
            defined = ", ".join(sorted(config.mcp)) or "none"
            raise UsageError(
                f"unknown MCP server {name!r} (from {source}); [mcp.NAME] servers in {path}: {defined}"
            )
    return [config.mcp[name] for name in dict.fromkeys(chosen)]


def tool_names(names: str | None) -> set[str]:
    """--yes-tools: exact `server__tool` names, never patterns."""
    chosen = {name.strip() for name in (names or "").split(",") if name.strip()}
    if not chosen:
        return chosen
    from chatcli.tools.spec import SEPARATOR

    for name in chosen:
        if SEPARATOR not in name or re.search(r"[*?\[\]]", name):
            raise UsageError(
                f"--yes-tools takes exact tool names like notes{SEPARATOR}add (server, two underscores, "
                f"tool), never patterns; got {name!r}"
            )
    return chosen


# -- types, from the Config annotations ---------------------------------------------------------------------


@cache
def settings() -> list[str]:
    """The names a config file or profile may set: every Config field that is not a table."""
    return [f.name for f in fields(Config) if not f.metadata.get("table")]


_SETTING_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


@cache
def _allowed_types() -> dict[str, tuple[type, ...]]:
    """Each setting's types, read from its annotation's text (`float | None`: float), which Config keeps to these four."""
    return {
        f.name: tuple(
            _SETTING_TYPES[part.strip()] for part in str(f.type).split("|") if part.strip() != "None"
        )
        for f in fields(Config)
        if not f.metadata.get("table")
    }


def _has_type(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and float in allowed:
        return True  # TOML `temperature = 1` is an integer; it is a fine float
    return isinstance(value, allowed)


def _as_field_type(name: str, value: Any) -> Any:
    if float in _allowed_types().get(name, ()) and isinstance(value, int) and not isinstance(value, bool):
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
    allowed = _allowed_types()[name]
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


_AT_LEAST_ONE = (
    "max_tokens",
    "max_image_bytes",
    "max_tool_rounds",
    "max_tool_result_bytes",
    "max_answer_bytes",
)
_SECONDS = ("timeout", "connect_timeout", "first_token_timeout", "tool_timeout", "max_turn_seconds")
_CHOICES = {"reasoning": REASONING_MODES, "backend": BACKENDS, "follow_redirects": REDIRECT_CHOICES}
_URLS = ("base_url", "proxy")


def _validate(config: Config, sources: Mapping[str, Source], path: Path) -> None:
    """Every value in range; the first that is not is a UsageError naming where it came from."""
    if (problem := _problem(config)) is not None:
        name, text = problem
        raise UsageError(f"{text} (from {_where(sources[name], path)})")


def _problem(config: Config) -> tuple[str, str] | None:
    """The first setting out of range and what is wrong with it, or None."""
    for name, choices in _CHOICES.items():
        if (value := getattr(config, name)) not in choices:
            return name, f"unknown {name} {value!r}; choose one of {', '.join(choices)}"
    if not config.model.strip():
        return "model", "the model name is empty"
    if config.temperature is not None and not 0 <= config.temperature <= 2:
        return "temperature", f"temperature {config.temperature} is out of range; use 0 to 2"
    for name in _AT_LEAST_ONE:
        if (value := getattr(config, name)) is not None and value < 1:
            return name, f"{name} must be at least 1"
    for name in _SECONDS:
        if (value := getattr(config, name)) is not None and value <= 0:
            return name, f"{name} must be a positive number of seconds"
    for name in _URLS:
        if (value := getattr(config, name)) and not value.startswith(("http://", "https://")):
            return name, f"{name} {value!r} must start with http:// or https://"
    if config.code_theme != DEFAULT_CODE_THEME and (problem := _code_theme_problem(config.code_theme)):
        return "code_theme", problem
    return None


def _code_theme_problem(theme: str) -> str | None:
    """Why `theme` is no Pygments style, with the closest one; None when it is one. A built-in style is one look-up
    in Pygments' map (8 ms); only another name pays for listing every style, plugins' included (40 ms)."""
    from pygments.styles import STYLE_MAP, get_all_styles  # type: ignore[import-untyped]

    if theme in STYLE_MAP:
        return None
    import difflib

    styles = list(get_all_styles())
    if theme in styles:
        return None
    close = difflib.get_close_matches(theme, styles, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown code_theme {theme!r}{hint}; `pygmentize -L styles` lists them"


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


def run_key_command(command: str, timeout: float = KEY_COMMAND_TIMEOUT, what: str = "api_key_cmd") -> str:
    """Run `command` (the setting `what`) without a shell; its stdout's first line is the key. Its output is
    never shown."""
    import shlex  # only for a key command

    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise UsageError(f"{what} cannot be split into words ({error}); check its quotes") from None
    if not argv:
        raise UsageError(f"{what} is empty; set it to a command that prints the key")
    try:
        returncode, output = _run_for_output(argv, timeout)
    except subprocess.TimeoutExpired:
        raise BackendError(
            f"{what} did not finish within {timeout:g} s; run it yourself to check it"
        ) from None
    except OSError as error:
        raise BackendError(
            f"{what} could not start {argv[0]!r} ({error.strerror}); check the command"
        ) from None
    if returncode != 0:
        raise BackendError(f"{what} failed (exit status {returncode}); run it yourself to see why")
    lines = output.decode("utf-8", "replace").strip().splitlines()
    if not lines or not lines[0].strip():
        raise BackendError(f"{what} printed no key; it must print the key on its first line")
    return lines[0].strip()


def _run_for_output(argv: list[str], timeout: float) -> tuple[int, bytes]:
    """Run `argv` (stdin closed, stderr discarded) until it exits; its exit status and what it printed by then.

    The output is taken when the command exits, not at the end of its stdout: a background process it
    started (a credential agent) may hold stdout open for ever."""
    import os
    import selectors
    import time

    deadline = time.monotonic() + timeout
    output = bytearray()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    with process.stdout, selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        stdout_open = True
        try:
            while process.poll() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise subprocess.TimeoutExpired(argv, timeout)
                if not stdout_open:
                    process.wait(remaining)
                elif selector.select(min(remaining, 0.1)):
                    stdout_open = _read_some(fd, output)
        except BaseException:
            process.kill()
            process.wait()
            raise
        while len(output) < KEY_OUTPUT_LIMIT and _read_some(fd, output):  # written just before it exited
            pass
    return process.returncode, bytes(output)


def _read_some(fd: int, output: bytearray) -> bool:
    """Append what `fd` holds now to `output`, up to KEY_OUTPUT_LIMIT (the rest is read and dropped, so the
    command never blocks on a full pipe); False at its end or when it holds nothing now."""
    import os

    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return False
    output += chunk[: KEY_OUTPUT_LIMIT - len(output)]
    return bool(chunk)
