"""Stage 2: find faces, their landmarks and identity embeddings.

Every engine has the same small interface (FaceEngine); `load_engine` picks one by name.
Embeddings of different engines are not comparable: the cache keys faces by `engine.id`.
"""

from __future__ import annotations

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


def load_engine(name: str = "auto", **options) -> FaceEngine:
    """'dlib', 'insightface', or 'auto' (insightface when its model pack is present, else dlib).

    `options` may hold settings of both engines (the [analysis], [dlib] and [insightface] config
    sections together); each engine gets only its own.
    """
    from .dlib_engine import DLIB_OPTIONS, DlibEngine
    from .insightface_engine import INSIGHTFACE_OPTIONS, InsightFaceEngine, model_pack_present

    if name == "dlib":
        return DlibEngine(**_without(options, INSIGHTFACE_OPTIONS))
    if name == "insightface":
        return InsightFaceEngine(**_without(options, DLIB_OPTIONS))
    if name == "auto":
        if model_pack_present(options.get("pack"), options.get("root")):
            try:
                return load_engine("insightface", **options)
            except EngineUnavailable:
                pass
        return load_engine("dlib", **options)
    raise ValueError(f"unknown face engine {name!r}: choose auto, dlib or insightface")


def _without(options: dict, names: frozenset[str]) -> dict:
    return {key: value for key, value in options.items() if key not in names}
