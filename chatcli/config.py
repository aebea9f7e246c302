"""Settings for one run: flags > environment > defaults, resolved into a frozen Config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chatcli.errors import UsageError

DEFAULT_MODEL = "gpt-4o-mini"
BACKENDS = ("auto", "openai", "echo")


@dataclass(frozen=True, slots=True)
class Config:
    model: str = DEFAULT_MODEL
    backend: str = "auto"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0
    markdown: bool | None = None  # None: Markdown only when stdout is a terminal
    stream: bool = True

    def resolved_backend(self) -> str:
        """`auto` becomes `openai` when a key or base URL is configured, else `echo`."""
        if self.backend != "auto":
            return self.backend
        return "openai" if self.api_key or self.base_url else "echo"


_ENVIRONMENT = {"model": "CHATCLI_MODEL", "base_url": "OPENAI_BASE_URL", "api_key": "OPENAI_API_KEY"}


def load_config(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Config:
    """Build the Config from command-line values (None means not given) and the environment."""
    values: dict[str, Any] = {}
    for name, variable in _ENVIRONMENT.items():
        if environ.get(variable):
            values[name] = environ[variable]
    values.update({name: value for name, value in flags.items() if value is not None})
    config = Config(**values)
    _validate(config)
    return config


def _validate(config: Config) -> None:
    if config.backend not in BACKENDS:
        raise UsageError(f"unknown backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
    if not config.model.strip():
        raise UsageError("the model name is empty")
    if config.temperature is not None and not 0 <= config.temperature <= 2:
        raise UsageError(f"temperature {config.temperature} is out of range; use 0 to 2")
    if config.max_tokens is not None and config.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    if config.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if config.base_url is not None and not config.base_url.startswith(("http://", "https://")):
        raise UsageError(f"base URL {config.base_url!r} must start with http:// or https://")
