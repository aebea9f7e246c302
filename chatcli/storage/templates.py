"""Templates: reusable prompts, each a TOML file in the config directory's `templates/` or a
`[templates.NAME]` table of the config file, filled in by a single-pass substitution."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatcli.core.errors import UsageError
from chatcli.core.request_options import reserved_option_problem, unsendable_option
from chatcli.storage.files import read_user_file

MAX_TEMPLATE_BYTES = 256 * 1024
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# `{name}` is a placeholder; `{{` and `}}` are literal braces; any other brace is just a brace (JSON in a
# prompt needs no escaping).
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STRINGS = ("description", "system", "prompt", "model", "profile")
KEYS = (*_STRINGS, "params", "defaults", "options")
INPUT = "input"


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    source: str  # the file, or "[templates.NAME] in FILE"
    description: str | None = None
    system: str | None = None
    prompt: str | None = None
    params: tuple[str, ...] = ()  # parameters without a default: -P must give them
    defaults: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    profile: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line for lists: the description, else the start of the prompt or system prompt."""
        text = self.description or self.prompt or self.system or ""
        line = " ".join(text.split())
        return line if len(line) <= 60 else line[:59] + "…"

    def values(self, given: Mapping[str, str]) -> dict[str, str]:
        """The parameters' values: `given` (-P) over the defaults; UsageError for an unknown or missing one."""
        unknown = sorted(set(given) - set(self.params) - set(self.defaults))
        if unknown:
            declared = ", ".join([*self.params, *self.defaults]) or "none"
            raise UsageError(
                f"template {self.name} has no parameter {unknown[0]!r}; its parameters: {declared}"
            )
        values = {**self.defaults, **given}
        missing = [name for name in self.params if name not in values]
        if missing:
            raise UsageError(f"template {self.name} needs parameter {missing[0]!r}: -P {missing[0]} VALUE")
        return values

    def system_prompt(self, given: Mapping[str, str]) -> str | None:
        """The system prompt with its parameters filled in."""
        return substitute(self.system, self.values(given)) if self.system is not None else None

    def fill(self, text: str, given: Mapping[str, str]) -> str:
        """The prompt with `{input}` = `text` and the parameters (`given` over the defaults). Substituted text
        is never scanned again, so input cannot inject placeholders. Without `{input}`, the text follows the
        prompt after a blank line; a template without a prompt sends the text as it is."""
        values = self.values(given)
        if self.prompt is None:
            prompt = text
        elif INPUT in placeholders(self.prompt):
            if not text.strip():
                raise UsageError(f"template {self.name} needs input: text after it, or on stdin")
            prompt = substitute(self.prompt, {**values, INPUT: text})
        else:
            prompt = substitute(self.prompt, values)
            if text.strip():
                prompt = f"{prompt}\n\n{text}"
        if not prompt.strip():
            raise UsageError(f"template {self.name} has no prompt; give one after it, or on stdin")
        return prompt


def placeholders(text: str) -> set[str]:
    return {match.group(1) for match in _PLACEHOLDER.finditer(text) if match.group(1)}


def substitute(text: str, values: Mapping[str, str]) -> str:
    """One pass over `text`: each `{name}` becomes its value, `{{`/`}}` a brace; values are not re-read."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        return values[name]

    return _PLACEHOLDER.sub(replace, text)


class TemplateStore:
    """The templates in `directory` (NAME.toml) and the config file's `[templates.NAME]` tables (`tables`)."""

    def __init__(self, directory: Path, tables: Mapping[str, Any], config_file: Path) -> None:
        self.directory = directory
        self._tables = tables
        self._config_file = config_file

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.toml"

    def names(self) -> list[str]:
        """Every template name, sorted: files first win over a table of the same name."""
        try:
            files = {path.stem for path in self.directory.glob("*.toml") if path.is_file()}
        except OSError:
            files = set()
        return sorted(files | set(self._tables))

    def load(self, name: str) -> Template:
        """The template called `name`, checked; UsageError with one line naming its source when it is wrong."""
        if not NAME.fullmatch(name):
            raise UsageError(f"{name!r} is not a template name; names are lowercase letters, digits, - and _")
        path = self.path(name)
        if path.is_file():
            return parse_template(name, _read_toml(path), str(path))
        if name in self._tables:
            return parse_template(name, self._tables[name], f"[templates.{name}] in {self._config_file}")
        known = ", ".join(self.names()) or "none yet"
        raise UsageError(
            f"no template {name!r}; templates: {known} (create one: chatcli templates edit {name})"
        )

    def load_all(self, warn: Callable[[str], None]) -> dict[str, Template]:
        """Every template that loads; each one that does not costs one warning."""
        templates = {}
        for name in self.names():
            try:
                templates[name] = self.load(name)
            except UsageError as error:
                warn(f"template skipped: {error}")
        return templates


def _read_toml(path: Path) -> Any:
    import tomllib

    raw = read_user_file(path, MAX_TEMPLATE_BYTES, f"template {path}")
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UsageError(f"template {path} is not valid UTF-8 (byte offset {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"template {path} is not valid TOML: {error}") from None


def parse_template(name: str, data: Any, source: str) -> Template:
    """A template from its TOML table; every mistake is one UsageError naming `source` and the key."""
    if not NAME.fullmatch(name):
        raise UsageError(f"{source}: {name!r} is not a template name (lowercase letters, digits, - and _)")
    if not isinstance(data, dict):
        raise UsageError(f"{source}: a template must be a table")
    for key, value in data.items():
        if key not in KEYS:
            raise UsageError(f"{source}: unknown key {key!r}; known keys: {', '.join(KEYS)}")
        if key in _STRINGS and not isinstance(value, str):
            raise UsageError(f"{source}: {key} must be a string")
    template = Template(
        name,
        source,
        data.get("description"),
        data.get("system"),
        data.get("prompt"),
        _params(data.get("params", []), source),
        _defaults(data.get("defaults", {}), source),
        data.get("model"),
        data.get("profile"),
        _options(data.get("options", {}), source),
    )
    _check_placeholders(template, source)
    return template


def _params(params: Any, source: str) -> tuple[str, ...]:
    if not isinstance(params, list) or not all(isinstance(p, str) and p.isidentifier() for p in params):
        raise UsageError(f'{source}: params must be a list of parameter names, like ["language"]')
    return tuple(params)


def _defaults(defaults: Any, source: str) -> dict[str, str]:
    if not isinstance(defaults, dict) or not all(
        key.isidentifier() and isinstance(value, str | int | float) and not isinstance(value, bool)
        for key, value in defaults.items()
    ):
        raise UsageError(
            f'{source}: defaults must be a table of texts or numbers, like {{ style = "terse" }}'
        )
    return {key: str(value) for key, value in defaults.items()}


def _options(options: Any, source: str) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise UsageError(f"{source}: options must be a table of request-body keys")
    for key in options:
        if (problem := reserved_option_problem(key)) is not None:
            raise UsageError(f"{source}: {problem}")
    if (key := unsendable_option(options)) is not None:
        raise UsageError(f"{source}: option {key} must be a JSON value (a date or time is not)")
    return options


def _check_placeholders(template: Template, source: str) -> None:
    declared = {*template.params, *template.defaults}
    for text, allowed in ((template.prompt, {INPUT, *declared}), (template.system, declared)):
        unknown = sorted(placeholders(text or "") - allowed)
        if unknown:
            raise UsageError(
                f"{source}: unknown placeholder {{{unknown[0]}}}; declare it in params or defaults "
                "({input} belongs in the prompt; write {{ and }} for literal braces)"
            )
