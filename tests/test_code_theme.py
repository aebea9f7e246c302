"""An unknown `code_theme` is a config error naming the setting, with a "did you mean" among Pygments' styles."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcli.cli.settings_resolution import resolve_config
from chatcli.core.errors import UsageError


def config_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_an_unknown_code_theme_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = config_with(tmp_path, 'code_theme = "draculla"\n')
    with pytest.raises(UsageError) as raised:
        resolve_config({}, {}, path)
    assert str(raised.value) == (
        f"unknown code_theme 'draculla' (did you mean 'dracula'?); "
        f"`pygmentize -L styles` lists them (from {path})"
    )


def test_a_theme_like_nothing_known_gets_no_suggestion(tmp_path: Path) -> None:
    path = config_with(tmp_path, '[profiles.x]\ncode_theme = "nosuchtheme"\n')
    with pytest.raises(UsageError, match=r"^unknown code_theme 'nosuchtheme'; `pygmentize"):
        resolve_config({"profile": "x"}, {}, path)


def test_a_known_theme_is_accepted(tmp_path: Path) -> None:
    path = config_with(tmp_path, 'code_theme = "github-dark"\n')
    assert resolve_config({}, {}, path).config.code_theme == "github-dark"
