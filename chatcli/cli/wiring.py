"""The one place that picks concrete classes: settings, backend, renderer, conversation, observers, session."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TextIO

from chatcli.backends import BackendName
from chatcli.cli.exit_status import report
from chatcli.cli.options import STDIO, ChatOptions
from chatcli.cli.settings import AUTO, Config
from chatcli.cli.settings_resolution import Resolved, SourceKind, resolve_config
from chatcli.core.conversation import Content, Conversation
from chatcli.core.environment import Environment
from chatcli.core.errors import UsageError
from chatcli.core.stream import Backend, BackendSettings
from chatcli.storage.library import LATEST

if TYPE_CHECKING:
    from chatcli.backends.background import BackgroundBackend
    from chatcli.core.renderer import Renderer
    from chatcli.core.session import ConversationDefaults, Session
    from chatcli.storage.attachments import Attachment
    from chatcli.storage.conversation_file import ConversationFile
    from chatcli.storage.inputs import Limits
    from chatcli.storage.recorder import Recorder
    from chatcli.tools.runner import McpToolRunner


def resolve_settings(env: Environment, options: ChatOptions) -> Resolved:
    """The run's settings; warns when the API key sits in a config file that other users can read."""
    resolved = resolve_config(options.settings_flags(), env.environ, env.dirs.config_file)
    if (exposed := resolved.exposed_key_file()) is not None:
        report(
            env,
            f"warning: {exposed} holds your API key and other users can read it; run: chmod 600 {exposed}",
        )
    return resolved


@dataclass(slots=True)
class StartingConversation:
    """The starting conversation, the file it was loaded from and the file to save it to."""

    conversation: Conversation
    loaded_file: ConversationFile | None
    save_file: ConversationFile | None


def conversation_defaults(resolved: Resolved) -> ConversationDefaults:
    """The model and system prompt of the settings, and whether the user asked for them (a flag, the
    environment or a profile: they replace a loaded conversation's own) or they come from the config file's
    top level or the defaults (they only fill in what a loaded conversation lacks)."""
    from chatcli.core.session import ConversationDefaults

    def chosen(name: str) -> bool:
        return resolved.sources[name].kind not in (SourceKind.DEFAULT, SourceKind.FILE)

    config = resolved.config
    return ConversationDefaults(config.model, config.system, chosen("model"), chosen("system"))


def open_conversation(
    resolved: Resolved,
    options: ChatOptions,
    recorder: Recorder,
    stdin: BinaryIO | None = None,
    overwrite: bool = False,
) -> StartingConversation:
    """The starting conversation (loaded, resumed from the library or new), the file it came from and the
    file --save names. Its model and system prompt follow `conversation_defaults` (the rule /load follows too).

    Saving to the file we loaded continues it; saving over any other existing file is refused up front,
    before a request is spent, unless `overwrite` (`ask --force`)."""
    from chatcli.storage.conversation_file import ConversationFile

    conversation = Conversation()
    loaded_file = None
    if options.continue_ and options.cid is not None:
        raise UsageError("--continue cannot be combined with --cid; choose one conversation")
    resume = options.cid if options.cid is not None else (LATEST if options.continue_ else None)
    if resume is not None:
        if options.load is not None:
            raise UsageError("--load cannot be combined with --continue or --cid; choose one conversation")
        conversation = recorder.resume(resume)
    if options.load == STDIO:
        conversation = read_conversation_from_stdin(stdin)
    elif options.load is not None:
        loaded_file = ConversationFile(options.load)
        conversation = loaded_file.load()
    if options.load is not None:
        recorder.attach_copy(conversation)
    if options.name is not None:
        _name_new_conversation(recorder, options.name, resume is not None)
    conversation_defaults(resolved).apply(conversation)
    save_file = None
    if options.save is not None:
        same_file = loaded_file is not None and os.path.abspath(options.load or "") == os.path.abspath(
            options.save
        )
        save_file = loaded_file if same_file else ConversationFile(options.save)
        assert save_file is not None
        _check_writable(save_file, overwrite)
    return StartingConversation(conversation, loaded_file, save_file)


def _name_new_conversation(recorder: Recorder, name: str, resumed: bool) -> None:
    """--name NAME: checked, and free in the library, before a request is spent."""
    from chatcli.storage.library import check_name

    if resumed:
        raise UsageError("--name names a new conversation; `chatcli history rename ID NAME` renames one")
    if not recorder.records:
        raise UsageError(
            "--name names the conversation in the library, which --no-log (or log = false) leaves out"
        )
    recorder.rename(check_name(name))


def _check_writable(save_file: ConversationFile, overwrite: bool) -> None:
    from chatcli.storage.conversation_file import NotOurFileError

    try:
        save_file.check_writable()
    except NotOurFileError:
        if not overwrite:
            raise
        save_file.claim()


def read_conversation_from_stdin(stdin: BinaryIO | None) -> Conversation:
    """A conversation file given as `-`: read from stdin, with the limits a file has."""
    from chatcli.storage.conversation_file import MAX_FILE_BYTES, decode_conversation

    if stdin is None:
        raise UsageError("`-` reads a conversation from piped stdin, and none is piped")
    raw = stdin.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(f"stdin: conversation larger than {MAX_FILE_BYTES} bytes")
    return decode_conversation(raw, "stdin")


def new_recorder(env: Environment, config: Config) -> Recorder:
    """The library recorder for this run (it opens the library only when a turn or a resume needs it)."""
    from chatcli.storage.library import url_host
    from chatcli.storage.recorder import Recorder

    backend = config.resolved_backend()
    host = url_host(config.base_url or config.default_base_url()) if backend is not BackendName.ECHO else None
    return Recorder(
        env.dirs.library_file,
        lambda message: report(env, message),
        records=config.log,
        backend=backend,
        host=host,
        content_text=_shown_content,
    )


def _shown_content(content: Content) -> str:
    """render.message_text.shown_content, imported only when a title is made of parts (an image)."""
    from chatcli.render.message_text import shown_content

    return shown_content(content)


def backend_settings(env: Environment, resolved: Resolved, api_key: str | None) -> BackendSettings:
    """The settings declared `backend=True` as they are, plus what the environment and the key add."""
    environ, config = env.environ, resolved.config
    return BackendSettings(
        **config.backend_values(),
        api_key=api_key,
        api_key_origin=resolved.api_key_origin(),
        notify=lambda message: report(env, message),
        organization=environ.get("OPENAI_ORG_ID") or None,
        project=environ.get("OPENAI_PROJECT_ID") or None,
        proxy_environment=_proxy_environment(environ),
        ca_bundle=_ca_bundle(config, environ),
        context_window=config.context_window,
        context_windows=config.context_windows,
    )


def _proxy_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The proxy variables as curl reads them: the lower-case name first, then the upper-case one."""
    found = {}
    for name in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
        upper = name.upper() if name != "http_proxy" or "REQUEST_METHOD" not in environ else None  # httpoxy
        if value := environ.get(name) or (environ.get(upper) if upper else None):
            found[name] = value
    return found


def _ca_bundle(config: Config, environ: Mapping[str, str]) -> str | None:
    """The `ca_bundle` setting, else SSL_CERT_FILE or SSL_CERT_DIR, else None (the system's store)."""
    path = config.ca_bundle or environ.get("SSL_CERT_FILE") or environ.get("SSL_CERT_DIR")
    return os.path.expanduser(path) if path else None


def page_fetcher(env: Environment, resolved: Resolved, limits: Limits) -> Callable[[str], Attachment]:
    """What `-f URL` and `/file URL` call: the page fetched through the model's proxies and certificates
    (backends.web_page), made an attachment (storage.web_pages); both load only when a URL is given."""

    def fetch(url: str) -> Attachment:
        from chatcli.backends.web_page import fetch_page
        from chatcli.storage.web_pages import body_limit, page_attachment

        settings = backend_settings(env, resolved, None)
        page = fetch_page(
            url, settings, resolved.config.fetch_timeout, lambda header: body_limit(url, header, limits)
        )
        return page_attachment(page.url, page.final_url, page.content_type, page.body, limits)

    return fetch


def new_backend(env: Environment, resolved: Resolved) -> Backend:
    from chatcli.backends import create_backend

    return create_backend(_backend_name(env, resolved.config), _settings_with_key(env, resolved))


def new_background_backend(env: Environment, resolved: Resolved) -> BackgroundBackend:
    """The backend, built in a thread once started, so the REPL's first prompt does not wait for its imports."""
    from chatcli.backends import create_backend
    from chatcli.backends.background import BackgroundBackend

    name = _backend_name(env, resolved.config)
    settings = _settings_with_key(env, resolved)
    return BackgroundBackend(name, lambda: create_backend(name, settings))


def _backend_name(env: Environment, config: Config) -> BackendName:
    name = config.resolved_backend()
    if config.backend == AUTO and name is BackendName.ECHO:
        report(
            env,
            "no API key or base URL configured; using the offline echo backend (set OPENAI_API_KEY or --base-url)",
        )
    return name


def _settings_with_key(env: Environment, resolved: Resolved) -> BackendSettings:
    from chatcli.cli.key_command import resolve_api_key

    config = resolved.config
    remote = config.resolved_backend() is not BackendName.ECHO
    api_key = resolve_api_key(config, functools.partial(spinner, env)) if remote else None
    return backend_settings(env, resolved, api_key)


def new_session(resolved: Resolved, conversation: Conversation, backend: Backend) -> Session:
    from chatcli.core.session import Session

    config = resolved.config
    return Session(
        backend,
        conversation,
        conversation.model or config.model,
        config.temperature,
        config.max_tokens,
        options=dict(config.options),
        defaults=conversation_defaults(resolved),
        max_answer_bytes=config.max_answer_bytes,
        reasoning_shown=config.reasoning != "hide",
    )


def new_renderer(env: Environment, config: Config) -> Renderer:
    """Markdown on a terminal (unless --plain, TERM=dumb or NO_COLOR); raw bytes on a pipe, sanitised on a terminal.

    Forced with --markdown where the terminal cannot redraw (TERM=dumb, a pipe), blocks print as they close."""
    from chatcli.render.plain import PlainRenderer
    from chatcli.render.sanitize import StreamSanitizer

    on_terminal = env.stdout_isatty
    if _renders_markdown(env, config):
        from rich.console import Console

        from chatcli.render.markdown_renderer import MarkdownRenderer

        console = Console(file=env.stdout, highlight=False, force_terminal=on_terminal, no_color=env.no_color)
        return MarkdownRenderer(console, code_theme=config.code_theme)
    return PlainRenderer(env.stdout_binary, StreamSanitizer() if on_terminal else None)


# A wait shorter than this is over before a thread importing the renderer helps, and that thread would slow it:
# each of the request's network steps that wakes up waits for the interpreter lock the imports hold.
_PRELOAD_AFTER = 0.02  # seconds


def preload_renderer(env: Environment, config: Config) -> None:
    """Import the Markdown stack `new_renderer` will need (Rich, markdown-it, Pygments: slow to import) in a thread,
    from _PRELOAD_AFTER on, while chatcli waits for the server or the user: the first text then shows without
    that delay."""
    if _renders_markdown(env, config) and "chatcli.render.markdown" not in sys.modules:
        timer = threading.Timer(_PRELOAD_AFTER, _import_markdown_stack)
        timer.name, timer.daemon = "chatcli-preload", True
        timer.start()


def _import_markdown_stack() -> None:
    with contextlib.suppress(Exception):  # an import that fails here fails again where the renderer is made
        import chatcli.render.markdown
        import chatcli.render.markdown_renderer  # noqa: F401


def _renders_markdown(env: Environment, config: Config) -> bool:
    if config.markdown is not None:
        return config.markdown
    return env.stdout_isatty and not (env.dumb_terminal or env.no_color)


def new_tool_runner(
    env: Environment,
    resolved: Resolved,
    options: ChatOptions,
    names: str | None = None,
    *,
    flag_required: bool = False,
) -> McpToolRunner | None:
    """The runner for the MCP servers `names` (default: --tools or the `tools` setting) chooses; None when no
    tools are asked for. Nothing starts (and `mcp` is not imported) until the first turn offers them. With
    `flag_required`, servers named by --tools must start or the turn fails before anything is sent."""
    config = resolved.config
    if names is None and not config.tools and not options.yes_tools:
        return None  # the common case: nothing of the tools is loaded
    from chatcli.cli.key_command import run_key_command
    from chatcli.tools.spec import chosen_servers, exact_tool_names

    pre_approved = exact_tool_names(options.yes_tools)
    if names is None:
        names = config.tools
        if not names:
            if pre_approved:
                raise UsageError("--yes-tools needs --tools (or a tools setting) to choose the servers")
            return None
        source = resolved.sources["tools"]
        names_from = "--tools" if source.kind is SourceKind.FLAG else f"the tools setting ({source})"
        required = flag_required and source.kind is SourceKind.FLAG
    else:
        required = False
        names_from = "/tools on"
    from chatcli.render.sanitize import sanitize
    from chatcli.tools.approval import Approver
    from chatcli.tools.runner import McpToolRunner
    from chatcli.tools.spec import ToolLimits

    specs = chosen_servers(config.mcp, names, names_from, str(resolved.path))
    out = env.stdout if env.stdout_isatty else env.stderr if env.stderr_isatty else None
    fd = env.stdin_fd() if env.stdin_isatty else None
    approver = Approver(
        pre_approved, out, fd, styled=not (env.no_color or env.dumb_terminal), sanitize=sanitize
    )
    limits = ToolLimits(config.max_tool_rounds, config.max_tool_result_bytes, config.tool_timeout)
    return McpToolRunner(
        specs,
        limits,
        approver,
        lambda message: report(env, message),
        env.dirs.state / "mcp.log",
        resolve_secret=lambda command, what: run_key_command(command, what=what),
        required=required,
        waiting=lambda label: spinner(env, label),
    )


def spinner_stream(env: Environment) -> TextIO | None:
    """Where spinners go: a terminal's stderr that can redraw a line, else nowhere."""
    return env.stderr if env.stderr_isatty and not env.dumb_terminal else None


def spinner(env: Environment, label: str) -> contextlib.AbstractContextManager[object]:
    """A spinner saying `label` and the time it has taken, on a terminal's stderr, while the block runs."""
    to = spinner_stream(env)
    if to is None:
        return contextlib.nullcontext()
    from chatcli.render.plain import SilentRenderer
    from chatcli.render.turn_display import TurnDisplay

    return TurnDisplay(SilentRenderer, to, label=label)
