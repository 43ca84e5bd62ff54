"""The user's own tags in a ranking: who they said is where (regions.py) meets the faces we found.

    tags = person_tags("Marie Curie", photo_tags, records)
    references += tags.references                 # every face the user tagged her, as a reference
    matches = apply_to_matches(tags, ...)         # her tagged faces are hers; faces tagged as others never are
    results += region_only_results(tags, ...)     # tagged where we see no face: still her photos

A region is matched to the detected face that lies mostly inside it; each face to one region.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .api import PhotoResult, Reference
from .identity import Match
from .ranking import faces_left_to_right, judge_photo
from .records import Box, DetectedFace, ImageRecord
from .regions import PhotoTags, name_key, pixel_box, share_inside
from .settings import Settings
from .signals.quality import framing

# A face counts as inside a region when at least this share of its box is.
FACE_INSIDE = 0.5
FACE_NOT_VISIBLE = "face not visible to the detector"


def tagged_as_reason(name: str) -> str:
    return f"the face that looks like the person is tagged as {name}"


@dataclass(frozen=True)
class OtherTag:
    """A photo where the face we would take for the person is tagged as someone else."""

    path: str
    name: str
    similarity: float


@dataclass
class PersonTags:
    """What the user's tags say about one person across the photos looked at."""

    references: list[Reference] = field(default_factory=list)
    faces: dict[str, int] = field(default_factory=dict)  # path -> index in record.faces tagged as the person
    region_only: dict[str, Box] = field(default_factory=dict)  # path -> the person's region, no face found in it
    others: dict[str, dict[int, str]] = field(default_factory=dict)  # path -> {face index: other person's name}


def person_tags(person: str, tags: dict[str, PhotoTags], records: dict[str, ImageRecord]) -> PersonTags:
    """Sort every placed region of the photos into the person's faces, region-only photos and
    faces tagged as others. `records` are the analysed photos that have regions."""
    key = name_key(person)
    found = PersonTags()
    for path, photo in tags.items():
        record = records.get(path)
        if record is None or record.error:
            continue
        for name, box, face in regions_on_faces(photo, record):
            if name_key(name) != key:
                if face is not None:
                    found.others.setdefault(path, {})[face] = name
            elif face is None:
                found.region_only.setdefault(path, box)
            elif path not in found.faces:
                found.faces[path] = face
                found.references.append(tagged_reference(record, face))
        if path in found.faces:
            found.region_only.pop(path, None)
    return found


def spread(references: list[Reference], limit: int) -> list[Reference]:
    """At most `limit` of the references, evenly spaced in path order (over folders and years)."""
    ordered = sorted(references, key=lambda reference: reference.path)
    if len(ordered) <= limit:
        return ordered
    return [ordered[number * len(ordered) // limit] for number in range(limit)]


def tagged_reference(record: ImageRecord, face: int) -> Reference:
    """The face the user tagged, as a reference (numbered from the left, like a reference photo's)."""
    target = record.faces[face]
    number = next(n for n, other in enumerate(faces_left_to_right(record.faces), start=1) if other is target)
    return replace(Reference.of_face(record.path, number, target, len(record.faces)), source="tag")


def regions_on_faces(photo: PhotoTags, record: ImageRecord) -> list[tuple[str, Box, int | None]]:
    """(name, region box, index in record.faces or None) for each placed region; each face goes
    to the region that covers most of it."""
    placed = [(region.name, pixel_box(region, record.width, record.height, record.orientation)) for region in photo.regions]
    placed = [(name, box) for name, box in placed if box is not None]
    pairs = sorted(
        ((share_inside(face.box, box), number, index)
         for number, (_, box) in enumerate(placed) for index, face in enumerate(record.faces)),
        reverse=True,
    )
    taken_faces, chosen = set(), {}
    for share, number, index in pairs:
        if share < FACE_INSIDE:
            break
        if number not in chosen and index not in taken_faces:
            chosen[number] = index
            taken_faces.add(index)
    return [(name, box, chosen.get(number)) for number, (name, box) in enumerate(placed)]


def apply_to_matches(
    tags: PersonTags, matches: dict[int, Match], paths_of: dict[int, list[str]], rows: dict[tuple[int, int], int],
    embeddings: np.ndarray, references: list[Reference],
) -> tuple[dict[int, Match], list[OtherTag]]:
    """The matches (photo -> match) the tags allow: a face tagged as the person is theirs (sure),
    a match on a face tagged as someone else is dropped and said. `paths_of`: photo -> its paths;
    `rows`: (photo, face index) -> row of `embeddings`."""
    allowed = dict(matches)
    dropped: list[OtherTag] = []
    for photo, paths in paths_of.items():
        tagged = next((tags.faces[path] for path in paths if path in tags.faces), None)
        row = rows.get((photo, tagged)) if tagged is not None else None
        if row is not None:
            allowed[photo] = Match(row, similarity_to_others(embeddings[row], references, paths), True)
            continue
        match = allowed.get(photo)
        other = tagged_other(tags, paths, photo, match.face, rows) if match is not None else None
        if other is not None:
            del allowed[photo]
            dropped.append(OtherTag(paths[0], other, round(match.similarity, 4)))
    return allowed, dropped


def tagged_other(tags: PersonTags, paths: list[str], photo: int, row: int, rows: dict[tuple[int, int], int]) -> str | None:
    """The other person's name when the face at `row` is tagged as someone else."""
    for path in paths:
        for face, name in tags.others.get(path, {}).items():
            if rows.get((photo, face)) == row:
                return name
    return None


def similarity_to_others(embedding: np.ndarray, references: list[Reference], paths: list[str]) -> float:
    """The face's similarity to the closest reference from another photo (1.0 when it is the only one)."""
    others = [reference.embedding for reference in references if reference.path not in paths]
    return float(np.max(np.stack(others) @ embedding)) if others else 1.0


def region_only_results(tags: PersonTags, records: dict[str, ImageRecord], ranked: set[str],
                        settings: Settings) -> list[PhotoResult]:
    """Photos a region names the person in where no face was detected there: judged on what the
    region shows without a face (its size and place in the frame, the whole image), said so."""
    results = []
    for path, box in sorted(tags.region_only.items()):
        record = records.get(path)
        if path in ranked or record is None:
            continue
        target = DetectedFace(box, 0.0, np.zeros(0, np.float32), None, framing((record.height, record.width), box, None))
        result = judge_photo(record, target, 0.0, True, settings)
        result.reasons.insert(0, FACE_NOT_VISIBLE)
        result.tagged = "region only"
        results.append(result)
    return results
