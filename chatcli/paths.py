"""Where chatcli keeps its files: the user config and data directories (platformdirs)."""

from __future__ import annotations

from pathlib import Path

APP_NAME = "chatcli"


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def config_file() -> Path:
    return config_dir() / "config.toml"


def input_history_file() -> Path:
    return data_dir() / "input_history"


def library_file() -> Path:
    return data_dir() / "library.db"
