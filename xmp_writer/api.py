"""Public entry points: write photorank results into sidecars, undo them."""

from __future__ import annotations

import os
from typing import Callable, Iterable

from . import atomic, merge
from .model import FileResult, PersonRating, WriteOutcome, XmpError
from .sidecar import sidecar_paths

RETRIES = 3


def _update_file(path: str, change: Callable[[bytes | None], tuple[bytes | None, list[str]]],
                 *, create: bool) -> FileResult:
    """Read, change and atomically replace one sidecar; retry if it changes meanwhile."""
    for _ in range(RETRIES):
        before = atomic.read(path)
        if before.data is None and not create:
            return FileResult(path, "unchanged", ("no sidecar",))
        try:
            new, notes = change(before.data)
        except XmpError as exc:
            return FileResult(path, "error", (f"left untouched: {exc}",))
        try:
            if new is None:
                atomic.remove(path, before)
                return FileResult(path, "removed", tuple(notes))
            if new == before.data:
                return FileResult(path, "unchanged", tuple(notes))
            atomic.replace(path, new, before)
        except atomic.ChangedUnderUs:
            continue
        except OSError as exc:
            return FileResult(path, "error", (f"could not write: {exc.strerror or exc}",))
        return FileResult(path, "created" if before.data is None else "updated", tuple(notes))
    return FileResult(path, "error", ("left untouched: it kept changing while we wrote",))


def write_ratings(image_path: str | os.PathLike, ratings: Iterable[PersonRating], *,
                  naming: str = "auto", overwrite_ratings: bool = False,
                  embed: bool = False) -> WriteOutcome:
    """Merge one or more persons' results for one image into its sidecar(s)."""
    if embed:
        raise NotImplementedError("embedding into JPEG files is not implemented yet")
    ratings = list(ratings)
    outcome = WriteOutcome()
    for path in sidecar_paths(image_path, naming):
        outcome.files.append(_update_file(
            path, lambda data: merge.apply(data, ratings, overwrite_ratings=overwrite_ratings),
            create=True))
    return outcome


def write_rating(image_path: str | os.PathLike, rating: PersonRating, *, naming: str = "auto",
                 overwrite_ratings: bool = False, embed: bool = False) -> WriteOutcome:
    """Merge one person's result for one image into its sidecar(s)."""
    return write_ratings(image_path, [rating], naming=naming,
                         overwrite_ratings=overwrite_ratings, embed=embed)


def undo(image_path: str | os.PathLike, person: str | None = None, *,
         naming: str = "auto") -> WriteOutcome:
    """Take photorank's data (for one person, or all) out of the image's sidecar(s)."""
    outcome = WriteOutcome()
    for path in sidecar_paths(image_path, naming):
        outcome.files.append(_update_file(path, lambda data: merge.remove(data, person), create=False))
    return outcome
