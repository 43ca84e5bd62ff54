"""Typed records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import UsageError
from .settings import XmpSettings

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

    def over(self, xmp: XmpSettings) -> XmpSettings:
        """The [xmp] settings with these choices on top (dry_run is no setting: it goes apart)."""
        chosen = {key: value for key, value in vars(self).items() if value is not None and key != "dry_run"}
        if self.unrated is not None:
            chosen["unrated"] = tuple(self.unrated)
        return replace(xmp, **chosen)


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


MODES = ("together", "any")
SET_JOIN = " + "  # "Alice + Bob": the set's name in keywords and undo


@dataclass
class Person:
    """A member of the set: a name and the reference photos of that person."""

    name: str
    references: list[ReferenceSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.references = [ReferenceSpec(ref) if isinstance(ref, str) else ref for ref in self.references]


@dataclass
class PeopleRequest:
    """Rank for several people: `together` (all of them in the photo) or `any` (at least one)."""

    people: list[Person]
    paths: list[str]
    mode: str = "together"
    recursive: bool = False
    top: int | None = None
    best_of_burst: bool = False
    include_unsure: bool = False
    write_xmp: bool = False
    xmp: XmpOptions = field(default_factory=XmpOptions)

    @property
    def set_name(self) -> str:
        return set_name([person.name for person in self.people])


def set_name(names: list[str]) -> str:
    """'Alice + Bob': the keyword and undo name of a set, in the order the people were given."""
    return SET_JOIN.join(name.strip() for name in names)


def check_people(people: list[Person], mode: str) -> None:
    """What a set of people must be before any work: the one place these rules live."""
    if mode not in MODES:
        raise UsageError(f"ranking several people is 'together' or 'any', not {mode!r}")
    if len(people) < 2:
        raise UsageError("--together and --any rank several people: give each one with --person NAME --ref PHOTO")
    names = [person.name.strip() for person in people]
    if not all(names):
        raise UsageError("every person of a set needs a name (--person NAME)")
    if len(set(names)) != len(names):
        raise UsageError(f"each person once: {', '.join(names)}")
    if any(SET_JOIN.strip() in name for name in names):
        raise UsageError(f"a person's name cannot hold '{SET_JOIN.strip()}': it joins the names of a set")
    for person in people:  # a set's members are found from reference photos (tags: one person only)
        if not person.references:
            raise UsageError(f"no reference photo for {person.name}: add --ref PHOTO after --person {person.name}")


def check_references(person: Person) -> None:
    """One person needs a reference photo, or a name: the faces tagged with it in the photos'
    XMP are then the references (tagged.py)."""
    if not person.references and not person.name:
        raise UsageError("no reference photo: give one (--ref REF), or the name the person is tagged with in the photos (--person NAME)")