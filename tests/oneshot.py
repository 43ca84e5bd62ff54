"""One-shot helpers for tests and benchmarks: a Library made for one call, and the judging of
records held in memory. The package itself serves many requests from one Library (library.py).
"""

from __future__ import annotations

import numpy as np

from photorank import identity
from photorank.api import PhotoResult, Progress, RankingReport, RankRequest, Reference
from photorank.faces import FaceEngine
from photorank.library import Library
from photorank.ranking import judge_photo
from photorank.records import ImageRecord
from photorank.settings import Settings


def rank_collection(request: RankRequest, progress: Progress | None = None, **library_options) -> RankingReport:
    """Rank with a Library made for this call (engine, cache_path, workers, settings)."""
    with Library(library_options.pop("settings", None), **library_options) as library:
        return library.rank(request, progress)


def index_paths(
    paths: list[str],
    *,
    recursive: bool = False,
    engine: str | None = None,
    cache_path: str | None = None,
    workers: int | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> tuple[FaceEngine, dict[str, ImageRecord]]:
    """Sync a cache with the photos in `paths`: the engine and every record."""
    with Library(settings, engine=engine, cache_path=cache_path, workers=workers) as library:
        return library.engine, library.analyze(paths, recursive, progress)


def judge_records(
    records: list[ImageRecord], references: list[Reference], threshold: float, settings: Settings
) -> dict[str, PhotoResult | None]:
    """path -> the photo's result, or None when the person is not in it (records in memory)."""
    faces = [(number, face) for number, record in enumerate(records) for face in record.faces]
    embeddings = np.stack([face.embedding for _, face in faces]) if faces else np.zeros((0, 0), np.float32)
    owners = np.array([number for number, _ in faces], dtype=np.int32)
    matches = identity.find_person(
        np.stack([reference.embedding for reference in references]), embeddings, owners, settings.matching, threshold
    )
    return {
        record.path: judge_photo(record, faces[matches[number].face][1], matches[number].similarity, matches[number].sure, settings)
        if number in matches else None
        for number, record in enumerate(records)
    }
