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
class ProgressEvent:
    """Where a long request stands: streamed to the daemon's clients, drawn as the CLI's bar."""

    phase: str  # "references" | "indexing" | "ranking" | "writing"
    done: int
    total: int
    path: str = ""  # the file just finished, when there is one


@dataclass
class XmpOptions:
    """A request's write-back choices; None leaves the [xmp] setting of the config in force."""

    naming: str | None = None  # "auto" | "name.ext.xmp" | "name.xmp"
    overwrite_ratings: bool | None = None
    unrated: list[int] | None = None
    embed: bool | None = None
    dry_run: bool = False  # say what would be written, write nothing

    def over(self, settings: dict) -> dict:
        """The [xmp] config section with these choices on top."""
        chosen = {key: value for key, value in vars(self).items() if value is not None}
        return {**settings, **chosen}


@dataclass
class ReferenceSpec:
    """A reference photo, and which of its faces is the person (by default the largest)."""

    path: str
    face: int | None = None  # 1-based, faces numbered left to right
    box: Box | None = None  # or: the face that overlaps this box most


@dataclass
class RankRequest:
    """The question only: engine, cache, workers and settings belong to the Library."""

    references: list[ReferenceSpec]  # a plain path stands for ReferenceSpec(path)
    paths: list[str]
    recursive: bool = False
    top: int | None = None
    best_of_burst: bool = False
    include_unsure: bool = False  # rank and rate unsure matches with the sure ones
    person: str | None = None  # the name written with --write-xmp
    write_xmp: bool = False
    xmp: XmpOptions = field(default_factory=XmpOptions)  # write-back choices over the [xmp] settings

    def __post_init__(self) -> None:
        self.references = [ReferenceSpec(ref) if isinstance(ref, str) else ref for ref in self.references]
