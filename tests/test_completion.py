"""Tab completion of values: model names and aliases, backends, profiles and library ids; the model list cache."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.cli.completion import MODELS_KEPT_FOR, server_models
from chatcli.cli.settings import Config
from chatcli.repl.prompt import SlashCompleter
from tests.conftest import CHATCLI
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer


def bash_complete(*words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers for the last of `words` (typer's protocol, as the installed script uses it)."""
    line = " ".join(["chatcli", *words])
    result = subprocess.run(
        [CHATCLI],
        env={
            **os.environ,
            **(env or {}),
            "_CHATCLI_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words)),
        },
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().split()


def write_config(home: Path, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.e2e
def test_backend_and_profile_values_complete() -> None:
    assert bash_complete("-b", "op") == ["openai"]
    assert bash_complete("-b", "o") == ["openai", "ollama"]  # in the order the choices are declared
    assert bash_complete("ask", "-b", "") == ["auto", "echo", "openai", "anthropic", "responses", "ollama"]


@pytest.mark.e2e
def test_models_complete_from_aliases_and_the_server_then_from_the_cache(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_config(isolated_home, f'base_url = "{server.url}"\n[aliases]\nfast = "m-small"\n')
    server.models = ["m-small", "m-large"]
    assert bash_complete("-m", "") == ["fast", "m-large", "m-small"]
    assert bash_complete("ask", "-m", "m-l") == ["m-large"]
    asked = len(server.requests)
    server.models = ["changed"]
    assert bash_complete("-m", "m-") == ["m-large", "m-small"]  # a day's cache: the server is not asked again
    assert len(server.requests) == asked
    cache = json.loads((isolated_home / ".cache" / "chatcli" / "models.json").read_text())
    assert cache[server.url]["ids"] == ["m-large", "m-small"]


def test_a_stale_list_is_fetched_again_and_an_unreachable_server_leaves_the_old_one(
    server: OpenAIServer, tmp_path: Path
) -> None:
    cache = tmp_path / "models.json"
    config = Config(base_url=server.url, backend="openai")
    server.models = ["first"]
    assert server_models(config, cache, now=1000.0) == ["first"]
    server.models = ["second"]
    assert server_models(config, cache, now=1000.0 + MODELS_KEPT_FOR - 1) == ["first"]
    assert server_models(config, cache, now=1000.0 + MODELS_KEPT_FOR + 1) == ["second"]
    server.stop()
    assert server_models(config, cache, now=1000.0 + 3 * MODELS_KEPT_FOR) == ["second"]
    assert server_models(Config(base_url=server.url), tmp_path / "none.json") == []


@pytest.mark.e2e
def test_library_ids_complete_for_cid_and_history_commands() -> None:
    assert invoke("ask", "-b", "echo", "one").returncode == 0
    [conversation] = json.loads(invoke("history", "list", "--json").stdout)
    conversation_id = str(conversation["id"])
    for words in (["--cid", ""], ["history", "show", ""], ["history", "export", ""], ["history", "rm", ""]):
        assert bash_complete(*words) == [conversation_id], words
    assert bash_complete("--cid", "zz") == []


@pytest.mark.e2e
def test_library_names_complete_before_ids_for_cid_and_history_commands() -> None:
    assert invoke("ask", "-b", "echo", "--name", "Trip-plans", "one").returncode == 0
    assert invoke("ask", "-b", "echo", "two").returncode == 0
    ids = [str(c["id"]) for c in json.loads(invoke("history", "list", "--json").stdout)]
    for words in (["--cid", ""], ["history", "rename", ""], ["history", "fork", ""]):
        assert bash_complete(*words) == ["Trip-plans", *ids], words
    assert bash_complete("--cid", "Tr") == ["Trip-plans"]


def test_slash_model_completes_names_asked_for_once() -> None:
    calls: list[int] = []

    def names() -> list[str]:
        calls.append(1)
        return ["fast", "gpt-4o", "gpt-4o-mini"]

    completer = SlashCompleter(names)

    def complete(text: str) -> list[str]:
        event = CompleteEvent(completion_requested=True)
        return [c.text for c in completer.get_completions(Document(text), event)]

    assert complete("/model gpt") == ["gpt-4o", "gpt-4o-mini"]
    assert complete("/model ") == ["fast", "gpt-4o", "gpt-4o-mini"]
    assert complete("/mo") == ["/model"]
    assert len(calls) == 1
