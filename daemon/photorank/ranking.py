"""Stage 5, and the library API the CLI and the daemon share: find the person, judge, rank.

    report = rank_collection(RankRequest(references=["alice.jpg"], paths=["~/Pictures/2024-wedding"]))

Everything below works on cached ImageRecords: once a folder is indexed, ranking it again
for the same or another person decodes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import scoring
from .collection import check_paths, require_photos
from .config import load_config
from .errors import PhotorankError
from .index import Progress, collect_images, index_files
from .records import DetectedFace, ImageRecord


class ReferenceError(PhotorankError):
    """A reference photo that cannot serve: unreadable, no face, or no such face number."""


@dataclass
class RankRequest:
    references: list[str]
    paths: list[str]
    recursive: bool = False
    reference_face: int | None = None  # 1-based, faces numbered left to right; None = the largest
    engine: str = "auto"
    cache_path: str | None = None  # None = the user cache dir; ":memory:" = keep nothing
    workers: int | None = None
    best_of_burst: bool = False
    top: int | None = None
    config: dict[str, dict] | None = None


@dataclass
class Reference:
    path: str
    face_number: int  # 1-based, left to right
    box: tuple[int, int, int, int]
    embedding: np.ndarray = field(repr=False)
    faces: int = 1  # faces found in the reference photo


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


@dataclass
class RankingReport:
    engine: str
    references: list[Reference]
    results: list[PhotoResult]
    not_found_paths: list[str]  # photos read without error that the person is not in
    errors: list[tuple[str, str]]
    threshold: float
    found: int  # photos the person is in, before --top and --best-of-burst shortened `results`

    @property
    def not_found(self) -> int:
        return len(self.not_found_paths)


def rank_collection(request: RankRequest, progress: Progress | None = None) -> RankingReport:
    config = request.config or load_config()
    check_paths(request.references, "reference photo")
    collection, folders = collect_images(request.paths, request.recursive)
    require_photos(collection, folders, request.recursive)
    # The references first: one that cannot serve stops the run before the collection is analysed.
    _, reference_records = index_files(
        [], [], request.engine, request.cache_path, request.workers, config, extra_files=request.references
    )
    references = [pick_reference(reference_records[os.path.abspath(path)], request.reference_face) for path in request.references]
    engine, records = index_files(collection, folders, request.engine, request.cache_path, request.workers, config, progress)
    threshold = config["matching"]["threshold"] or engine.match_threshold
    errors = [(path, records[path].error) for path in collection if records[path].error]
    judged = judge_records([records[path] for path in collection if not records[path].error], references, threshold, config)
    results = [result for result in judged.values() if result is not None]
    not_found_paths = [path for path, result in judged.items() if result is None]
    found = len(results)
    results = order_results(results, config, request.best_of_burst)
    if request.top:
        results = results[: request.top]
    return RankingReport(engine.id, references, results, not_found_paths, errors, threshold, found)


def pick_reference(record: ImageRecord, face_number: int | None) -> Reference:
    if record.error:
        raise ReferenceError(f"reference {record.path}: {record.error}")
    faces = faces_left_to_right(record.faces)
    if not faces:
        raise ReferenceError(f"reference {record.path}: no face found")
    if face_number is None:
        index = max(range(len(faces)), key=lambda i: faces[i].box[2] * faces[i].box[3])
    elif 1 <= face_number <= len(faces):
        index = face_number - 1
    else:
        raise ReferenceError(f"reference {record.path}: has {len(faces)} face(s), no face number {face_number}")
    face = faces[index]
    return Reference(record.path, index + 1, face.box, face.embedding, len(faces))


def faces_left_to_right(faces: list[DetectedFace]) -> list[DetectedFace]:
    return sorted(faces, key=lambda face: (face.box[0], face.box[1]))


def similarity_to_references(face: DetectedFace, references: list[Reference]) -> float:
    return max(float(np.dot(face.embedding, reference.embedding)) for reference in references)


def judge_records(
    records: list[ImageRecord], references: list[Reference], threshold: float, config: dict[str, dict]
) -> dict[str, PhotoResult | None]:
    """path -> the photo's result, or None when the person is not in it.

    Exposure is judged against the person's own photos among these records (person_exposure).
    """
    matches = {record.path: find_person(record, references, threshold) for record in records}
    exposure = person_exposure([match[0] for match in matches.values() if match])
    return {
        record.path: None if matches[record.path] is None else judge_photo(record, *matches[record.path], exposure, config)
        for record in records
    }


def find_person(record: ImageRecord, references: list[Reference], threshold: float) -> tuple[DetectedFace, float] | None:
    """The person's face in the photo and its similarity, or None when they are not in it."""
    if not record.faces:
        return None
    similarities = [similarity_to_references(face, references) for face in record.faces]
    best = int(np.argmax(similarities))
    if similarities[best] < threshold:
        return None
    return record.faces[best], similarities[best]


def person_exposure(targets: list[DetectedFace]) -> float | None:
    """The person's usual face exposure across their photos: their well-exposed level."""
    values = [face.signals["exposure"] for face in targets if face.signals.get("exposure") is not None]
    return float(np.median(values)) if values else None


def judge_photo(
    record: ImageRecord, target: DetectedFace, similarity: float, exposure: float | None, config: dict[str, dict]
) -> PhotoResult:
    prominent = prominent_faces(record.faces, target, config["group"]["prominent_ratio"])
    others = [face for face in prominent if face is not target]
    kind = "group" if others else "single"
    judgement = scoring.judge(target, others, record, kind, config["scoring"], exposure)
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
    )


def prominent_faces(faces: list[DetectedFace], target: DetectedFace, ratio: float) -> list[DetectedFace]:
    """Faces that make the photo about them: at least `ratio` of the largest face's width.

    A portrait with small faces in the background stays a single-person photo; five friends
    in a selfie are a group. The target always counts.
    """
    largest = max(face.box[2] for face in faces)
    return [face for face in faces if face is target or face.box[2] >= ratio * largest]


def order_results(results: list[PhotoResult], config: dict[str, dict], best_of_burst_only: bool) -> list[PhotoResult]:
    """Best first; bursts marked; ranks and stars assigned."""
    from .bursts import mark_bursts

    results = sorted(results, key=lambda result: (-result.score, result.path))
    mark_bursts(results, config["burst"])
    if best_of_burst_only:
        results = [result for result in results if result.best_of_burst]
    for rank, result in enumerate(results, start=1):
        result.rank = rank
        result.stars = scoring.stars(result.score, rank, len(results), config["stars"])
    return results
