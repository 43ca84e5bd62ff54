"""The face cache: one SQLite file (WAL) in the user cache dir, never anything in photo folders.

Two tables separate *where* a file is from *what* it contains:
- `files`: path -> size, mtime and a content fingerprint. An unchanged file (same size and mtime)
  is never opened again; a moved or renamed file is recognised by its fingerprint.
- `analyses` + `faces`: per (fingerprint, analysis key) the image facts and every face found.
  The analysis key names the engine, its models and the settings that change results, so
  switching engine or settings never mixes incompatible embeddings.
Each analysed image is committed on its own (file row and analysis together), so an interrupted
run resumes where it stopped and concurrent runs never see an analysis without its file.
The cache is only a cache: a stale layout is rebuilt, an unreadable file moved aside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable

import numpy as np
import platformdirs

from .records import DetectedFace, ImageRecord

# Bump when the tables change: a cache of another version is dropped and rebuilt, never migrated.
SCHEMA_VERSION = 2
FINGERPRINT_CHUNK = 65536
# Another run using the same cache file holds the write lock for one image at a time; wait for it.
BUSY_TIMEOUT_MS = 30_000
# SQLite result codes that mean the file is not a usable database (SQLITE_CORRUPT, SQLITE_NOTADB).
_BROKEN_CODES = {11, 26}

# `files.path` is the file name's bytes (os.fsencode), so any name the file system allows fits,
# including names that are not valid UTF-8; the public API takes and returns str.
SCHEMA = """
CREATE TABLE files (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX files_by_fingerprint ON files(fingerprint);
CREATE TABLE analyses (
    fingerprint TEXT NOT NULL,
    analysis_key TEXT NOT NULL,
    width INTEGER, height INTEGER, orientation INTEGER,
    captured_at REAL,
    image_signals TEXT,
    thumbnail BLOB,
    error TEXT,
    PRIMARY KEY (fingerprint, analysis_key)
);
CREATE TABLE faces (
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
)
"""
TABLES = {"files", "analyses", "faces"}


def default_cache_path() -> str:
    return os.path.join(platformdirs.user_cache_dir("photorank"), "faces.sqlite")


def fingerprint(path: str | bytes, size: int) -> str:
    """A cheap content fingerprint: the size and the first, middle and last 64 KiB.

    Reads at most 192 KiB, so recognising a moved file costs far less than decoding it. The
    middle chunk tells apart uncompressed files (BMP, TIFF) of one size that differ only inside.
    """
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        if size <= 3 * FINGERPRINT_CHUNK:
            digest.update(handle.read())
        else:
            digest.update(handle.read(FINGERPRINT_CHUNK))
            handle.seek((size - FINGERPRINT_CHUNK) // 2)
            digest.update(handle.read(FINGERPRINT_CHUNK))
            handle.seek(-FINGERPRINT_CHUNK, os.SEEK_END)
            digest.update(handle.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()


def _is_broken(error: sqlite3.DatabaseError) -> bool:
    """Whether an error says the file is damaged or no database (not merely locked or busy)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BROKEN_CODES
    return type(error) is sqlite3.DatabaseError


def _move_aside(path: str) -> str:
    """Rename a broken cache file and its -wal/-shm companions; return the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = f"{path}.broken-{stamp}"
    suffix = 1
    while os.path.exists(target):
        suffix += 1
        target = f"{path}.broken-{stamp}-{suffix}"
    for companion in ("", "-wal", "-shm"):
        try:
            os.replace(path + companion, target + companion)
        except FileNotFoundError:
            pass  # no such companion, or another run moved it first
    return target


class FaceCache:
    """Persistent store of analyses. Use `FaceCache(":memory:")` for a run that keeps nothing.

    Several runs may share one cache file: every write is one short transaction, and a run
    waits up to BUSY_TIMEOUT_MS for another to finish its write instead of failing.
    """

    def __init__(self, path: str | None = None):
        self.path = path or default_cache_path()
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)  # each write opens its own transaction
        try:
            self._prepare(db)
        except sqlite3.DatabaseError as error:
            if self.path == ":memory:" or not _is_broken(error):
                db.close()
                raise
            # The cache is only a cache: keep the damaged file for inspection and start afresh.
            # Moved while still open, as closing deletes a -wal that SQLite could not use.
            try:
                moved = _move_aside(self.path)
            except OSError:  # an open file cannot be renamed everywhere
                db.close()
                moved = _move_aside(self.path)
            finally:
                db.close()
            print(f"photorank: warning: the face cache {self.path} is broken ({error}); moved it to {moved} "
                  f"and starting a new one", file=sys.stderr)
            db = sqlite3.connect(self.path, isolation_level=None)
            try:
                self._prepare(db)
            except BaseException:
                db.close()
                raise
        except BaseException:
            db.close()
            raise
        self._db = db

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode=WAL")  # the first read: a file that is no database fails here
        db.execute("PRAGMA synchronous=NORMAL")
        if not self._schema_is_current(db):
            with _transaction(db):
                if not self._schema_is_current(db):  # another run may have rebuilt it meanwhile
                    self._rebuild(db)
        db.execute("PRAGMA foreign_keys=ON")

    @staticmethod
    def _schema_is_current(db: sqlite3.Connection) -> bool:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return version == SCHEMA_VERSION and TABLES <= tables

    @staticmethod
    def _rebuild(db: sqlite3.Connection) -> None:
        """Drop whatever an older (or newer, or unknown) layout left and create the tables.

        A new file at version 0 has no tables and simply gets them; a file at version 0 that
        has tables, or at any other version, is stale and starts empty.
        """
        stale = db.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for kind, name in stale:
            db.execute(f'DROP {kind.upper()} IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"')
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    # --- files -----------------------------------------------------------------------------

    def known_fingerprint(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The stored fingerprint when the file is unchanged since it was last seen."""
        row = self._db.execute(
            "SELECT fingerprint FROM files WHERE path=? AND size=? AND mtime_ns=?",
            (os.fsencode(path), size, mtime_ns),
        ).fetchone()
        return row[0] if row else None

    def prune(self, folders: Iterable[str], present: set[str]) -> int:
        """Forget files under `folders` that no longer exist, and analyses no file refers to."""
        present_keys = {os.fsencode(path) for path in present}
        gone: list[tuple[bytes]] = []
        for folder in folders:
            # Bytewise prefix match: every key from `prefix` up to, not including, the prefix
            # with its last byte (the separator) raised by one.
            prefix = os.fsencode(os.path.join(folder, ""))
            after = prefix[:-1] + bytes([prefix[-1] + 1])
            rows = self._db.execute("SELECT path FROM files WHERE path >= ? AND path < ?", (prefix, after))
            gone += [(key,) for (key,) in rows if key not in present_keys and not os.path.exists(key)]
        with _transaction(self._db):
            self._db.executemany("DELETE FROM files WHERE path=?", gone)
            self._db.execute("DELETE FROM analyses WHERE fingerprint NOT IN (SELECT fingerprint FROM files)")
        return len(gone)

    # --- analyses ------------------------------------------------------------------------------

    def load(self, file_fingerprint: str, analysis_key: str, path: str) -> ImageRecord | None:
        with _transaction(self._db, "BEGIN"):  # one snapshot: another run may prune or store meanwhile
            return self._load(file_fingerprint, analysis_key, path)

    def _load(self, file_fingerprint: str, analysis_key: str, path: str) -> ImageRecord | None:
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

    def store(
        self, path: str, size: int, mtime_ns: int, file_fingerprint: str, analysis_key: str, record: ImageRecord
    ) -> None:
        """Remember the file at `path` and its analysis, in one transaction.

        Written together, another run's `prune` can never see the analysis without the file
        that refers to it (and delete it as orphaned). Each call commits: an interrupted run
        keeps everything stored so far.
        """
        with _transaction(self._db):
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
            self._db.execute(
                "INSERT OR REPLACE INTO files(path, size, mtime_ns, fingerprint) VALUES (?,?,?,?)",
                (os.fsencode(path), size, mtime_ns, file_fingerprint),
            )


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE"):
    """One transaction; by default a write. IMMEDIATE takes the write lock first, so a concurrent
    writer makes this wait (busy_timeout) rather than fail half-way with "database is locked"."""
    db.execute(begin)
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
