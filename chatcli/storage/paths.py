"""The user directories chatcli uses on this platform (platformdirs): config, data, state and cache."""

from __future__ import annotations

from chatcli.core.environment import UserDirs

APP_NAME = "chatcli"


def platform_dirs() -> UserDirs:
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return UserDirs(dirs.user_config_path, dirs.user_data_path, dirs.user_state_path, dirs.user_cache_path)
