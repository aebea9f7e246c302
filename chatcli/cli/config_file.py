"""The config file: reading its TOML and checking every key against the settings' declarations and the tables'
own parsers. Every problem is one UsageError naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatcli.cli.settings import Price, Setting, settings
from chatcli.core.errors import UsageError
from chatcli.core.request_options import unsendable_option

TABLES = {
    "profiles": "a table of [profiles.NAME] tables",
    "aliases": "a table of names",
    "prices": "a table",
    "context_windows": "a table of model names and token counts",
    "options": "a table of request-body keys",
    "templates": "a table of [templates.NAME] tables",
    "mcp": "a table of [mcp.NAME] tables",
}


def read_config_file(path: Path) -> tuple[dict[str, Any], bool]:
    """The checked contents of the config file ({} when there is none) and whether it exists: settings as their
    declared types, `prices` as Price values, `mcp` as ServerSpec values."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, False
    except OSError as error:
        raise UsageError(
            f"cannot read config file {path} ({error.strerror}); check that it is a readable file"
        ) from None
    import tomllib  # paid only when there is a file

    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UsageError(
            f"config file {path} is not valid UTF-8 (byte offset {error.start}); save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path} is not valid TOML: {error}; fix the syntax") from None
    try:
        return checked(data), True
    except UsageError as error:
        raise UsageError(f"config file {path}: {error}") from None


def checked(data: dict[str, Any]) -> dict[str, Any]:
    """The file's contents with every key checked and each value as its type."""
    for key, value in data.items():
        if key in TABLES and not isinstance(value, dict):
            raise UsageError(f"{key} must be {TABLES[key]}, not {toml_type(value)}")
    result = {key: value for key, value in data.items() if key in TABLES}
    result |= checked_settings("", {key: value for key, value in data.items() if key not in TABLES}, TABLES)
    result["profiles"] = {name: _profile(name, table) for name, table in data.get("profiles", {}).items()}
    for name, target in data.get("aliases", {}).items():
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"[aliases] {name} must be a non-empty model name string")
    result["prices"] = {model: _price(model, value) for model, value in data.get("prices", {}).items()}
    result["context_windows"] = {
        model: _window(model, value) for model, value in data.get("context_windows", {}).items()
    }
    result["options"] = checked_options("[options]", data.get("options", {}))
    if servers := data.get("mcp", {}):
        from chatcli.tools.spec import parse_server

        result["mcp"] = {name: parse_server(name, table) for name, table in servers.items()}
    return result


def _profile(name: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UsageError(f"profiles.{name} must be a table of settings, not {toml_type(table)}")
    where = f"[profiles.{name}] "
    profile = checked_settings(where, {key: value for key, value in table.items() if key != "options"}, {})
    if "options" in table:
        profile["options"] = checked_options(f"[profiles.{name}.options]", table["options"])
    return profile


def _price(model: str, value: Any) -> Price:
    try:
        return Price.from_table(value)
    except ValueError as error:
        raise UsageError(f"[prices] {model!r} {error}") from None


def _window(model: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"[context_windows] {model!r} must be a number of tokens, at least 1")
    return value


def checked_options(where: str, options: Any) -> dict[str, Any]:
    """An [options] table: request-body keys with values JSON can carry."""
    if not isinstance(options, dict):
        raise UsageError(f"{where} must be a table of request-body keys")
    if (key := unsendable_option(options)) is not None:
        raise UsageError(f"{where} {key} must be a JSON value, not {toml_type(options[key])}")
    return options


def checked_settings(where: str, values: dict[str, Any], tables: dict[str, str]) -> dict[str, Any]:
    """`key = value` lines at the top level (`where` "") or in a profile: known settings, each of its type."""
    declared = settings()
    known = [*declared, *tables] if tables else [*declared, "options"]
    result = {}
    for key, value in values.items():
        if key not in declared:
            raise UsageError(
                f"{where}unknown key {key!r}{_close_match(key, known)}; known keys: {', '.join(known)}"
            )
        if not has_kind(value, declared[key]):
            raise UsageError(f"{where}{key} must be {describe_kind(declared[key])}, not {toml_type(value)}")
        result[key] = float(value) if declared[key].kind is float else value
    return result


def _close_match(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def has_kind(value: Any, declared: Setting) -> bool:
    if isinstance(value, bool):
        return declared.kind is bool
    if isinstance(value, int) and declared.kind is float:
        return True  # TOML `temperature = 1` is an integer; it is a fine number
    return isinstance(value, declared.kind)


def describe_kind(declared: Setting) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names[declared.kind]


def toml_type(value: Any) -> str:
    kinds = [(bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string")]
    kinds += [(dict, "a table"), (list, "an array")]
    return next((name for kind, name in kinds if isinstance(value, kind)), "a date or time")
