"""Stage 5: find the person, judge each photo they are in, rank.

    result = judge_photo(record, target_face, similarity, sure, settings)
    ranked = order_results(results, settings, best_of_burst_only=False)

The report records, and pure functions over faces and records: the Library (library.py) finds
the person (identity.py) in its in-memory face index and feeds the photos they are in here, so
ranking a cached folder again for the same or another person decodes nothing.
"""

from __future__ import annotations

from . import scoring
from .api import PhotoResult, Reference, ReferenceSpec
from .errors import PhotorankError, UsageError
from .records import Box, DetectedFace, ImageRecord
from .settings import Settings


class ReferenceError(PhotorankError):
    """A reference photo that cannot serve: unreadable, no face, or no such face number."""


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
