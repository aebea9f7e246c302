"""Templates: parsing and the single-pass substitution, `ask -T`, `chatcli -T`, `templates …`, and a template
as a chat command on a real pty."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcli.cli.options import template_names
from chatcli.core.errors import UsageError
from chatcli.storage.templates import Template, TemplateStore, parse_template, substitute
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, sse_reply
from tests.terminal import TOOLBAR, exit_code, expect, say, spawn_chatcli

REVIEW = """\
description = "review code"
system = "You review {language} code."
prompt = \"\"\"Review this {language} code ({{strictly}}):

{input}\"\"\"
defaults = { language = "Python" }
model = "review-model"
[options]
temperature = 0.1
seed = 3
"""


def write_template(home: Path, name: str, text: str) -> Path:
    path = home / ".config" / "chatcli" / "templates" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def template(**fields: object) -> Template:
    return parse_template("t", fields, "t.toml")


def test_substitution_is_one_pass_so_input_cannot_inject_placeholders() -> None:
    review = template(prompt="{lang}: {input}", params=["lang"])
    assert review.fill("use {lang} and {{x}} and {input}", {"lang": "Go"}) == (
        "Go: use {lang} and {{x}} and {input}"
    )


def test_braces_that_are_no_placeholder_are_left_alone_and_doubled_ones_are_literal() -> None:
    assert substitute('JSON {"a": 1} {{name}} {x}', {"x": "X"}) == 'JSON {"a": 1} {name} X'


def test_parameters_defaults_given_missing_and_unknown() -> None:
    t = template(prompt="{a} {b} {input}", params=["a"], defaults={"b": "bee"})
    assert t.fill("in", {"a": "A"}) == "A bee in"
    assert t.fill("in", {"a": "A", "b": "B"}) == "A B in"
    with pytest.raises(UsageError, match="template t needs parameter 'a': -P a VALUE"):
        t.fill("in", {})
    with pytest.raises(UsageError, match="template t has no parameter 'c'; its parameters: a, b"):
        t.fill("in", {"a": "A", "c": "C"})
    with pytest.raises(UsageError, match="template t needs input"):
        t.fill("  ", {"a": "A"})


def test_input_follows_a_prompt_without_input_and_is_the_prompt_without_one() -> None:
    assert template(prompt="Be brief.").fill("why?", {}) == "Be brief.\n\nwhy?"
    assert template(prompt="Tell a joke.").fill("", {}) == "Tell a joke."
    assert template(system="Pirate.").fill("hello", {}) == "hello"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"prompt": "{nope}"}, "unknown placeholder {nope}"),
        ({"system": "{input}"}, "unknown placeholder {input}"),
        ({"promt": "x"}, "unknown key 'promt'"),
        ({"prompt": 3}, "prompt must be a string"),
        ({"params": "a"}, "params must be a list"),
        ({"options": {"model": "x"}}, "option 'model' is set by chatcli itself"),
    ],
)
def test_a_broken_template_is_one_line_naming_its_source(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(UsageError, match=r"^t\.toml: ") as raised:
        template(**fields)
    assert problem in str(raised.value)


def test_files_and_config_tables_are_both_templates(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.toml").write_text('prompt = "from file"\n')
    store = TemplateStore(
        tmp_path / "templates", {"a": {"prompt": "table"}, "b": {"prompt": "b"}}, tmp_path / "c"
    )
    assert store.names() == ["a", "b"]
    assert store.load("a").prompt == "from file"
    assert store.load("b").source == f"[templates.b] in {tmp_path / 'c'}"
    with pytest.raises(UsageError, match="no template 'c'; templates: a, b"):
        store.load("c")


@pytest.mark.e2e
def test_ask_with_a_template_sends_its_system_prompt_model_options_and_filled_prompt(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_template(isolated_home, "review", REVIEW)
    result = invoke(
        "ask", "--base-url", server.url, "-T", "review", "-P", "language", "Rust", "-O", "seed", "9",
        input=b"fn main() {input}\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = server.bodies[0]
    assert body["model"] == "review-model"
    assert (body["temperature"], body["seed"]) == (0.1, 9)  # the command line wins over the template
    assert body["messages"] == [
        {"role": "system", "content": "You review Rust code."},
        {"role": "user", "content": "Review this Rust code ({strictly}):\n\nfn main() {input}"},
    ]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-T", "review", "-P", "lang", "Go", "x"), "template review has no parameter 'lang'"),
        (("-T", "nope", "x"), "no template 'nope'; templates: review"),
        (("-T", "review"), "template review needs input"),
        (("-P", "language", "Go", "x"), "-P gives a template's parameters; use it with -T NAME"),
    ],
)
def test_template_mistakes_are_one_line_before_any_request(
    server: OpenAIServer, isolated_home: Path, args: tuple[str, ...], message: str
) -> None:
    write_template(isolated_home, "review", REVIEW)
    result = invoke("ask", "--base-url", server.url, *args)
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"chatcli: error: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert server.requests == []


@pytest.mark.e2e
def test_templates_list_show_and_path(isolated_home: Path) -> None:
    path = write_template(isolated_home, "review", REVIEW)
    write_template(isolated_home, "broken", "prompt = [\n")
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.write_text('[templates.pirate]\nsystem = "Talk like a pirate."\n')
    listed = invoke("templates", "list").stdout.decode().splitlines()
    assert listed[0].startswith("broken            (broken: template ")
    assert listed[1:] == ["pirate            Talk like a pirate.", "review            review code"]
    assert invoke("templates", "show", "review").stdout.decode() == REVIEW
    assert invoke("templates", "show", "pirate").stdout.decode() == (
        f'# [templates.pirate] in {config}\nsystem = "Talk like a pirate."\n'
    )
    assert invoke("templates", "path").stdout.decode() == f"{path.parent}\n"


@pytest.mark.e2e
def test_templates_edit_creates_a_private_file_from_the_example(isolated_home: Path) -> None:
    result = invoke("templates", "edit", "fresh", env={"EDITOR": "true"})
    assert result.returncode == 0, result.stderr
    path = isolated_home / ".config" / "chatcli" / "templates" / "fresh.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert "{input}" in path.read_text()
    assert invoke("templates", "show", "fresh").returncode == 0


@pytest.mark.e2e
def test_a_template_is_a_chat_command_listed_completed_and_sent_with_its_options(
    server: OpenAIServer, isolated_home: Path
) -> None:
    write_template(isolated_home, "review", REVIEW)
    server.default = sse_reply("looks fine")
    child = spawn_chatcli(
        "--base-url", server.url, "-T", "review", "-P", "language", "Go", dimensions=(24, 100), timeout=20
    )

    expect(child, "Ctrl-D exits")
    expect(child, TOOLBAR)
    say(child, "/help", "/review [TEXT]", "template: review code")
    child.send("/rev")
    expect(child, "template: review code")  # the completion menu
    child.send("\t")
    say(child, " x = {input}", "looks fine")
    say(child, "plain follow-up", "looks fine")
    child.sendcontrol("d")
    assert exit_code(child) == 0
    review, follow_up = server.bodies
    assert review["messages"] == [
        {"role": "system", "content": "You review Go code."},  # from -T, with -P
        {"role": "user", "content": "Review this Go code ({strictly}):\n\nx = {input}"},  # -P of -T too
    ]
    assert (review["model"], review["seed"]) == ("review-model", 3)
    assert follow_up["model"] == "review-model"  # -T chose the chat's model
    assert follow_up["messages"][-1] == {"role": "user", "content": "plain follow-up"}


def test_template_names_complete_after_t(isolated_home: Path) -> None:
    write_template(isolated_home, "review", REVIEW)
    write_template(isolated_home, "rewrite", 'prompt = "{input}"\n')
    (isolated_home / ".config" / "chatcli" / "config.toml").write_text(
        '[templates.pirate]\nsystem = "Arr."\n'
    )
    assert template_names("re") == ["review", "rewrite"]
    assert template_names() == ["pirate", "review", "rewrite"]
