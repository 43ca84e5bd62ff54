"""Stage 5: find the person, judge each photo they are in, rank.

    report = rank_collection(RankRequest(references=[ReferenceSpec("alice.jpg")], paths=["~/Pictures/2024-wedding"]))

The request and report records, and pure functions over faces and records: the Library
(library.py) feeds them from its in-memory face index, so ranking a cached folder again for
the same or another person decodes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import identity, scoring
from .errors import PhotorankError, UsageError
from .index import Progress
from .records import Box, DetectedFace, ImageRecord, RankRequest, ReferenceSpec  # noqa: F401 - the requests live in records (light for the CLI); named here too
from .settings import MatchingSettings, Settings

if TYPE_CHECKING:
    from .tagged import OtherTag
    from .writeback import WriteBackSummary


class ReferenceError(PhotorankError):
    """A reference photo that cannot serve: unreadable, no face, or no such face number."""


@dataclass
class Reference:
    path: str
    face_number: int  # 1-based, left to right
    box: tuple[int, int, int, int]
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

    @property
    def not_found(self) -> int:
        return len(self.not_found_paths)


def rank_collection(request: RankRequest, progress: Progress | None = None, **library_options) -> RankingReport:
    """One-shot: rank with a Library made for this call (engine, cache_path, workers, settings)."""
    from .library import Library

    with Library(library_options.pop("settings", None), **library_options) as library:
        return library.rank(request, progress)


def pick_reference(record: ImageRecord, spec: ReferenceSpec) -> Reference:
    if record.error:
        raise ReferenceError(f"reference {record.path}: {record.error}")
    faces = faces_left_to_right(record.faces)
    if not faces:
        raise ReferenceError(f"reference {record.path}: no face found")
    if spec.box is not None:
        overlaps = [overlap(face.box, spec.box) for face in faces]
        index = max(range(len(faces)), key=overlaps.__getitem__)
        if overlaps[index] <= 0:
            raise UsageError(f"reference {record.path}: no face inside the box {list(spec.box)}")
    elif spec.face is None:
        index = max(range(len(faces)), key=lambda i: faces[i].box[2] * faces[i].box[3])
    elif 1 <= spec.face <= len(faces):
        index = spec.face - 1
    else:
        raise UsageError(f"reference {record.path}: has {len(faces)} face(s), no face number {spec.face}")
    return Reference.of_face(record.path, index + 1, faces[index], len(faces))


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    shared = width * height
    return shared / (a[2] * a[3] + b[2] * b[3] - shared)


def faces_left_to_right(faces: list[DetectedFace]) -> list[DetectedFace]:
    return sorted(faces, key=lambda face: (face.box[0], face.box[1]))


@dataclass(frozen=True)
class Match:
    """The person's face in one photo: the photo (an owner number), the face's row, its
    similarity to the references, and whether the collection makes it sure (identity.py)."""

    owner: int
    row: int
    similarity: float
    sure: bool


def find_person(
    references: list[Reference], embeddings: np.ndarray, owners: np.ndarray, threshold: float, settings: MatchingSettings
) -> list[Match]:
    """In each photo, the face that is the person, if any, sure or unsure.

    `embeddings` (faces x d) holds every face of the photos looked at, `owners` the photo each
    row belongs to; identity.py decides from the collection's structure, not one cut.
    """
    if not len(owners):
        return []
    matches = identity.find_person(
        np.stack([reference.embedding for reference in references]), embeddings, owners, settings, threshold
    )
    return [Match(int(photo), int(match.face), float(match.similarity), bool(match.sure)) for photo, match in sorted(matches.items())]


def judge_records(
    records: list[ImageRecord], references: list[Reference], threshold: float, settings: Settings
) -> dict[str, PhotoResult | None]:
    """path -> the photo's result, or None when the person is not in it (records in memory)."""
    faces = [(number, face) for number, record in enumerate(records) for face in record.faces]
    embeddings = np.stack([face.embedding for _, face in faces]) if faces else np.zeros((0, 0), np.float32)
    owners = np.array([number for number, _ in faces], dtype=np.int32)
    matches = {
        match.owner: (faces[match.row][1], match.similarity, match.sure)
        for match in find_person(references, embeddings, owners, threshold, settings.matching)
    }
    return judge_matches(records, matches, settings)


def judge_matches(
    records: list[ImageRecord], matches: dict[int, tuple[DetectedFace, float, bool]], settings: Settings
) -> dict[str, PhotoResult | None]:
    """path -> the photo's result, given the person's face, similarity and sureness in each
    photo they are in (`matches`, by position in `records`). Each photo is judged on its own,
    neither against the references nor against the other photos: its score and stars do not
    depend on which photo of the person is the reference, nor on what else is ranked."""
    return {
        record.path: judge_photo(record, *matches[number], settings) if number in matches else None
        for number, record in enumerate(records)
    }


def judge_photo(record: ImageRecord, target: DetectedFace, similarity: float, sure: bool, settings: Settings) -> PhotoResult:
    prominent = prominent_faces(record.faces, target, settings.group.prominent_ratio)
    others = [face for face in prominent if face is not target]
    kind = "group" if others else "single"
    judgement = scoring.judge(target, others, record, kind, settings.scoring)
    return PhotoResult(
        path=record.path,
        score=judgement.score,
        kind=kind,
        similarity=round(similarity, 4),
        faces=len(record.faces),
        prominent_faces=len(prominent),
        target_face=target,
        width=record.width,
        height=record.height,
        captured_at=record.captured_at,
        reasons=judgement.reasons,
        components=judgement.components,
        thumbnail=record.thumbnail,
        match="sure" if sure else "unsure",
    )


def prominent_faces(faces: list[DetectedFace], target: DetectedFace, ratio: float) -> list[DetectedFace]:
    """Faces that make the photo about them: at least `ratio` of the largest face's width.

    A portrait with small faces in the background stays a single-person photo; five friends
    in a selfie are a group. The target always counts.
    """
    largest = max(face.box[2] for face in [*faces, target])  # a tagged face the detector missed is not in `faces`
    return [face for face in faces if face is target or face.box[2] >= ratio * largest]


def order_results(
    results: list[PhotoResult], settings: Settings, best_of_burst_only: bool, include_unsure: bool = False
) -> list[PhotoResult]:
    """Best first; bursts marked; ranks and stars assigned. Unsure matches come after the sure
    ones with 0 stars, unless `include_unsure` ranks and rates them with the sure ones."""
    from .bursts import mark_bursts

    results = sorted(results, key=lambda result: (-result.score, result.path))
    mark_bursts(results, settings.burst)
    if best_of_burst_only:
        results = [result for result in results if result.best_of_burst]
    rated = [result for result in results if include_unsure or result.match == "sure"]
    apart = [result for result in results if not (include_unsure or result.match == "sure")]
    for rank, result in enumerate(rated + apart, start=1):
        result.rank = rank
        result.stars = scoring.stars(result.score, settings.stars) if rank <= len(rated) else 0
    return rated + apart
