"""What a caller asks the library and what it gets back: requests, reports, progress.

    request = RankRequest([ReferenceSpec("alice.jpg")], ["~/Pictures/2024"], person="Alice")
    report = library.rank(request)       # a RankingReport of PhotoResults

A request checks itself when it is made (`__post_init__`), so a mistake is one sentence before
any work, whether the CLI, the daemon or a test builds it. Light on purpose: the CLI that talks
to photorankd imports this module and never loads numpy (annotations only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import UsageError
from .records import Box, DetectedFace
from .settings import XmpSettings

if TYPE_CHECKING:
    import numpy as np

    from .tagged import OtherTag
    from .writeback import WriteBackSummary

MODES = ("together", "any")
SET_JOIN = " + "  # "Alice + Bob": the set's name in keywords and undo


# --- requests --------------------------------------------------------------------------------


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


def _specs(references: list[ReferenceSpec | str]) -> list[ReferenceSpec]:
    """A plain path stands for ReferenceSpec(path)."""
    return [ReferenceSpec(ref) if isinstance(ref, str) else ref for ref in references]


@dataclass
class RankRequest:
    """One person's ranking; the question only: engine, cache, workers and settings belong to
    the Library. Without a reference photo, the faces tagged with `person` in the photos' XMP
    are the references (tagged.py)."""

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
        self.references = _specs(self.references)
        self.person = (self.person or "").strip() or None
        if not self.references and not self.person:
            raise UsageError("no reference photo: give one (--ref REF), or the name the person is tagged with in the photos (--person NAME)")
        if self.write_xmp and not self.person:
            raise UsageError("--write-xmp needs --person NAME (the name written into keywords and face regions)")


@dataclass
class Person:
    """A member of the set: a name and the reference photos of that person."""

    name: str
    references: list[ReferenceSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name.strip()
        self.references = _specs(self.references)


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

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"ranking several people is 'together' or 'any', not {self.mode!r}")
        if len(self.people) < 2:
            raise UsageError("--together and --any rank several people: give each one with --person NAME --ref PHOTO")
        names = [person.name for person in self.people]
        if not all(names):
            raise UsageError("every person of a set needs a name (--person NAME)")
        if len(set(names)) != len(names):
            raise UsageError(f"each person once: {', '.join(names)}")
        if any(SET_JOIN.strip() in name for name in names):
            raise UsageError(f"a person's name cannot hold '{SET_JOIN.strip()}': it joins the names of a set")
        for person in self.people:  # a set's members are found from reference photos (tags: one person only)
            if not person.references:
                raise UsageError(f"no reference photo for {person.name}: add --ref PHOTO after --person {person.name}")

    @property
    def set_name(self) -> str:
        return set_name([person.name for person in self.people])


def set_name(names: list[str]) -> str:
    """'Alice + Bob': the keyword and undo name of a set, in the order the people were given."""
    return SET_JOIN.join(name.strip() for name in names)


# --- reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressEvent:
    """Where a long request stands: streamed to the daemon's clients, drawn as the CLI's bar."""

    phase: str  # "references" | "indexing" | "ranking" | "writing"
    done: int
    total: int
    path: str = ""  # the file just finished, when there is one


Progress = Callable[[ProgressEvent], None]


@dataclass
class Reference:
    """The face a ranking took as the person: from a reference photo, or a face tagged as them."""

    path: str
    face_number: int  # 1-based, left to right
    box: Box
    embedding: np.ndarray = field(repr=False)
    faces: int = 1  # faces found in the reference photo
    source: str = "photo"  # "photo": a reference photo given; "tag": a face the user tagged as the person

    @classmethod
    def of_face(cls, path: str, face_number: int, face: DetectedFace, faces: int = 1) -> Reference:
        return cls(path, face_number, face.box, face.embedding, faces)


@dataclass
class PhotoResult:
    path: str
    score: float  # 0-100
    kind: str  # "single" | "group"
    similarity: float
    faces: int  # faces found in the photo
    prominent_faces: int  # faces that count for single/group (the target included)
    target_face: DetectedFace
    width: int
    height: int
    captured_at: float | None
    reasons: list[str]
    components: dict[str, float]
    rank: int = 0
    stars: int = 0
    burst: int | None = None  # id of the burst/near-duplicate group, when the photo has siblings
    best_of_burst: bool = True
    thumbnail: bytes | None = field(default=None, repr=False)
    match: str = "sure"  # "sure" | "unsure": the collection did not confirm it is the person
    tagged: str = ""  # "person": the user tagged this face as the person; "region only": tagged, no face detected there


@dataclass
class MemberResult:
    """One member of the set in one photo, judged as if the photo were ranked for them alone."""

    name: str
    score: float
    similarity: float
    match: str  # "sure" | "unsure"
    face: DetectedFace
    faults: list[str]  # "Bob's eyes closed"
    merits: list[str]  # "Bob smiling"
    components: dict[str, float]

    @property
    def reasons(self) -> list[str]:
        return self.faults + self.merits


@dataclass
class SetResult(PhotoResult):
    """A photo of the set: the scores and face of the member who decides it (the worst-looking
    one together, the best-looking one present with `any`), and every member found."""

    members: list[MemberResult] = field(default_factory=list)


@dataclass
class RankingReport:
    engine: str
    references: list[Reference]
    results: list[PhotoResult]
    not_found_paths: list[str]  # photos read without error that the person is not in
    errors: list[tuple[str, str]]
    threshold: float
    found: int  # photos the person is in, before --top and --best-of-burst shortened `results`
    written: WriteBackSummary | None = None  # what write-back did, when it was asked for
    mode: str = "single"  # or, for a set of people (together.py): "together" | "any"
    people: list[tuple[str, list[Reference]]] = field(default_factory=list)  # a set's members and their references
    tagged_as_other: list[OtherTag] = field(default_factory=list)  # looked like the person, tagged as someone else
    person: str = ""  # the name keywords go under: the person's, a set's ("Alice + Bob"); "" when none was given

    @property
    def not_found(self) -> int:
        return len(self.not_found_paths)


@dataclass
class IndexSummary:
    """What `index` did: photos looked at, analysed now, answered from the cache, unreadable."""

    photos: int
    analysed: int
    cached: int
    errors: list[tuple[str, str]]

    def as_dict(self) -> dict:
        return {
            "photos": self.photos,
            "analysed": self.analysed,
            "cached": self.cached,
            "errors": [{"path": path, "error": error} for path, error in self.errors],
        }


@dataclass
class LibraryStatus:
    version: str
    engine: str
    analysis_key: str
    smile_model: str
    cache_path: str
    files: int  # files the cache knows
    images: int  # analysed images under the current analysis key
    faces: int
    index_faces: int  # faces in the in-memory index
    index_bytes: int
    queued: int  # analyses running or waiting
    analyses_started: int  # photos handed to the workers since start-up (each at most once at a time)
    workers: int
