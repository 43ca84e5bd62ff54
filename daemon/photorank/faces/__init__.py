"""Stage 2: find faces, their landmarks and identity embeddings.

Every engine has the same small interface (FaceEngine) and registers itself with an EngineSpec in
its own module; `load_engine` picks one by name.
Embeddings of different engines are not comparable: the cache keys faces by `engine.id`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import PhotorankError
from ..records import DetectedFace


class EngineUnavailable(PhotorankError):
    """The engine's library or model files are not installed; the message says what is missing."""


class FaceEngine(Protocol):
    id: str  # names the engine, its models and their versions; embeddings are only comparable within one id
    settings_key: str  # the engine settings that change what is found (sizes, thresholds)
    match_threshold: float  # cosine similarity at or above which two faces are the same person
    max_side: int  # long side (px) the engine wants images decoded to

    def detect(self, pixels: np.ndarray) -> list[DetectedFace]:
        """Faces in an RGB uint8 image, with boxes and landmarks in that image's pixel coordinates."""
        ...

    def confidence(self, detector_score: float) -> float:
        """The engine's own detector score as 0-1, comparable across engines."""
        ...


@dataclass(frozen=True)
class EngineSpec:
    """What makes an engine selectable: a module `faces/*_engine.py` defines one as `ENGINE`.

    The engine reads its own config section (`section`, keyword options of `factory`, listed in
    `options`) besides the [analysis] sizes, and is chosen by `--engine NAME` or by its detector's
    name (`--detector`, [analysis] detector). Adding such a file is all a new engine needs.
    """

    name: str
    detector: str  # what finds the faces; engines sharing an embedding differ by it
    section: str
    factory: Callable[..., FaceEngine]
    options: frozenset[str]  # the factory's keywords from its section
    summary: str
    # `auto` runs this engine when it says yes, given the options (e.g. its model files are on disk).
    chosen_by_auto: Callable[[dict], bool] | None = None
    # Loads the models every worker of this engine reads, once in the forkserver that forks them
    # (analysis.preload_for_workers): plain memory only, no thread may start.
    shared_models: Callable[[], None] | None = None


# Every engine takes these [analysis] settings (onnx_providers: its onnxruntime sessions').
ANALYSIS_OPTIONS = frozenset({"max_side", "min_face_px", "onnx_providers"})
# What `auto` runs when no insightface model pack is on disk: BlazeFace, whose identity figures
# match or beat HOG's on every row measured, and which finds masked and frame-filling faces HOG
# misses (docs/engines.md, "Which engine is the default").
DEFAULT_ENGINE = "blazeface"


@functools.cache
def engines() -> dict[str, EngineSpec]:
    """The registered engines by name: the ENGINE of every faces/*_engine.py module."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.endswith("_engine"):
            spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "ENGINE", None)
            if spec is not None:
                found[spec.name] = spec
    return dict(sorted(found.items()))


def engine_names() -> list[str]:
    """The choices of --engine."""
    return ["auto", *engines()]


def detector_names() -> list[str]:
    """The choices of --detector."""
    return sorted(spec.detector for spec in engines().values())


def engine_for_detector(detector: str) -> str:
    for spec in engines().values():
        if spec.detector == detector:
            return spec.name
    raise ValueError(f"unknown face detector {detector!r}: choose {', '.join(detector_names())}")


def engine_name(engine: FaceEngine) -> str:
    """The registered name of an engine that load_engine made (the one `auto` chose)."""
    return next(spec.name for spec in engines().values() if isinstance(engine, spec.factory))


def load_engine(name: str = "auto", **options) -> FaceEngine:
    """A registered engine by name, or 'auto' (the first engine whose `chosen_by_auto` says yes
    and that loads, such as insightface when its model pack is present; else DEFAULT_ENGINE).

    `options` may hold the settings of every engine (the [analysis] and engine config sections
    together); each engine gets only the [analysis] sizes and its own.
    """
    if name == "auto":
        for spec in engines().values():
            if spec.chosen_by_auto is not None and spec.chosen_by_auto(options):
                try:
                    return load_engine(spec.name, **options)
                except EngineUnavailable:
                    pass
        return load_engine(DEFAULT_ENGINE, **options)
    spec = engines().get(name)
    if spec is None:
        raise ValueError(f"unknown face engine {name!r}: choose {', '.join(engine_names())}")
    return spec.factory(**{key: value for key, value in options.items() if key in ANALYSIS_OPTIONS | spec.options})
