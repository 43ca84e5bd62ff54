"""The settings as typed records: one frozen dataclass per section of `defaults.toml`.

`config.py` loads and validates the TOML (the defaults are the schema and the documentation) and
hands out a `Settings`; every stage reads the section it needs as typed fields, so a misspelt
setting is an AttributeError at the first test, not a KeyError in the middle of a run. The fields
are in the TOML's order, and a test checks that the two name the same keys. The face engines'
sections ([dlib], [blazeface], ...) stay read-only tables by section name: each engine reads its
own (faces/*_engine.py), so adding an engine needs no change here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, get_type_hints


@dataclass(frozen=True)
class AnalysisSettings:
    engine: str
    max_side: int
    min_face_px: int
    onnx_providers: tuple[str, ...]


@dataclass(frozen=True)
class MatchingSettings:
    threshold: float
    cluster_margin: float
    candidate_margin: float
    neighbours: int
    sure_margin: float
    copy_similarity: float
    rival_evidence: int
    max_candidates: int
    max_faces: int
    max_tagged_references: int


@dataclass(frozen=True)
class XmpSettings:
    naming: str
    overwrite_ratings: bool
    unrated: tuple[int, ...]
    embed: bool


@dataclass(frozen=True)
class GroupSettings:
    prominent_ratio: float


@dataclass(frozen=True)
class BurstSettings:
    seconds: float
    similarity: float
    duplicate_similarity: float


@dataclass(frozen=True)
class ScoringSettings:
    single_weights: Mapping[str, float]  # aspect -> weight; config.py checks they are scoring's aspects
    group_weights: Mapping[str, float]
    eyes_open_threshold: float
    eyes_width: float
    eyes_unknown_quality: float
    sharpness_center: float
    sharpness_width: float
    soft_face_below: float
    soft_face_width: float
    sharp_reason_above: float
    image_sharpness_center: float
    image_sharpness_width: float
    smile_weight: float
    smiling_threshold: float
    pitch_bias_deg: float
    yaw_tolerance_deg: float
    pitch_tolerance_deg: float
    facing_floor: float
    looking_away_deg: float
    looking_away_width_deg: float
    exposure_low_ev: float
    exposure_high_ev: float
    underexposure_tolerance_ev: float
    overexposure_tolerance_ev: float
    brightening_allowance_ev: float
    brightening_tolerance_ev: float
    clipped_allowance: float
    clipped_scale: float
    exposure_reason_margin_ev: float
    clipped_reason_fraction: float
    face_cut_fraction: float
    face_cut_width: float
    small_face_center: float
    small_face_width: float
    low_resolution_face_px: float
    low_resolution_width_px: float
    blocky_face_above: float
    blocky_face_width: float
    full_confidence: float
    group_strictness: float
    reason_cost_points: float


@dataclass(frozen=True)
class StarsSettings:
    score_thresholds: tuple[float, ...]


@dataclass(frozen=True)
class SignalsSettings:
    eye_components: bool
    eyes_and_pose: str
    refine_landmarks_below_px: int


@dataclass(frozen=True)
class ExpressionSettings:
    backend: str
    model_path: str  # "" = the backend's standard location


@dataclass(frozen=True)
class TogetherSettings:
    hidden_fraction: float
    hidden_width: float
    small_ratio: float
    small_width: float
    weight: float


@dataclass(frozen=True)
class DaemonSettings:
    reindex_in_background: bool
    warm_workers: bool


@dataclass(frozen=True)
class MeasuringSettings:
    """What the per-face measurements depend on (signals/): part of every analysis key."""

    signals: SignalsSettings
    expression: ExpressionSettings


@dataclass(frozen=True)
class Settings:
    """Every setting in force: the defaults with the user's file and a request's overrides on top."""

    analysis: AnalysisSettings
    engines: Mapping[str, Mapping[str, Any]]  # an engine's section name -> its settings
    matching: MatchingSettings
    xmp: XmpSettings
    group: GroupSettings
    burst: BurstSettings
    scoring: ScoringSettings
    stars: StarsSettings
    signals: SignalsSettings
    expression: ExpressionSettings
    together: TogetherSettings
    daemon: DaemonSettings

    @property
    def measuring(self) -> MeasuringSettings:
        return MeasuringSettings(self.signals, self.expression)


def section_types() -> dict[str, type]:
    """The typed sections of Settings by their TOML name (every section but the engines')."""
    hints = get_type_hints(Settings)
    return {field.name: hints[field.name] for field in fields(Settings) if field.name != "engines"}


def from_tables(tables: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Settings from validated TOML tables: a section that is not a field of Settings is an engine's."""
    types = section_types()
    typed = {name: types[name](**{key: _frozen(value) for key, value in tables[name].items()}) for name in types}
    engines = {name: MappingProxyType(dict(table)) for name, table in tables.items() if name not in types}
    return Settings(engines=MappingProxyType(engines), **typed)


def to_tables(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings as TOML tables in the defaults' order (lists and plain dicts), to print or merge over."""
    tables = {field.name: _plain(getattr(settings, field.name)) for field in fields(Settings)}
    engines = tables.pop("engines")
    return {"analysis": tables.pop("analysis"), **engines, **tables}


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value
