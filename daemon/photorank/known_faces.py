"""Every cached face in memory: what a ranking finds the person in, with one matrix product.

    faces = KnownFaces(cache.stored_faces(key))
    embeddings, owners, face_numbers = faces.lookup(fingerprints)

Built from one bulk read of the cache (StoredFaces) and kept current as photos are analysed, so
a second ranking of a folder reads no analysis from disk until it judges the photos found.
"""

from __future__ import annotations

import threading

import numpy as np

from .cache import StoredFaces
from .records import ImageRecord


class KnownFaces:
    """Every cached face of one analysis key in memory: one float32 matrix and its owners.

    Built from one bulk read of the cache; kept current as images are analysed. A request asks
    for the rows of the images it looks at and finds the person with one matrix product.
    """

    def __init__(self, stored: StoredFaces):
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._next_id = 0
        self._errors: dict[int, str] = {}
        self._embeddings = np.zeros((0, 0), np.float32)
        self._owners = np.zeros(0, np.int32)
        self._face_numbers = np.zeros(0, np.int32)
        self._pending: list[StoredFaces] = []
        self.add(stored)

    def add(self, stored: StoredFaces) -> None:
        with self._lock:
            self._pending.append(stored)

    def _id_of(self, fingerprint: str) -> int:
        """The image's number; a fingerprint analysed again (another process) keeps only its new rows."""
        old = self._ids.get(fingerprint)
        if old is not None:
            self._owners[self._owners == old] = -1
            self._errors.pop(old, None)
        self._ids[fingerprint] = self._next_id
        self._next_id += 1
        return self._ids[fingerprint]

    def _consolidate(self) -> None:
        """Fold the images added since the last query into the matrix (called under the lock)."""
        if not self._pending:
            return
        embeddings, owners, numbers = [self._embeddings], [self._owners], [self._face_numbers]
        for stored in self._pending:
            ids = np.array([self._id_of(fp) for fp in stored.fingerprints], dtype=np.int32)
            self._errors.update((self._ids[fp], error) for fp, error in stored.errors.items())
            if len(stored.owners):
                embeddings.append(stored.embeddings)
                owners.append(ids[stored.owners])
                numbers.append(stored.face_numbers)
        embeddings = [matrix for matrix in embeddings if matrix.size]
        self._embeddings = np.concatenate(embeddings) if embeddings else self._embeddings
        self._owners = np.concatenate(owners)
        self._face_numbers = np.concatenate(numbers)
        self._pending.clear()

    def forget(self, fingerprints: set[str]) -> None:
        """Drop pruned images: their rows stay in the matrix but no longer belong to any image."""
        with self._lock:
            self._consolidate()
            for fp in fingerprints:
                number = self._ids.pop(fp, None)
                if number is not None:
                    self._errors.pop(number, None)
                    self._owners[self._owners == number] = -1

    def missing(self, fingerprints: set[str]) -> set[str]:
        with self._lock:
            self._consolidate()
            return {fp for fp in fingerprints if fp not in self._ids}

    def lookup(self, fingerprints: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The faces of these images: embeddings, owners (position in `fingerprints`), face numbers."""
        with self._lock:
            self._consolidate()
            ids = np.array([self._ids.get(fp, -1) for fp in fingerprints], dtype=np.int64)
            known = ids >= 0
            # Image id -> position in `fingerprints`; the extra last slot catches pruned rows (-1).
            position = np.full(self._next_id + 1, -1, dtype=np.int64)
            position[ids[known]] = np.nonzero(known)[0]
            rows = np.nonzero(position[self._owners] >= 0)[0]
            return self._embeddings[rows], position[self._owners[rows]].astype(np.int32), self._face_numbers[rows]

    def errors_of(self, fingerprints: set[str]) -> dict[str, str]:
        """fingerprint -> why that image could not be read, for those of `fingerprints` that could not."""
        with self._lock:
            self._consolidate()
            return {fp: self._errors[self._ids[fp]] for fp in fingerprints if self._ids.get(fp) in self._errors}

    def size(self) -> tuple[int, int]:
        """(faces, bytes) held in memory."""
        with self._lock:
            self._consolidate()
            return len(self._owners), self._embeddings.nbytes + self._owners.nbytes + self._face_numbers.nbytes


def stored_faces_of(file_fingerprint: str, record: ImageRecord) -> StoredFaces:
    """One freshly analysed image in the shape of a bulk read, for the index."""
    embeddings = np.stack([face.embedding for face in record.faces]).astype(np.float32) if record.faces else np.zeros((0, 0), np.float32)
    return StoredFaces(
        fingerprints=[file_fingerprint],
        owners=np.zeros(len(record.faces), np.int32),
        face_numbers=np.arange(len(record.faces), dtype=np.int32),
        embeddings=embeddings,
        errors={file_fingerprint: record.error} if record.error else {},
    )
