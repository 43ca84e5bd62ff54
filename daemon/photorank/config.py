"""All tunable settings in one place: `defaults.toml` beside this file, overridden by a user TOML.

The defaults file is the documentation: every key is there, with a comment saying what it does.
A user file may set any subset; a table in it (a section, or a table value such as
`single_weights`) is merged key by key over the default table. The merged settings are checked
in one pass (`validate`) against the defaults, which act as the schema: an unknown key at any
depth, a value of the wrong type, a choice that is not offered or a value out of its range is a
`ConfigError` naming the file, the key and what is expected (a typo must not be ignored, and a bad
value must not fail later, in the middle of a run). The result is a typed `Settings` (settings.py).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import tomllib
from importlib import resources
from typing import Any, Callable

import platformdirs

from . import APP_NAME
from .errors import PhotorankError
from .scoring import ASPECTS
from .settings import Settings, from_tables, to_tables

DEFAULTS_FILE = "defaults.toml"


def _engine_names() -> tuple[str, ...]:
    from .faces import engine_names

    return tuple(engine_names())


def _onnx_providers_known(names: list[str]) -> bool:
    from .faces.onnx_providers import known

    return known(names)


# Settings that take one of a few strings, by key path.
CHOICES: dict[tuple[str, ...], tuple[str, ...]] = {
    # The smile models signals/expression.py can run (its BACKENDS).
    ("expression", "backend"): ("fer", "deepface"),
    # Where signals/ reads eyes and head pose from.
    ("signals", "eyes_and_pose"): ("mesh", "landmarks68"),
    # The sidecar namings xmp_writer understands (its model.NAMINGS; also `--xmp-naming`).
    ("xmp", "naming"): ("auto", "name.ext.xmp", "name.xmp"),
    # What runs dlib's identity network (faces/resnet_onnx.py: RUNTIMES).
    ("dlib", "embedding"): ("onnxruntime", "dlib"),
}

# Ranges the type check cannot see, by key path ("*": every key of that table):
# (test on a value of the right type, what is expected).
RANGES: dict[tuple[str, ...], tuple[Callable[[Any], bool], str]] = {
    # The registered face engines (faces/*_engine.py, found at run time; also `--engine`).
    ("analysis", "engine"): (lambda v: v in _engine_names(), "auto or a face engine listed by `photorank rank --help`"),
    ("blazeface", "min_score"): (lambda v: 0 < v < 1, "between 0 and 1"),
    ("blazeface", "min_score_without_hog"): (lambda v: 0 <= v < 1, "from 0 to below 1"),
    ("blazeface", "merge_iou"): (lambda v: 0 < v < 1, "between 0 and 1"),
    ("blazeface", "threads"): (lambda v: v > 0, "greater than 0"),
    ("analysis", "max_side"): (lambda v: v > 0, "greater than 0"),
    ("analysis", "min_face_px"): (lambda v: v > 0, "greater than 0"),
    ("analysis", "onnx_providers"): (
        lambda v: bool(v) and _onnx_providers_known(v),
        "onnxruntime execution providers, e.g. [\"CUDAExecutionProvider\", \"CPUExecutionProvider\"] "
        "(onnxruntime.get_all_providers() lists every name)",
    ),
    ("matching", "threshold"): (lambda v: 0 <= v < 1, "from 0 (the engine's own) to below 1"),
    ("matching", "candidate_margin"): (lambda v: 0 <= v < 1, "from 0 to below 1"),
    ("matching", "cluster_margin"): (lambda v: -1 < v < 1, "between -1 and 1"),
    ("matching", "neighbours"): (lambda v: v >= 0, "at least 0"),
    ("matching", "sure_margin"): (lambda v: -1 < v < 1, "between -1 and 1"),
    ("matching", "copy_similarity"): (lambda v: 0 < v <= 1, "above 0 and at most 1"),
    ("matching", "rival_evidence"): (lambda v: v >= 1, "at least 1"),
    ("matching", "max_candidates"): (lambda v: v > 0, "greater than 0"),
    ("matching", "max_faces"): (lambda v: v > 0, "greater than 0"),
    ("matching", "max_tagged_references"): (lambda v: v > 0, "greater than 0"),
    ("xmp", "unrated"): (lambda v: all(0 <= r <= 5 for r in v), "star ratings from 0 to 5"),
    ("stars", "score_thresholds"): (lambda v: len(v) == 4 and v == sorted(v), "4 scores in ascending order"),
    ("scoring", "reason_cost_points"): (lambda v: v >= 0, "at least 0"),
    ("scoring", "brightening_allowance_ev"): (lambda v: v >= 0, "at least 0"),
    ("scoring", "brightening_tolerance_ev"): (lambda v: v > 0, "greater than 0"),
    ("scoring", "single_weights", "*"): (lambda v: v >= 0, "at least 0"),
    ("scoring", "group_weights", "*"): (lambda v: v >= 0, "at least 0"),
    # All zero would divide by zero in the weighted mean.
    ("scoring", "single_weights"): (lambda v: sum(v.values()) > 0, "weights not all 0"),
    ("scoring", "group_weights"): (lambda v: sum(v.values()) > 0, "weights not all 0"),
    ("together", "hidden_fraction"): (lambda v: 0 < v < 1, "between 0 and 1"),
    ("together", "small_ratio"): (lambda v: 0 < v < 1, "between 0 and 1"),
    ("together", "hidden_width"): (lambda v: v > 0, "greater than 0"),
    ("together", "small_width"): (lambda v: v > 0, "greater than 0"),
    ("together", "weight"): (lambda v: v >= 0, "at least 0"),
}

# What a value of each default's type is called in messages: (one, several).
TYPE_NAMES = {
    bool: ("true or false", "true/false values"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    list: ("a list", "lists"),
    dict: ("a table", "tables"),
}


class ConfigError(PhotorankError):
    pass


def default_config_path() -> str:
    return os.path.join(platformdirs.user_config_dir(APP_NAME), "config.toml")


def load_defaults() -> dict[str, dict]:
    return tomllib.loads(resources.files(__package__).joinpath(DEFAULTS_FILE).read_text("utf-8"))


def load_settings(path: str | None = None) -> Settings:
    """Defaults merged with the user's file: `path`, else the user config dir's config.toml if present."""
    if path and not os.path.exists(path):
        raise ConfigError(f"{path}: no such configuration file")  # named on purpose: a typo must not pass
    path = path or default_config_path()
    if not os.path.exists(path):
        return default_settings()
    try:
        with open(path, "rb") as handle:
            overrides = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    return settings_with(overrides, source=path)


@functools.cache
def default_settings() -> Settings:
    return settings_from(load_defaults(), DEFAULTS_FILE)


def settings_with(overrides: dict, base: Settings | None = None, source: str = "settings") -> Settings:
    """`base` (the defaults) with `overrides` (TOML tables, any subset) on top, validated as a file is."""
    base_tables = to_tables(base or default_settings())
    return settings_from(merge(base_tables, overrides, source), source)


def settings_from(tables: dict[str, dict], source: str) -> Settings:
    """Validated tables as Settings, once their scoring weights are checked against scoring's aspects."""
    for kind, aspects in ASPECTS.items():
        weights = tables["scoring"][f"{kind}_weights"]
        if set(weights) != set(aspects):
            raise ConfigError(f"{source}: [scoring] {kind}_weights must weigh exactly the aspects {', '.join(aspects)}"
                              f" (got {', '.join(weights)})")
    return from_tables(tables)


def merge(config: dict[str, dict], overrides: dict, source: str = "config") -> dict[str, dict]:
    """`overrides` merged over `config` (tables key by key, at any depth), validated against the defaults."""
    merged = copy.deepcopy(config)
    _merge_into(merged, overrides)
    validate(merged, load_defaults(), source)
    return merged


def _merge_into(target: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            _merge_into(target[key], value)
        else:
            target[key] = value


def validate(config: dict, schema: dict, source: str, path: tuple[str, ...] = ()) -> None:
    """Raise ConfigError for the first key of `config` that is unknown to `schema` (the defaults),
    of another type than the default's, or outside CHOICES / RANGES."""
    for key, value in config.items():
        here = (*path, key)
        if key not in schema:
            if not path and not isinstance(value, dict):
                raise ConfigError(f"{source}: key {key!r} is outside any [section]")
            raise ConfigError(f"{source}: unknown {'key' if path else 'section'} {_name(here)}")
        expected = _type_expected(value, schema[key])
        if expected:
            raise ConfigError(f"{source}: {_name(here)} must be {expected} (got {_show(value)})")
        if isinstance(value, dict):
            validate(value, schema[key], source, here)
        choices = CHOICES.get(here)
        if choices and value not in choices:
            raise ConfigError(f"{source}: {_name(here)} must be one of {', '.join(choices)} (got {_show(value)})")
        test, expected = RANGES.get(here) or RANGES.get((*path, "*")) or (None, "")
        if test and not test(value):
            raise ConfigError(f"{source}: {_name(here)} must be {expected} (got {_show(value)})")


def _fits(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))  # 1 for 1.0 is fine
    return isinstance(value, type(default))


def _type_expected(value: Any, default: Any) -> str | None:
    """What is expected instead of `value`, or None when it has the default's type."""
    if not _fits(value, default):
        return _type_name(default, 0)
    if isinstance(default, list) and default and not all(_fits(item, default[0]) for item in value):
        return f"a list of {_type_name(default[0], 1)}"
    return None


def _type_name(default: Any, plural: int) -> str:
    return TYPE_NAMES.get(type(default), (type(default).__name__,) * 2)[plural]


def _name(path: tuple[str, ...]) -> str:
    """("scoring", "single_weights", "eyes") -> "[scoring] single_weights.eyes"."""
    return f"[{path[0]}] {'.'.join(path[1:])}".rstrip()


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
