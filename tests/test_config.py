"""Config: precedence flags > environment > profile > file > defaults, sources, every config-file error, key commands."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.backends import BackendName
from chatcli.cli.key_command import resolve_api_key, run_key_command
from chatcli.cli.options import declared_parameters
from chatcli.cli.settings import Config, Price, settings
from chatcli.cli.settings_resolution import resolve_config
from chatcli.core.errors import BackendError, UsageError
from tests.conftest import TEST_KEY, write_config
from tests.inprocess import invoke

LAYERED = """
model = "file-model"
[profiles.work]
model = "profile-model"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, flags: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(UsageError) as caught:
        resolve_config(flags or {}, environ or {}, path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def python_command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


@pytest.mark.parametrize(
    ("flags", "environ", "expected", "source"),
    [
        ({"model": "flag-model", "profile": "work"}, {"CHATCLI_MODEL": "env-model"}, "flag-model", "flag"),
        ({"profile": "work"}, {"CHATCLI_MODEL": "env-model"}, "env-model", "environment CHATCLI_MODEL"),
        ({"profile": "work"}, {}, "profile-model", "profile work"),
        ({}, {}, "file-model", "file"),
    ],
)
def test_each_layer_beats_the_ones_below_it(
    tmp_path: Path, flags: dict[str, Any], environ: dict[str, str], expected: str, source: str
) -> None:
    resolved = resolve_config(flags, environ, write(tmp_path, LAYERED))
    assert resolved.config.model == expected
    assert str(resolved.sources["model"]) == source


def test_without_a_file_every_setting_is_its_default(tmp_path: Path) -> None:
    resolved = resolve_config({}, {}, tmp_path / "missing.toml")
    assert resolved.config == Config(auto_backend=BackendName.ECHO)  # auto, with nothing configured
    assert not resolved.file_found
    assert {str(source) for source in resolved.sources.values()} == {"default"}


def test_profile_comes_from_the_environment_and_the_flag_beats_it(tmp_path: Path) -> None:
    path = write(tmp_path, LAYERED + '[profiles.home]\nmodel = "home-model"\n')
    assert resolve_config({}, {"CHATCLI_PROFILE": "home"}, path).config.model == "home-model"
    resolved = resolve_config({"profile": "work"}, {"CHATCLI_PROFILE": "home"}, path)
    assert (resolved.config.model, resolved.profile, str(resolved.profile_source)) == (
        "profile-model",
        "work",
        "flag",
    )


def test_unknown_profile_names_the_file_and_the_defined_profiles(tmp_path: Path) -> None:
    path = write(tmp_path, LAYERED)
    message = error_of(path, {"profile": "wrok"})
    assert message == f"unknown profile 'wrok' (from flag); profiles defined in {path}: work"


def test_alias_is_resolved_after_precedence_and_remembered(tmp_path: Path) -> None:
    path = write(tmp_path, '[aliases]\nfast = "gpt-4o-mini"\n')
    resolved = resolve_config({"model": "fast"}, {}, path)
    assert (resolved.config.model, resolved.alias) == ("gpt-4o-mini", "fast")
    assert resolve_config({"model": "slow"}, {}, path).config.model == "slow"


def test_every_plain_config_field_is_a_setting_checked_by_its_type(tmp_path: Path) -> None:
    """Fields added to Config become settings without touching the file layer."""
    samples = {str: '"text"', float: "1.5", int: "3", bool: "true"}
    lines = []
    for name, declared in settings().items():
        if declared.choices or declared.excludes or name in ("base_url", "proxy", "code_theme", "compact_at"):
            continue  # checked for meaning, not only type: covered by other tests
        lines.append(f"{name} = {samples[declared.kind]}")
    config = resolve_config({}, {}, write(tmp_path, "\n".join(lines) + "\n")).config
    assert config.system == "text"
    assert config.timeout == 1.5


def test_integer_is_accepted_where_a_number_is_expected(tmp_path: Path) -> None:
    config = resolve_config({}, {}, write(tmp_path, "temperature = 1\ntimeout = 30\n")).config
    assert (config.temperature, config.timeout) == (1.0, 30.0)
    assert isinstance(config.timeout, float)


def test_prices_are_read_per_million_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, '[prices]\n"gpt-4o-mini" = { input = 0.15, output = 0.6 }\n')
    assert resolve_config({}, {}, path).config.price("gpt-4o-mini") == Price(0.15, 0.6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("modle = 'x'\n", "unknown key 'modle' (did you mean 'model'?); known keys: model, backend"),
        ("[profiles.p]\nxyz = true\n", "[profiles.p] unknown key 'xyz'; known keys: model"),
        ("temperature = 'hot'\n", "temperature must be a number, not a string"),
        ("max_tokens = 1.5\n", "max_tokens must be an integer, not a float"),
        ("max_tokens = true\n", "max_tokens must be an integer, not a boolean"),
        ("markdown = 'yes'\n", "markdown must be true or false, not a string"),
        ("model = ['a']\n", "model must be a string, not an array"),
        ("[profiles.p]\ntimeout = 'long'\n", "[profiles.p] timeout must be a number, not a string"),
        ("profiles = 3\n", "profiles must be a table of [profiles.NAME] tables, not an integer"),
        ("[profiles]\np = 1\n", "profiles.p must be a table of settings, not an integer"),
        ("[aliases]\nfast = 1\n", "[aliases] fast must be a non-empty model name string"),
        ("[prices]\nm = 1\n", "[prices] 'm' must be a table like { input = 0.15, output = 0.60 }"),
        ("[prices]\nm = { input = -1, output = 1 }\n", "[prices] 'm' input must be a number ≥ 0"),
    ],
)
def test_config_file_errors_name_the_file_the_key_and_what_was_expected(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"config file {path}: ")
    assert expected in message


def test_invalid_toml_names_the_file_and_the_position(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "a"\ntemperature = \n')
    message = error_of(path)
    assert message.startswith(f"config file {path} is not valid TOML: ")
    assert "line 2" in message and message.endswith("; fix the syntax")


def test_config_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'system = "caf\xe9"\n')
    assert error_of(path) == f"config file {path} is not valid UTF-8 (byte offset 13); save it as UTF-8"


def test_config_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path).startswith(f"cannot read config file {tmp_path} (Is a directory)")


def test_out_of_range_value_names_where_it_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.hot]\ntemperature = 5\n")
    message = error_of(path, {"profile": "hot"})
    assert message == f"temperature 5.0 is out of range; use 0 to 2 (from [profiles.hot] in {path})"
    assert error_of(path, {"max_tokens": 0}) == "max_tokens must be at least 1 (from the command line)"
    assert "(from OPENAI_BASE_URL)" in error_of(path, environ={"OPENAI_BASE_URL": "localhost:8080"})


def test_environment_key_beats_a_key_command_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, f"api_key_cmd = {json.dumps(python_command('raise SystemExit(3)'))}\n")
    config = resolve_config({}, {"OPENAI_API_KEY": TEST_KEY}, path).config
    assert (config.api_key, config.api_key_cmd) == (TEST_KEY, None)
    assert resolve_api_key(config) == TEST_KEY


def test_profile_key_command_beats_a_key_in_the_file(tmp_path: Path) -> None:
    command = python_command(f"print('{TEST_KEY}'); print('second line: metadata')")
    path = write(tmp_path, f"api_key = 'file-key'\n[profiles.p]\napi_key_cmd = {json.dumps(command)}\n")
    config = resolve_config({"profile": "p"}, {}, path).config
    assert config.api_key is None
    assert config.resolved_backend() == "openai"
    assert resolve_api_key(config) == TEST_KEY


def test_key_and_key_command_in_the_same_place_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "api_key = 'k'\napi_key_cmd = 'pass show openai'\n")
    assert error_of(path) == f"{path} sets both api_key and api_key_cmd; keep one of them"


def test_failing_key_command_is_one_line_without_its_output() -> None:
    command = python_command(
        f"import sys; print('{TEST_KEY}'); sys.stderr.write('{TEST_KEY} oops'); sys.exit(4)"
    )
    with pytest.raises(BackendError) as caught:
        run_key_command(command)
    assert str(caught.value) == "api_key_cmd failed (exit status 4); run it yourself to see why"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("'unclosed", "api_key_cmd cannot be split into words (No closing quotation); check its quotes"),
        ("   ", "api_key_cmd is empty; set it to a command that prints the key"),
        (
            "/nonexistent/pass show",
            "api_key_cmd could not start '/nonexistent/pass' (No such file or directory)",
        ),
        (python_command("pass"), "api_key_cmd printed no key; it must print the key on its first line"),
    ],
)
def test_key_command_problems_are_explained(command: str, expected: str) -> None:
    with pytest.raises((UsageError, BackendError)) as caught:
        run_key_command(command)
    assert str(caught.value).startswith(expected)


@pytest.mark.e2e  # waits out a real timeout
def test_key_command_that_hangs_is_stopped_by_its_timeout() -> None:
    with pytest.raises(BackendError) as caught:
        run_key_command(python_command("import time; time.sleep(60)"), timeout=0.5)
    assert str(caught.value) == "api_key_cmd did not finish within 0.5 s; run it yourself to check it"


def test_key_command_does_not_read_our_stdin() -> None:
    assert run_key_command(python_command("import sys; print(sys.stdin.read() or 'empty')")) == "empty"


# -- the commands -----------------------------------------------------------------------------------------


def test_config_path_prints_the_user_config_file(isolated_home: Path) -> None:
    result = invoke("config", "path")
    assert result.returncode == 0
    assert result.stdout.decode() == f"{isolated_home}/.config/chatcli/config.toml\n"


def test_config_show_gives_values_and_sources_and_never_a_key(isolated_home: Path) -> None:
    write_config(
        isolated_home,
        f'api_key = "{TEST_KEY[:-1]}x"\nsystem = "be \\u001b[31m brief"\n'
        '[aliases]\nfast = "gpt-4o-mini"\n[profiles.local]\nbase_url = "http://127.0.0.1:1/v1"\n',
    )
    result = invoke(
        "config", "show", "-m", "fast", env={"OPENAI_API_KEY": TEST_KEY, "CHATCLI_PROFILE": "local"}
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    rows = {
        line.split()[0]: line.split(None, 1)[1]
        for line in out.splitlines()[2:]
        if not line.startswith(("alias", "price"))
    }
    assert rows["model"].split() == ['"gpt-4o-mini"', "flag,", "alias", '"fast"']
    assert rows["base_url"].split() == ['"http://127.0.0.1:1/v1"', "profile", "local"]
    assert rows["api_key"].split() == ["set", "environment", "OPENAI_API_KEY"]
    assert rows["system"].split() == ['"be', "\\u001b[31m", 'brief"', "file"]
    assert rows["timeout"].split() == ["60.0", "default"]
    assert out.splitlines()[1] == 'profile: "local" (from environment CHATCLI_PROFILE)'
    assert TEST_KEY[:12] not in out and "\x1b" not in out


def test_bad_config_file_stops_ask_with_exit_2_and_sends_nothing(isolated_home: Path) -> None:
    path = write_config(isolated_home, "temperature = [\n")
    result = invoke("ask", "-b", "echo", "hi")
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"chatcli: error: config file {path} is not valid TOML: ")


def test_readme_settings_table_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name in settings() if f"| `{name}` |" not in readme]
    assert missing == []


def test_config_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbfmodel = "bom-model"\n')
    assert resolve_config({}, {}, path).config.model == "bom-model"


def test_init_writes_every_setting_and_table_and_uncommented_it_loads(isolated_home: Path) -> None:
    assert invoke("config", "init").returncode == 0
    path = isolated_home / ".config" / "chatcli" / "config.toml"
    text = path.read_text()
    assert [name for name in settings() if f"# {name} = " not in text] == []
    for table in (
        "[aliases]",
        "[prices]",
        "[options]",
        "[templates.review]",
        "[mcp.notes]",
        "[profiles.ollama]",
    ):
        assert f"# {table}" in text
    commented_toml = re.compile(r'^# (?=\[|"?[\w-]+"? = )')
    path.write_text("\n".join(commented_toml.sub("", line) for line in text.splitlines()) + "\n")
    resolved = resolve_config({"profile": "ollama"}, {}, path)
    config = resolved.config
    defaults = {name for name, source in resolved.sources.items() if str(source) == "default"}
    assert defaults == {"api_key_cmd"}  # the profile's api_key wins over the file's key command
    assert resolve_config({}, {}, path).config.api_key_cmd == "pass show openai"
    assert (config.api_key, config.base_url, config.model) == ("", "http://localhost:11434/v1", "llama3.2")
    assert config.price("gpt-4o-mini") == Price(0.15, 0.6)
    assert (config.options, config.aliases["fast"]) == ({"top_p": 0.9}, "gpt-4o-mini")
    assert config.mcp["notes"].command == "notes-server" and "review" in config.templates
    shown = invoke("config", "show", "-p", "ollama")
    assert shown.returncode == 0, shown.stderr


def test_config_show_gives_the_defaults_readme_gives_for_unset_settings(isolated_home: Path) -> None:
    rows = invoke("config", "show").stdout.decode().splitlines()
    assert any(row.split() == ["base_url", "https://api.openai.com/v1", "default"] for row in rows)
    assert any(row.split()[:3] == ["temperature", "the", "server's"] for row in rows)


def test_every_settings_flag_is_a_shared_option() -> None:
    flags = {
        flag for param in declared_parameters().values() for flag in (*param.opts, *param.secondary_opts)
    }
    for name, declared in settings().items():
        if declared.flag is not None:
            assert set(declared.flag.split("/")) <= flags, name


@pytest.mark.parametrize(
    ("flags", "environ", "backend", "key", "model"),
    [
        (
            {"base_url": "https://api.anthropic.com"},
            {"ANTHROPIC_API_KEY": "sk-ant"},
            "anthropic",
            "sk-ant",
            None,
        ),
        ({}, {"ANTHROPIC_API_KEY": "sk-ant"}, "anthropic", "sk-ant", "claude-sonnet-4-5"),
        ({}, {"ANTHROPIC_API_KEY": "sk-ant", "OPENAI_API_KEY": "sk-oa"}, "openai", "sk-oa", "gpt-4o-mini"),
        ({"backend": "anthropic"}, {"OPENAI_API_KEY": "sk-oa"}, "anthropic", None, "claude-sonnet-4-5"),
        ({"backend": "ollama"}, {"OPENAI_API_KEY": "sk-oa"}, "ollama", None, "llama3.2"),
        ({"backend": "responses"}, {"OPENAI_API_KEY": "sk-oa"}, "responses", "sk-oa", "gpt-4o-mini"),
        (
            {"backend": "anthropic", "api_key": "sk-flag"},
            {"ANTHROPIC_API_KEY": "sk-ant"},
            "anthropic",
            "sk-flag",
            None,
        ),
    ],
)
def test_each_backend_takes_its_own_key_variable_and_default_model(
    tmp_path: Path,
    flags: dict[str, Any],
    environ: dict[str, str],
    backend: str,
    key: str | None,
    model: str | None,
) -> None:
    config = resolve_config(flags, environ, tmp_path / "missing.toml").config
    assert config.resolved_backend() == backend
    assert config.api_key == key  # never another provider's key
    if model is not None:
        assert config.model == model


def test_a_profiles_key_command_is_kept_when_another_providers_key_is_in_the_environment(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '[profiles.claude]\nbackend = "anthropic"\napi_key_cmd = "pass show anthropic"\n')
    resolved = resolve_config({"profile": "claude"}, {"OPENAI_API_KEY": "sk-oa"}, path)
    assert resolved.config.api_key is None
    assert resolved.config.api_key_cmd == "pass show anthropic"
