"""Typed records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI talking to photorankd never loads numpy
    import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height in pixels of the oriented full-size image


@dataclass
class DetectedFace:
    """One face as a face engine reports it, in full-size image coordinates."""

    box: Box
    detector_score: float
    embedding: np.ndarray  # float32, L2-normalised
    landmarks: np.ndarray | None = None  # (N, 2) float32: 68 points (dlib) or 5 points (insightface)
    signals: dict[str, float | None] = field(default_factory=dict)


@dataclass
class ImageRecord:
    """What the index knows about one image file."""

    path: str
    width: int = 0  # oriented full-size dimensions
    height: int = 0
    orientation: int = 1  # EXIF orientation tag of the original file
    captured_at: float | None = None  # EXIF DateTimeOriginal as a POSIX timestamp (local time, naive)
    faces: list[DetectedFace] = field(default_factory=list)
    image_signals: dict[str, float | None] = field(default_factory=dict)  # whole-image measurements
    thumbnail: bytes | None = None  # tiny grey version of the picture, to recognise bursts and duplicates
    error: str | None = None


@dataclass(frozen=True)
class SeenFile:
    """A photo file as this run found it on disk: where, its size and time, and its content."""

    path: str
    size: int
    mtime_ns: int
    fingerprint: str  # cache.fingerprint: the same content at another path is the same image
