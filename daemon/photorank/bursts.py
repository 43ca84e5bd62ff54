"""Bursts and near-duplicates: photos of the same moment form a group whose best is marked.

Ten frames of one moment would otherwise crowd the rest out of the top 20. Two photos belong
together when they were taken within a few seconds and look alike (a burst), or look nearly
identical whatever their capture times (a duplicate, an export, the same frame at two sizes).
"Look alike" is the correlation of 16x16 grey thumbnails made at analysis time.
"""

from __future__ import annotations

import numpy as np

from .settings import BurstSettings

BLOCK = 1024  # rows of the correlation matrix computed at once: bounded memory on 100k photos


def normalised_thumbnails(thumbnails: list[bytes | None]) -> np.ndarray:
    """Rows of zero mean and unit length, so a dot product is a correlation; missing -> zeros."""
    rows = np.zeros((len(thumbnails), 256), dtype=np.float32)
    for index, thumbnail in enumerate(thumbnails):
        if thumbnail:
            values = np.frombuffer(thumbnail, dtype=np.uint8).astype(np.float32)
            values -= values.mean()
            norm = np.linalg.norm(values)
            if norm > 1e-6:  # a flat frame (all black) is like nothing
                rows[index] = values / norm
    return rows


def group_ids(thumbnails: list[bytes | None], times: list[float | None], settings: BurstSettings) -> list[int]:
    """A group id per photo (photos alone get their own id)."""
    parent = list(range(len(thumbnails)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows = normalised_thumbnails(thumbnails)
    stamps = np.array([np.nan if t is None else t for t in times], dtype=np.float64)
    for start in range(0, len(rows), BLOCK):
        correlation = rows[start : start + BLOCK] @ rows.T
        close_in_time = np.abs(stamps[start : start + BLOCK, None] - stamps[None, :]) <= settings.seconds
        together = (correlation >= settings.duplicate_similarity) | (close_in_time & (correlation >= settings.similarity))
        for i, j in zip(*np.nonzero(together)):
            a, b = root(start + int(i)), root(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(parent))]


def mark_bursts(results: list, settings: BurstSettings) -> None:
    """Set `burst` and `best_of_burst` on results sorted best first (so the first of a group is its best)."""
    ids = group_ids([r.thumbnail for r in results], [r.captured_at for r in results], settings)
    sizes: dict[int, int] = {}
    for group in ids:
        sizes[group] = sizes.get(group, 0) + 1
    seen: set[int] = set()
    numbering: dict[int, int] = {}
    for result, group in zip(results, ids):
        result.best_of_burst = group not in seen
        seen.add(group)
        result.burst = numbering.setdefault(group, len(numbering) + 1) if sizes[group] > 1 else None
