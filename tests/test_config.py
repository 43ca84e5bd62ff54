"""The configuration: user TOML merged over defaults.toml into typed Settings, every mistake a clear ConfigError."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest
from programs import photorank

from photorank import scoring
from photorank.config import (
    CHOICES,
    RANGES,
    ConfigError,
    default_settings,
    load_defaults,
    load_settings,
    settings_from,
    settings_with,
    validate,
)
from photorank.faces import engines
from photorank.settings import Settings, section_types, to_tables


def write(tmp_path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def rejected(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message[len(path) + 2:]


def test_defaults_pass_validation():
    defaults = load_defaults()
    validate(defaults, load_defaults(), "defaults.toml")


def test_every_choice_and_range_names_a_default_key():
    # A rule for a renamed key would silently stop checking anything.
    defaults = load_defaults()
    for path in [*CHOICES, *RANGES]:
        table = defaults
        for key in path[:-1]:
            table = table[key]
        assert path[-1] == "*" and isinstance(table, dict) or path[-1] in table, path
    for path, choices in CHOICES.items():
        assert defaults[path[0]][path[1]] in choices


def test_choices_match_the_code_that_uses_them():
    from photorank.faces.resnet_onnx import RUNTIMES
    from photorank.signals.expression import BACKENDS
    from xmp_writer.model import NAMINGS

    assert CHOICES["expression", "backend"] == BACKENDS
    assert CHOICES["xmp", "naming"] == NAMINGS
    assert CHOICES["dlib", "embedding"] == RUNTIMES


def test_no_user_file_gives_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # an empty user config dir
    assert load_settings() == default_settings()
    assert to_tables(load_settings()) == load_defaults()


def test_valid_overrides_applied_and_partial_table_merged(tmp_path):
    settings = load_settings(write(tmp_path, """
[matching]
threshold = 0.9
[xmp]
naming = "name.xmp"
unrated = [0, 1]
[scoring]
single_weights = { sharpness = 5.0 }
"""))
    defaults = default_settings()
    assert settings.matching.threshold == 0.9
    assert settings.xmp.naming == "name.xmp"
    assert settings.xmp.unrated == (0, 1)
    assert settings.xmp.embed == defaults.xmp.embed  # untouched keys of a section stay
    assert settings.scoring.single_weights == {**defaults.scoring.single_weights, "sharpness": 5.0}
    assert settings.scoring.group_weights == defaults.scoring.group_weights


def test_int_accepted_where_float_expected(tmp_path):
    settings = load_settings(write(tmp_path, "[burst]\nseconds = 3\n[scoring]\ngroup_weights = { eyes = 4 }\n"))
    assert settings.burst.seconds == 3
    assert settings.scoring.group_weights["eyes"] == 4


def test_nested_typo_rejected_with_key_path(tmp_path):
    message = rejected(tmp_path, "[scoring]\nsingle_weights = {sharpnes = 9}\n")
    assert message == "unknown key [scoring] single_weights.sharpnes"


def test_unknown_section_and_key_rejected(tmp_path):
    assert rejected(tmp_path, "[scorng]\nx = 1\n") == "unknown section [scorng]"
    assert rejected(tmp_path, "[xmp]\nnameing = 'auto'\n") == "unknown key [xmp] nameing"
    assert "outside any [section]" in rejected(tmp_path, "threshold = 0.9\n")


@pytest.mark.parametrize("text, expected", [
    ('[matching]\nthreshold = "0.9"\n', '[matching] threshold must be a number (got "0.9")'),
    ("[analysis]\nmax_side = 2048.5\n", "[analysis] max_side must be an integer (got 2048.5)"),
    ("[burst]\nseconds = true\n", "[burst] seconds must be a number (got true)"),
    ('[xmp]\nembed = "yes"\n', '[xmp] embed must be true or false (got "yes")'),
    ("[xmp]\nunrated = 1\n", "[xmp] unrated must be a list (got 1)"),
    ('[xmp]\nunrated = [0, "1"]\n', '[xmp] unrated must be a list of integers (got [0, "1"])'),
    ("[scoring]\nsingle_weights = 3.0\n", "[scoring] single_weights must be a table (got 3.0)"),
    ("[scoring]\ngroup_weights = { eyes = \"3\" }\n", '[scoring] group_weights.eyes must be a number (got "3")'),
    ("xmp = 1\n", "[xmp] must be a table (got 1)"),
])
def test_wrong_type_rejected(tmp_path, text, expected):
    assert rejected(tmp_path, text) == expected


def test_bad_choice_rejected(tmp_path):
    assert rejected(tmp_path, '[xmp]\nnaming = "Auto"\n') == \
        '[xmp] naming must be one of auto, name.ext.xmp, name.xmp (got "Auto")'
    assert rejected(tmp_path, '[expression]\nbackend = "ferr"\n') == \
        '[expression] backend must be one of fer, deepface (got "ferr")'


@pytest.mark.parametrize("text, expected", [
    ("[xmp]\nunrated = [0, 6]\n", "[xmp] unrated must be star ratings from 0 to 5 (got [0, 6])"),
    ("[xmp]\nunrated = [-1]\n", "[xmp] unrated must be star ratings from 0 to 5 (got [-1])"),
    ("[analysis]\nmax_side = 0\n", "[analysis] max_side must be greater than 0 (got 0)"),
    ("[analysis]\nmin_face_px = -5\n", "[analysis] min_face_px must be greater than 0 (got -5)"),
    ("[matching]\nthreshold = 1.5\n", "[matching] threshold must be from 0 (the engine's own) to below 1 (got 1.5)"),
    ("[matching]\nneighbours = -1\n", "[matching] neighbours must be at least 0 (got -1)"),
    ("[matching]\nmax_faces = 0\n", "[matching] max_faces must be greater than 0 (got 0)"),
    ("[stars]\nscore_thresholds = [40, 80, 65, 90]\n",
     "[stars] score_thresholds must be 4 scores in ascending order (got [40, 80, 65, 90])"),
    ("[stars]\nscore_thresholds = [40, 65, 80]\n",
     "[stars] score_thresholds must be 4 scores in ascending order (got [40, 65, 80])"),
    ("[scoring]\nsingle_weights = { eyes = -1 }\n", "[scoring] single_weights.eyes must be at least 0 (got -1)"),
    ("[scoring]\ngroup_weights = { eyes = 0, sharpness = 0, exposure = 0, facing = 0, cut = 0, compression = 0, group = 0, "
     "overall_sharpness = 0 }\n",
     "[scoring] group_weights must be weights not all 0 (got "
     '{"eyes": 0, "sharpness": 0, "exposure": 0, "facing": 0, "cut": 0, "compression": 0, "group": 0, "overall_sharpness": 0})'),
])
def test_out_of_range_rejected(tmp_path, text, expected):
    assert rejected(tmp_path, text) == expected


def test_range_bounds_accepted(tmp_path):
    settings = load_settings(write(tmp_path, """
[analysis]
max_side = 1
[xmp]
unrated = [0, 5]
[stars]
score_thresholds = [10, 20, 30, 40]
[scoring]
single_weights = { eyes = 0 }
"""))
    assert settings.xmp.unrated == (0, 5)
    assert settings.scoring.single_weights["eyes"] == 0


def test_cli_config_exits_1_with_the_message(tmp_path):
    path = write(tmp_path, '[xmp]\nnaming = "Auto"\n')
    done = photorank("config", "--config", path)
    assert done.returncode == 1
    assert done.stderr.strip() == \
        f'photorank: {path}: [xmp] naming must be one of auto, name.ext.xmp, name.xmp (got "Auto")'
    assert done.stdout == ""


def test_cli_config_prints_valid_overrides(tmp_path):
    path = write(tmp_path, "[scoring]\nsingle_weights = { sharpness = 5 }\n")
    done = photorank("config", "--config", path)
    assert done.returncode == 0, done.stderr
    assert '"sharpness": 5,' in done.stdout


def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(str(tmp_path / "typo.toml"))


# --- typed settings --------------------------------------------------------------------------


def test_every_default_key_is_a_field_and_every_field_a_default_key():
    defaults = load_defaults()
    types = section_types()
    assert [name for name in defaults if name in types] == list(types)  # every typed section, in the file's order
    for name, section in types.items():
        assert [field.name for field in dataclasses.fields(section)] == list(defaults[name]), name
    # The other sections are the engines' own, one per registered engine, read by the engine.
    assert {name for name in defaults if name not in types} == {spec.section for spec in engines().values()}
    assert default_settings().engines["dlib"] == defaults["dlib"]


def test_settings_are_frozen():
    settings = default_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.scoring.eyes_width = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.scoring.single_weights["eyes"] = 9.0  # type: ignore[index]
    with pytest.raises(TypeError):
        settings.engines["dlib"]["embedding"] = "dlib"  # type: ignore[index]
    assert isinstance(settings.xmp.unrated, tuple) and isinstance(settings.stars.score_thresholds, tuple)


def test_settings_with_overrides_one_key_and_keeps_the_rest():
    base = settings_with({"burst": {"seconds": 2.5}})
    changed = settings_with({"scoring": {"single_weights": {"eyes": 1.0}}}, base)
    assert changed.burst.seconds == 2.5 and changed.scoring.single_weights["eyes"] == 1.0
    assert changed.scoring.single_weights["sharpness"] == default_settings().scoring.single_weights["sharpness"]
    assert dataclasses.replace(changed, burst=default_settings().burst,
                               scoring=default_settings().scoring) == default_settings()
    with pytest.raises(ConfigError, match=r"^settings: unknown key \[burst\] second$"):
        settings_with({"burst": {"second": 1.0}})


def test_the_measuring_settings_keep_the_analysis_key_of_the_untyped_tables():
    """The face cache is keyed by the analysis key: typing the settings must not change it (the
    digest of the [signals] and [expression] tables as they are in defaults.toml)."""
    from photorank.faces import load_engine
    from photorank.analysis import analysis_key

    key = analysis_key(load_engine("dlib"), default_settings().measuring)
    assert key.split("|")[2] == "signals-01457ec5"
    other = analysis_key(load_engine("dlib"), settings_with({"signals": {"eye_components": False}}).measuring)
    assert other.split("|")[2] != "signals-01457ec5"


def test_scoring_weights_name_exactly_the_aspects_scoring_measures():
    weights = default_settings().scoring
    assert tuple(weights.single_weights) == scoring.ASPECTS["single"]
    assert tuple(weights.group_weights) == scoring.ASPECTS["group"]
    single = scoring.single_components({}, weights)
    group = scoring.group_components({}, [], {}, weights)
    assert tuple(single) == scoring.ASPECTS["single"] and tuple(group) == scoring.ASPECTS["group"]


@pytest.mark.parametrize("kind, weights, expected", [
    ("single", {"eyes": 1.0, "sharpness": 1.0, "blur": 1.0}, "blur"),
    ("group", {"eyes": 1.0}, "eyes"),
])
def test_weights_that_are_not_the_aspects_are_refused_at_load(kind, weights, expected):
    """A defaults file whose weights drift from scoring's aspects (a weight nothing uses, or an
    aspect without a weight) is one clear error at load, not a KeyError in the middle of a run."""
    tables = load_defaults()
    tables["scoring"][f"{kind}_weights"] = weights
    with pytest.raises(ConfigError) as caught:
        settings_from(tables, "defaults.toml")
    message = str(caught.value)
    assert message.startswith(f"defaults.toml: [scoring] {kind}_weights must weigh exactly the aspects "
                              f"{', '.join(scoring.ASPECTS[kind])}"), message
    assert message.endswith(f"(got {', '.join(weights)})") and expected in message


def test_a_weight_for_an_aspect_of_the_other_kind_is_refused_from_a_user_file(tmp_path):
    assert rejected(tmp_path, "[scoring]\nsingle_weights = { group = 1.0 }\n") == "unknown key [scoring] single_weights.group"


def test_settings_print_as_the_defaults_tables():
    tables = to_tables(default_settings())
    assert tables == load_defaults() and list(tables) == list(load_defaults())
    assert isinstance(default_settings(), Settings) and not isinstance(tables["scoring"]["single_weights"], MappingProxyType)
