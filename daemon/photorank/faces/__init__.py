"""Stage 2: find faces, their landmarks and identity embeddings.

Every engine has the same small interface (FaceEngine); `load_engine` picks one by name.
Embeddings of different engines are not comparable: the cache keys faces by `engine.id`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..records import DetectedFace


class EngineUnavailable(Exception):
    """The engine's library or model files are not installed; the message says what is missing."""


class FaceEngine(Protocol):
    id: str  # names the engine, its models and their versions; embeddings are only comparable within one id
    match_threshold: float  # cosine similarity at or above which two faces are the same person
    max_side: int  # long side (px) the engine wants images decoded to

    def detect(self, pixels: np.ndarray) -> list[DetectedFace]:
        """Faces in an RGB uint8 image, with boxes and landmarks in that image's pixel coordinates."""
        ...


def load_engine(name: str = "auto", **options) -> FaceEngine:
    """'dlib', 'insightface', or 'auto' (insightface when its model pack is present, else dlib)."""
    if name == "dlib":
        from .dlib_engine import DlibEngine

        return DlibEngine(**options)
    if name == "insightface":
        from .insightface_engine import InsightFaceEngine

        return InsightFaceEngine(**options)
    if name == "auto":
        from .insightface_engine import INSIGHTFACE_OPTIONS, model_pack_present

        if model_pack_present(options.get("pack"), options.get("root")):
            try:
                return load_engine("insightface", **options)
            except EngineUnavailable:
                pass
        return load_engine("dlib", **{k: v for k, v in options.items() if k not in INSIGHTFACE_OPTIONS})
    raise ValueError(f"unknown face engine {name!r}: choose auto, dlib or insightface")


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
