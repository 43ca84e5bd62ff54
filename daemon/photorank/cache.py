"""The face cache: one SQLite file (WAL) in the user cache dir, never anything in photo folders.

Two tables separate *where* a file is from *what* it contains:
- `files`: path -> size, mtime and a content fingerprint. An unchanged file (same size and mtime)
  is never opened again; a moved or renamed file is recognised by its fingerprint.
- `analyses` + `faces`: per (fingerprint, analysis key) the image facts and every face found.
  The analysis key names the engine, its models and the settings that change results, so
  switching engine or settings never mixes incompatible embeddings.
Each analysed image is committed on its own, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable

import numpy as np
import platformdirs

from .records import DetectedFace, ImageRecord

SCHEMA_VERSION = 1
FINGERPRINT_CHUNK = 65536

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_fingerprint ON files(fingerprint);
CREATE TABLE IF NOT EXISTS analyses (
    fingerprint TEXT NOT NULL,
    analysis_key TEXT NOT NULL,
    width INTEGER, height INTEGER, orientation INTEGER,
    captured_at REAL,
    image_signals TEXT,
    thumbnail BLOB,
    error TEXT,
    PRIMARY KEY (fingerprint, analysis_key)
);
CREATE TABLE IF NOT EXISTS faces (
    fingerprint TEXT NOT NULL,
    analysis_key TEXT NOT NULL,
    face_index INTEGER NOT NULL,
    x INTEGER, y INTEGER, w INTEGER, h INTEGER,
    detector_score REAL,
    embedding BLOB,
    landmarks BLOB,
    signals TEXT,
    PRIMARY KEY (fingerprint, analysis_key, face_index),
    FOREIGN KEY (fingerprint, analysis_key) REFERENCES analyses ON DELETE CASCADE
);
"""


def default_cache_path() -> str:
    return os.path.join(platformdirs.user_cache_dir("photorank"), "faces.sqlite")


def fingerprint(path: str, size: int) -> str:
    """A cheap content fingerprint: the size and the first and last 64 KiB.

    Reads at most 128 KiB, so recognising a moved file costs far less than decoding it.
    """
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        digest.update(handle.read(FINGERPRINT_CHUNK))
        if size > 2 * FINGERPRINT_CHUNK:
            handle.seek(-FINGERPRINT_CHUNK, os.SEEK_END)
            digest.update(handle.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()


class FaceCache:
    """Persistent store of analyses. Use `FaceCache(":memory:")` for a run that keeps nothing."""

    def __init__(self, path: str | None = None):
        self.path = path or default_cache_path()
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            # An older layout: the cache is only a cache, so start afresh rather than migrate.
            self._db.executescript("DROP TABLE IF EXISTS faces; DROP TABLE IF EXISTS analyses; DROP TABLE IF EXISTS files;")
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    # --- files -----------------------------------------------------------------------------

    def known_fingerprint(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The stored fingerprint when the file is unchanged since it was last seen."""
        row = self._db.execute(
            "SELECT fingerprint FROM files WHERE path=? AND size=? AND mtime_ns=?", (path, size, mtime_ns)
        ).fetchone()
        return row[0] if row else None

    def remember_file(self, path: str, size: int, mtime_ns: int, file_fingerprint: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files(path, size, mtime_ns, fingerprint) VALUES (?,?,?,?)",
            (path, size, mtime_ns, file_fingerprint),
        )
        self._db.commit()

    def prune(self, folders: Iterable[str], present: set[str]) -> int:
        """Forget files under `folders` that no longer exist, and analyses no file refers to."""
        removed = 0
        for folder in folders:
            prefix = os.path.join(folder, "")
            rows = self._db.execute(
                "SELECT path FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
            gone = [(path,) for (path,) in rows if path not in present and not os.path.exists(path)]
            self._db.executemany("DELETE FROM files WHERE path=?", gone)
            removed += len(gone)
        self._db.execute(
            "DELETE FROM analyses WHERE fingerprint NOT IN (SELECT fingerprint FROM files)"
        )
        self._db.commit()
        return removed

    # --- analyses ------------------------------------------------------------------------------

    def load(self, file_fingerprint: str, analysis_key: str, path: str) -> ImageRecord | None:
        row = self._db.execute(
            "SELECT width, height, orientation, captured_at, image_signals, thumbnail, error FROM analyses "
            "WHERE fingerprint=? AND analysis_key=?",
            (file_fingerprint, analysis_key),
        ).fetchone()
        if row is None:
            return None
        width, height, orientation, captured_at, image_signals, thumbnail, error = row
        faces = [
            DetectedFace(
                box=(x, y, w, h),
                detector_score=score,
                embedding=np.frombuffer(embedding, dtype=np.float32).copy(),
                landmarks=None if landmarks is None else np.frombuffer(landmarks, dtype=np.float32).reshape(-1, 2).copy(),
                signals=json.loads(signals),
            )
            for x, y, w, h, score, embedding, landmarks, signals in self._db.execute(
                "SELECT x, y, w, h, detector_score, embedding, landmarks, signals FROM faces "
                "WHERE fingerprint=? AND analysis_key=? ORDER BY face_index",
                (file_fingerprint, analysis_key),
            )
        ]
        return ImageRecord(
            path=path,
            width=width,
            height=height,
            orientation=orientation,
            captured_at=captured_at,
            faces=faces,
            image_signals=json.loads(image_signals) if image_signals else {},
            thumbnail=thumbnail,
            error=error,
        )

    def store(self, file_fingerprint: str, analysis_key: str, record: ImageRecord) -> None:
        with self._db:
            self._db.execute(
                "DELETE FROM analyses WHERE fingerprint=? AND analysis_key=?", (file_fingerprint, analysis_key)
            )
            self._db.execute(
                "INSERT INTO analyses VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    file_fingerprint, analysis_key, record.width, record.height, record.orientation,
                    record.captured_at, json.dumps(record.image_signals), record.thumbnail, record.error,
                ),
            )
            self._db.executemany(
                "INSERT INTO faces VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        file_fingerprint, analysis_key, index, *face.box, face.detector_score,
                        np.asarray(face.embedding, dtype=np.float32).tobytes(),
                        None if face.landmarks is None else np.asarray(face.landmarks, dtype=np.float32).tobytes(),
                        json.dumps(face.signals),
                    )
                    for index, face in enumerate(record.faces)
                ],
            )
