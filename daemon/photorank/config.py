"""All tunable settings in one place: `defaults.toml` beside this file, overridden by a user TOML.

The defaults file is the documentation: every key is there, with a comment saying what it does.
A user file may set any subset; an unknown section or key is an error (a typo must not be ignored).
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources

import platformdirs

DEFAULTS_FILE = "defaults.toml"
APP_NAME = "photorank"


class ConfigError(Exception):
    pass


def default_config_path() -> str:
    return os.path.join(platformdirs.user_config_dir(APP_NAME), "config.toml")


def load_defaults() -> dict[str, dict]:
    return tomllib.loads(resources.files(__package__).joinpath(DEFAULTS_FILE).read_text("utf-8"))


def load_config(path: str | None = None) -> dict[str, dict]:
    """Defaults merged with the user's file: `path`, else the user config dir's config.toml if present."""
    config = load_defaults()
    path = path or default_config_path()
    if not os.path.exists(path):
        return config
    try:
        with open(path, "rb") as handle:
            overrides = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    return merge(config, overrides, path)


def merge(config: dict[str, dict], overrides: dict, source: str = "config") -> dict[str, dict]:
    merged = {section: dict(values) for section, values in config.items()}
    for section, values in overrides.items():
        if section not in merged or not isinstance(values, dict):
            raise ConfigError(f"{source}: unknown section [{section}]")
        for key, value in values.items():
            if key not in merged[section]:
                raise ConfigError(f"{source}: unknown key {key!r} in [{section}]")
            if isinstance(merged[section][key], dict) and isinstance(value, dict):
                merged[section][key] = {**merged[section][key], **value}
            else:
                merged[section][key] = value
    return merged
