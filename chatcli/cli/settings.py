"""Every setting, declared once: its type, default, checks, environment variable, flag and meaning (`Config`).

The config file's checks, `config show`, `config init` and the backend's settings all read these declarations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from chatcli.backends import DEFAULT_BASE_URLS, BackendName, is_anthropic_url
from chatcli.core.compaction import DEFAULT_COMPACT_PROMPT
from chatcli.core.context import ContextWindow
from chatcli.core.stream import Usage
from chatcli.core.turn import DEFAULT_MAX_ANSWER_BYTES

if TYPE_CHECKING:  # each loaded only where it is used: [mcp] tables, the cost guard
    from chatcli.core.prompt_estimate import CostGuard
    from chatcli.tools.spec import ServerSpec

AUTO = "auto"  # the backend setting's default: see Config.resolved_backend
BACKENDS = (AUTO, *BackendName)
DEFAULT_BASE_URL = DEFAULT_BASE_URLS[BackendName.OPENAI]  # the openai backend's, when base_url is unset
DEFAULT_MODEL = "gpt-4o-mini"
# The model a backend uses when none is set, where it differs from DEFAULT_MODEL.
DEFAULT_MODELS = {BackendName.ANTHROPIC: "claude-sonnet-4-5", BackendName.OLLAMA: "llama3.2"}
DEFAULT_CODE_THEME = "monokai"
REASONING_MODES = ("show", "hide", "summary")
REDIRECT_CHOICES = ("same-host", "always", "never")

# A setting's name and value -> what is wrong with the value, or None.
Check = Callable[[str, Any], str | None]
Value = TypeVar("Value")


@dataclass(frozen=True, slots=True)
class Setting:
    """What one `Config` field is as a setting: `kind` is its type in the config file and the environment
    (str, int, float or bool; an int is a fine float); `check` says what is wrong with a value of that type."""

    kind: type
    description: str
    environment: str | None = None  # the variable that sets it
    flag: str | None = None  # the command-line option that sets it, as `config init` names it
    choices: tuple[str, ...] = ()
    check: Check | None = None
    secret: bool = False  # `config show` says only whether it is set
    unset: str = "not set"  # what an unset (None) value means, for `config show`
    example: Any = None  # a value `config init` suggests for a setting unset by default
    backend: bool = False  # passed to BackendSettings under the same name
    excludes: str | None = None  # another way to give the same value: the stronger layer's wins


def setting(default: Value, description: str, kind: type | None = None, **declared: Any) -> Value:
    """A `Config` field that is a setting; `kind` defaults to the type of `default`."""
    declaration = Setting(kind or type(default), description, **declared)
    return field(default=default, metadata={"setting": declaration}, repr=not declaration.secret)


def at_least_one(name: str, value: Any) -> str | None:
    return f"{name} must be at least 1" if value < 1 else None


def positive_seconds(name: str, value: Any) -> str | None:
    return f"{name} must be a positive number of seconds" if value <= 0 else None


def positive_dollars(name: str, value: Any) -> str | None:
    return f"{name} must be a positive number of US dollars" if value <= 0 else None


def http_url(name: str, value: Any) -> str | None:
    """An empty value is allowed: for `proxy` it means no proxy."""
    if value and not value.startswith(("http://", "https://")):
        return f"{name} {value!r} must start with http:// or https://"
    return None


def not_empty(name: str, value: Any) -> str | None:
    return f"the {name} name is empty" if not value.strip() else None


def temperature_range(name: str, value: Any) -> str | None:
    return f"{name} {value} is out of range; use 0 to 2" if not 0 <= value <= 2 else None


def fraction(name: str, value: Any) -> str | None:
    return (
        f"{name} {value} is out of range; use a fraction above 0 and at most 1, like 0.8"
        if not 0 < value <= 1
        else None
    )


def some_text(name: str, value: Any) -> str | None:
    return f"{name} is empty" if not value.strip() else None


def code_theme_problem(name: str, theme: Any) -> str | None:
    """Why `theme` is no Pygments style, with the closest one; None when it is one. The default and a built-in
    style are one look-up in Pygments' map; only another name pays for listing every style, plugins' included."""
    if theme == DEFAULT_CODE_THEME:
        return None
    from pygments.styles import STYLE_MAP, get_all_styles  # type: ignore[import-untyped]

    if theme in STYLE_MAP:
        return None
    import difflib

    styles = list(get_all_styles())
    if theme in styles:
        return None
    close = difflib.get_close_matches(theme, styles, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {name} {theme!r}{hint}; `pygmentize -L styles` lists them"


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens: of the prompt, of the answer, and of the prompt's tokens read from the
    provider's prompt cache and written to it (None: at the input price)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    @staticmethod
    def from_table(value: Any) -> Price:
        """A `[prices]` entry, `{ input = 3, output = 15, cache_read = 0.3, cache_write = 3.75 }` (the cache
        prices optional); ValueError saying what is wrong."""
        if not isinstance(value, dict) or not {"input", "output"} <= set(value):
            raise ValueError(
                "must be a table like { input = 0.15, output = 0.60 } (dollars per million tokens; "
                "cache_read and cache_write optional)"
            )
        if unknown := [key for key in value if key not in PRICE_KEYS]:
            raise ValueError(f"has an unknown key {unknown[0]!r}; a price takes {', '.join(PRICE_KEYS)}")
        for part, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                raise ValueError(f"{part} must be a number ≥ 0")
        cache_read, cache_write = value.get("cache_read"), value.get("cache_write")
        return Price(
            float(value["input"]),
            float(value["output"]),
            float(cache_read) if cache_read is not None else None,
            float(cache_write) if cache_write is not None else None,
        )

    def dollars(self, usage: Usage) -> float:
        """What `usage` costs: the prompt's uncached tokens at `input`, its cache reads at `cache_read` and cache
        writes at `cache_write` (each `input` when not given), the answer at `output`."""
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        uncached = max(usage.prompt_tokens - cached, 0)
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        return (
            uncached * self.input
            + usage.cache_read_tokens * read
            + usage.cache_write_tokens * write
            + usage.completion_tokens * self.output
        ) / 1_000_000


PRICE_KEYS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class Config:
    """The settings of one run. Each `setting(...)` field is a `key = value` of the config file and its profiles,
    declared once; the others are the file's tables."""

    model: str = setting(
        DEFAULT_MODEL,
        "model id sent to the server, or an alias from [aliases]",
        environment="CHATCLI_MODEL",
        flag="-m",
        check=not_empty,
    )
    backend: str = setting(
        AUTO,
        "auto, openai, anthropic, responses, ollama or echo; auto is anthropic for api.anthropic.com or with "
        "only ANTHROPIC_API_KEY set, openai once a key, key command or base URL is set, else echo",
        flag="-b",
        choices=BACKENDS,
    )
    base_url: str | None = setting(
        None,
        "the server: openai and responses take the URL ending in /v1, anthropic and ollama their root",
        str,
        environment="OPENAI_BASE_URL",
        flag="--base-url",
        check=http_url,
        unset=DEFAULT_BASE_URL,
        example="http://localhost:11434/v1",
        backend=True,
    )
    api_key: str | None = setting(
        None,
        'the API key ("" for none: a keyless server); keep this file private (chmod 600) if it holds one',
        str,
        environment="OPENAI_API_KEY",
        secret=True,
        example="",
        excludes="api_key_cmd",
    )
    api_key_cmd: str | None = setting(
        None,
        "a command whose first line of output is the key (password managers)",
        str,
        secret=True,
        example="pass show openai",
    )
    system: str | None = setting(None, "system prompt", str, flag="-s", example="Answer briefly.")
    temperature: float | None = setting(
        None,
        "sampling temperature, 0 to 2",
        float,
        flag="-t",
        check=temperature_range,
        unset="the server's",
        example=0.3,
    )
    max_tokens: int | None = setting(
        None,
        "longest answer, in tokens",
        int,
        flag="--max-tokens",
        check=at_least_one,
        unset="the server's",
        example=1024,
    )
    timeout: float = setting(
        60.0,
        "longest silence between two chunks of an answer, seconds",
        flag="--timeout",
        check=positive_seconds,
        backend=True,
    )
    connect_timeout: float = setting(
        10.0, "longest wait to connect, seconds", check=positive_seconds, backend=True
    )
    first_token_timeout: float = setting(
        300.0,
        "longest wait for the first piece of an answer (local models may think for minutes), seconds",
        check=positive_seconds,
        backend=True,
    )
    markdown: bool | None = setting(
        None,
        "render Markdown",
        bool,
        flag="--markdown/--plain",
        unset="only on a terminal",
        example=True,
    )
    code_theme: str = setting(
        DEFAULT_CODE_THEME,
        "Pygments style for code blocks (pygmentize -L styles)",
        check=code_theme_problem,
    )
    stream: bool = setting(
        True, "stream answers; false waits for the whole answer", flag="--no-stream", backend=True
    )
    log: bool = setting(True, "record conversations in the library", flag="--no-log")
    max_image_bytes: int = setting(
        20 * 1024 * 1024, "the largest image -f, /file or /paste attaches", check=at_least_one
    )
    fetch_timeout: float = setting(
        30.0,
        "the longest fetching a web page for -f URL or /file URL may take, redirects included, seconds",
        check=positive_seconds,
    )
    reasoning: str = setting(
        "summary",
        "what a terminal shows of the model's reasoning: show, hide or summary",
        flag="--reasoning",
        choices=REASONING_MODES,
    )
    tools: str | None = setting(
        None,
        "MCP servers whose tools are offered, comma-separated",
        str,
        flag="--tools",
        example="notes",
    )
    max_tool_rounds: int = setting(8, "most rounds of tool calls in one turn", check=at_least_one)
    max_tool_result_bytes: int = setting(
        64 * 1024, "longest tool result sent back to the model", check=at_least_one
    )
    tool_timeout: float = setting(60.0, "longest wait for one tool call, seconds", check=positive_seconds)
    max_answer_bytes: int = setting(
        DEFAULT_MAX_ANSWER_BYTES,
        "longest answer (with its reasoning) read; past it the turn ends, the partial answer kept",
        check=at_least_one,
    )
    proxy: str | None = setting(
        None,
        'proxy for every request; "" for none',
        str,
        check=http_url,
        example="http://proxy.example:3128",
        unset="not set (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)",
        backend=True,
    )
    ca_bundle: str | None = setting(
        None,
        "trusted certificates, a PEM file or directory",
        str,
        example="~/certs/company.pem",
        unset="not set (SSL_CERT_FILE, SSL_CERT_DIR or the system's)",
    )
    follow_redirects: str = setting(
        "same-host",
        "same-host (same scheme, host and port), always or never",
        choices=REDIRECT_CHOICES,
        backend=True,
    )
    max_turn_seconds: float | None = setting(
        None,
        "the longest a whole turn may take, retries included",
        float,
        check=positive_seconds,
        unset="not set (no limit)",
        example=120,
        backend=True,
    )
    context_window: int | None = setting(
        None,
        "the model's context window in tokens, over what the server says ([context_windows]: per model)",
        int,
        check=at_least_one,
        unset="the server's, when it says",
        example=32768,
    )
    prompt_cache: bool = setting(
        True,
        "anthropic: cache the system prompt, tools and earlier turns (cheaper, faster repeats)",
        backend=True,
    )
    keep_alive: str | None = setting(
        None,
        'ollama: how long the model stays loaded after an answer ("5m", "1h", "-1" for ever)',
        str,
        unset="Ollama's (5m)",
        example="30m",
        backend=True,
    )
    compact_prompt: str = setting(
        DEFAULT_COMPACT_PROMPT,
        "what /compact and `history compact` ask the model for (their INSTRUCTIONS follow it)",
        check=some_text,
    )
    compact_at: float | None = setting(
        None,
        "offer /compact (never forced) once the context gauge passes this fraction, like 0.8",
        float,
        check=fraction,
        unset="not set (never offered)",
        example=0.8,
    )
    cmd_system: str | None = setting(
        None,
        "the system prompt of `cmd` and /cmd; {shell}, {os} and {cwd} are filled in",
        str,
        check=some_text,
        unset="the built-in one (README: Shell commands)",
        example="Reply with one POSIX sh command for {os}, nothing else.",
    )
    confirm_above_tokens: int | None = setting(
        None,
        "ask before sending a prompt of more tokens than this (estimated); piped, ask refuses it without --yes",
        int,
        check=at_least_one,
        unset="not set (never asks)",
        example=100000,
    )
    confirm_above_cost: float | None = setting(
        None,
        "ask before sending a prompt that costs more US dollars than this ([prices]); piped, refused without --yes",
        float,
        check=positive_dollars,
        unset="not set (never asks)",
        example=0.5,
    )
    aliases: Mapping[str, str] = field(default_factory=dict)
    prices: Mapping[str, Price] = field(default_factory=dict)
    context_windows: Mapping[str, int] = field(default_factory=dict)  # [context_windows]: tokens by model
    options: Mapping[str, Any] = field(default_factory=dict)  # more request-body keys
    templates: Mapping[str, Any] = field(default_factory=dict)  # [templates.NAME], parsed by TemplateStore
    mcp: Mapping[str, ServerSpec] = field(default_factory=dict)
    auto_backend: BackendName | None = None  # what `auto` stands for, picked by resolve_config

    def resolved_backend(self) -> BackendName:
        """The backend `auto` stands for: what resolve_config picked (the environment's keys count), else
        anthropic for Anthropic's URL, openai once a key, a key command or a base URL is configured, else echo."""
        if self.backend != AUTO:
            return BackendName(self.backend)
        if self.auto_backend is not None:
            return self.auto_backend
        if is_anthropic_url(self.base_url):
            return BackendName.ANTHROPIC
        return BackendName.OPENAI if self.api_key or self.api_key_cmd or self.base_url else BackendName.ECHO

    def default_base_url(self) -> str:
        """Where requests go when no base URL is set: the chosen backend's default."""
        return DEFAULT_BASE_URLS.get(self.resolved_backend(), DEFAULT_BASE_URL)

    def price(self, model: str | None) -> Price | None:
        return self.prices.get(model) if model else None

    def cost_guard(self) -> CostGuard:
        from chatcli.core.prompt_estimate import CostGuard  # loaded only where a guard is checked

        return CostGuard(self.confirm_above_tokens, self.confirm_above_cost)

    def configured_window(self, model: str) -> ContextWindow | None:
        """The context window the config gives `model`: its [context_windows] entry, else `context_window`."""
        tokens = self.context_windows.get(model, self.context_window)
        return ContextWindow(tokens, "config") if tokens is not None else None

    def backend_values(self) -> dict[str, Any]:
        """The settings BackendSettings takes as they are, by name."""
        return {name: getattr(self, name) for name, declared in settings().items() if declared.backend}


@cache
def settings() -> dict[str, Setting]:
    """Every setting by name, in declaration order: the keys a config file or profile may set."""
    return {f.name: f.metadata["setting"] for f in fields(Config) if "setting" in f.metadata}


def default_of(name: str) -> Any:
    """The setting's default value (None: unset)."""
    return next(f.default for f in fields(Config) if f.name == name)


def problem_with(name: str, value: Any) -> str | None:
    """What is wrong with `value` (of the setting's type) for the setting `name`, or None."""
    declared = settings()[name]
    if value is None:
        return None
    if declared.choices and value not in declared.choices:
        return f"unknown {name} {value!r}; choose one of {', '.join(declared.choices)}"
    return declared.check(name, value) if declared.check is not None else None
