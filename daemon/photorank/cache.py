"""The face cache: one SQLite file (WAL) in the user cache dir, never anything in photo folders.

Two tables separate *where* a file is from *what* it contains:
- `files`: path -> size, mtime and a content fingerprint. An unchanged file (same size and mtime)
  is never opened again; a moved or renamed file is recognised by its fingerprint.
- `analyses` + `faces`: per (fingerprint, analysis key) the image facts and every face found.
  The analysis key names the engine, its models and the settings that change results, so
  switching engine or settings never mixes incompatible embeddings.
Each analysed image is committed on its own (file row and analysis together), so an interrupted
run resumes where it stopped and concurrent runs never see an analysis without its file.
The cache is only a cache: a stale layout is rebuilt; a damaged file (found at open or by any
later read) is moved aside with one log line and a new one started. It holds face embeddings
and photo paths, so it is made 0600, and its default folder 0700.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import platformdirs

from .errors import PhotorankError
from .records import DetectedFace, ImageRecord

log = logging.getLogger(__name__)

# Bump when the tables change: a cache of another version is dropped and rebuilt, never migrated.
SCHEMA_VERSION = 2
FINGERPRINT_CHUNK = 65536
# Another run using the same cache file holds the write lock for one image at a time; wait for it.
BUSY_TIMEOUT_MS = 30_000
# SQLite result codes that mean the file is not a usable database (SQLITE_CORRUPT, SQLITE_NOTADB).
_BROKEN_CODES = {11, 26}
# Bound parameters in one `IN (...)` query: far below SQLite's limit, large enough that 10 000
# paths take ten queries, not ten thousand.
BULK_CHUNK = 999

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


@dataclass(frozen=True)
class FileState:
    """What the cache remembers of a file: where it was seen, and whether its content is analysed."""

    size: int
    mtime_ns: int
    fingerprint: str
    analysed: bool  # an analysis exists for this fingerprint under the asked analysis key


@dataclass
class StoredFaces:
    """Every face of one analysis key, for the in-memory index: a bulk read of the whole cache."""

    fingerprints: list[str]  # every analysed content, faces or not
    owners: np.ndarray  # (faces,) int32: index into `fingerprints` of each face's image
    face_numbers: np.ndarray  # (faces,) int32: the face's index within its image
    embeddings: np.ndarray  # (faces, d) float32
    errors: dict[str, str]  # fingerprint -> why the image could not be read (stored analyses only)


def _chunks(items: list, size: int = BULK_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


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


def _recovering(method):
    """A cache method that, finding the file damaged, moves it aside, starts a new one and runs
    again (once): the caller gets an answer from the new, empty cache instead of an error."""

    @functools.wraps(method)
    def recovering(self: FaceCache, *args, **kwargs):
        generation = self._generation
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            if self.path == ":memory:" or not _is_broken(error):
                raise
            with self._lock:
                if self._generation == generation:  # not yet replaced by another thread
                    self._db = self._replace_broken(self._db, error)
        return method(self, *args, **kwargs)

    return recovering


def _private_file(path: str) -> None:
    """Create the cache file 0600 (SQLite gives its -wal and -shm the same mode), or make an
    existing one of ours so: it holds face embeddings and photo paths."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if folder == os.path.dirname(default_cache_path()):
        os.chmod(folder, 0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if os.stat(path).st_uid == os.getuid():
        os.chmod(path, 0o600)


class FaceCache:
    """Persistent store of analyses. Use `FaceCache(":memory:")` for a run that keeps nothing.

    Several runs may share one cache file: every write is one short transaction, and a run
    waits up to BUSY_TIMEOUT_MS for another to finish its write instead of failing. Within one
    process the object may be shared by threads (the daemon's requests and its indexing): every
    call holds the object's lock for the duration of its statements.
    """

    def __init__(self, path: str | None = None):
        self._lock = threading.RLock()
        self._generation = 0  # how many damaged files this object has replaced
        self.path = path or default_cache_path()
        db = self._connect()
        try:
            self._prepare(db)
        except sqlite3.DatabaseError as error:
            if self.path == ":memory:" or not _is_broken(error):
                db.close()
                raise self._unusable(error) from None
            db = self._replace_broken(db, error)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _unusable(self, error: Exception) -> Exception:
        """A cache that cannot be opened or written (a read-only folder, a full disk) as a sentence."""
        if isinstance(error, sqlite3.DatabaseError) and "locked" in str(error):
            return error
        reason = getattr(error, "strerror", None) or str(error)
        return PhotorankError(f"cannot use the face cache {self.path}: {reason}; make its folder writable, or name another file with --cache FILE")

    def _replace_broken(self, db: sqlite3.Connection, error: sqlite3.DatabaseError) -> sqlite3.Connection:
        """The cache is only a cache: keep the damaged file for inspection and start afresh.
        Moved while still open, as closing deletes a -wal that SQLite could not use."""
        try:
            moved = _move_aside(self.path)
        except OSError:  # an open file cannot be renamed everywhere
            db.close()
            moved = _move_aside(self.path)
        finally:
            db.close()
        log.warning("the face cache %s is damaged (%s); moved it to %s and starting a new one", self.path, error, moved)
        fresh = self._connect()
        try:
            self._prepare(fresh)
        except BaseException:
            fresh.close()
            raise
        self._generation += 1
        return fresh

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.path != ":memory:":
                _private_file(self.path)
            # Each write opens its own transaction; the lock, not SQLite's thread check, serialises threads.
            return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.OperationalError) as error:
            raise self._unusable(error) from None

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._use_wal(db)  # the first read: a file that is no database fails here
        db.execute("PRAGMA synchronous=NORMAL")
        if not self._schema_is_current(db):
            with _transaction(db):
                if not self._schema_is_current(db):  # another run may have rebuilt it meanwhile
                    self._rebuild(db)
        db.execute("PRAGMA foreign_keys=ON")

    @staticmethod
    def _use_wal(db: sqlite3.Connection) -> None:
        """Switch to WAL, waiting for another run that opens the same new file at this moment:
        SQLite answers 'locked' here without calling its busy handler."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

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
        with self._lock:
            self._db.close()

    # --- files -----------------------------------------------------------------------------

    @_recovering
    def file_states(self, paths: list[str], analysis_key: str) -> dict[str, FileState]:
        """What is remembered of each of `paths` (those never seen are absent): a few bulk queries."""
        states: dict[str, FileState] = {}
        with self._lock, _transaction(self._db, "BEGIN"):
            for chunk in _chunks([os.fsencode(path) for path in paths]):
                rows = self._db.execute(
                    "SELECT f.path, f.size, f.mtime_ns, f.fingerprint, a.fingerprint IS NOT NULL FROM files f "
                    "LEFT JOIN analyses a ON a.fingerprint = f.fingerprint AND a.analysis_key = ? "
                    f"WHERE f.path IN ({_placeholders(len(chunk))})",
                    (analysis_key, *chunk),
                )
                for path, size, mtime_ns, file_fingerprint, analysed in rows:
                    states[os.fsdecode(path)] = FileState(size, mtime_ns, file_fingerprint, bool(analysed))
        return states

    @_recovering
    def analysed(self, fingerprints: list[str], analysis_key: str) -> set[str]:
        """Those of `fingerprints` that have an analysis under `analysis_key`."""
        found: set[str] = set()
        with self._lock:
            for chunk in _chunks(fingerprints):
                found.update(
                    row[0]
                    for row in self._db.execute(
                        f"SELECT fingerprint FROM analyses WHERE analysis_key = ? AND fingerprint IN ({_placeholders(len(chunk))})",
                        (analysis_key, *chunk),
                    )
                )
        return found

    @_recovering
    def remember_file(self, path: str, size: int, mtime_ns: int, file_fingerprint: str) -> bool:
        """Note where a known content is now (a moved, renamed or touched file). False when its
        analysis has gone meanwhile (another run pruned it): the caller analyses it again."""
        with self._lock, _transaction(self._db):
            if self._db.execute("SELECT 1 FROM analyses WHERE fingerprint=? LIMIT 1", (file_fingerprint,)).fetchone() is None:
                return False
            self._db.execute(
                "INSERT OR REPLACE INTO files(path, size, mtime_ns, fingerprint) VALUES (?,?,?,?)",
                (os.fsencode(path), size, mtime_ns, file_fingerprint),
            )
        return True

    @_recovering
    def prune(self, folders: Iterable[str], present: set[str]) -> set[str]:
        """Forget files under `folders` that no longer exist, and analyses no file refers to.
        Returns the fingerprints whose analyses were dropped."""
        present_keys = {os.fsencode(path) for path in present}
        gone: list[tuple[bytes]] = []
        with self._lock:
            for folder in folders:
                # Bytewise prefix match: every key from `prefix` up to, not including, the prefix
                # with its last byte (the separator) raised by one.
                prefix = os.fsencode(os.path.join(folder, ""))
                after = prefix[:-1] + bytes([prefix[-1] + 1])
                rows = self._db.execute("SELECT path FROM files WHERE path >= ? AND path < ?", (prefix, after))
                gone += [(key,) for (key,) in rows if key not in present_keys and not os.path.exists(key)]
            if not gone:
                return set()
            with _transaction(self._db):
                self._db.executemany("DELETE FROM files WHERE path=?", gone)
                orphans = "SELECT fingerprint FROM analyses WHERE fingerprint NOT IN (SELECT fingerprint FROM files)"
                dropped = {row[0] for row in self._db.execute(orphans)}
                self._db.execute(f"DELETE FROM analyses WHERE fingerprint IN ({orphans})")
        return dropped

    @_recovering
    def stale_paths(self, analysis_key: str) -> list[str]:
        """The files whose content has no analysis under `analysis_key` (only under another
        engine or settings), in path order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path FROM files f WHERE NOT EXISTS "
                "(SELECT 1 FROM analyses a WHERE a.fingerprint = f.fingerprint AND a.analysis_key = ?) ORDER BY path",
                (analysis_key,),
            ).fetchall()
        return [os.fsdecode(path) for (path,) in rows]

    # --- analyses ------------------------------------------------------------------------------

    @_recovering
    def load_many(self, fingerprints: dict[str, str], analysis_key: str) -> dict[str, ImageRecord]:
        """path -> its whole record, for every path of `fingerprints` (path -> fingerprint) whose
        content is analysed; in bulk, from one snapshot (another run may prune or store meanwhile)."""
        wanted = sorted(set(fingerprints.values()))
        images: dict[str, tuple] = {}
        faces: dict[str, list[DetectedFace]] = {}
        with self._lock, _transaction(self._db, "BEGIN"):
            for chunk in _chunks(wanted):
                marks = _placeholders(len(chunk))
                for row in self._db.execute(
                    "SELECT fingerprint, width, height, orientation, captured_at, image_signals, thumbnail, error "
                    f"FROM analyses WHERE analysis_key = ? AND fingerprint IN ({marks})",
                    (analysis_key, *chunk),
                ):
                    images[row[0]] = row[1:]
                for file_fingerprint, x, y, w, h, score, embedding, landmarks, signals in self._db.execute(
                    "SELECT fingerprint, x, y, w, h, detector_score, embedding, landmarks, signals FROM faces "
                    f"WHERE analysis_key = ? AND fingerprint IN ({marks}) ORDER BY fingerprint, face_index",
                    (analysis_key, *chunk),
                ):
                    faces.setdefault(file_fingerprint, []).append(
                        DetectedFace(
                            box=(x, y, w, h),
                            detector_score=score,
                            embedding=np.frombuffer(embedding, dtype=np.float32).copy(),
                            landmarks=None if landmarks is None else np.frombuffer(landmarks, dtype=np.float32).reshape(-1, 2).copy(),
                            signals=json.loads(signals),
                        )
                    )
        records = {}
        for path, file_fingerprint in fingerprints.items():
            if file_fingerprint not in images:
                continue
            width, height, orientation, captured_at, image_signals, thumbnail, error = images[file_fingerprint]
            records[path] = ImageRecord(
                path=path,
                width=width,
                height=height,
                orientation=orientation,
                captured_at=captured_at,
                faces=faces.get(file_fingerprint, []),
                image_signals=json.loads(image_signals) if image_signals else {},
                thumbnail=thumbnail,
                error=error,
            )
        return records

    @_recovering
    def stored_faces(self, analysis_key: str, fingerprints: list[str] | None = None) -> StoredFaces:
        """The embeddings of every analysed image (or of `fingerprints`) under `analysis_key`,
        as one matrix: what the daemon keeps in memory to find a person with one product."""
        with self._lock, _transaction(self._db, "BEGIN"):
            if fingerprints is None:
                analyses = self._db.execute(
                    "SELECT fingerprint, error FROM analyses WHERE analysis_key = ? ORDER BY fingerprint", (analysis_key,)
                ).fetchall()
                face_rows = list(self._db.execute(
                    "SELECT fingerprint, face_index, embedding FROM faces WHERE analysis_key = ? ORDER BY fingerprint, face_index",
                    (analysis_key,),
                ))
            else:
                analyses = []
                for chunk in _chunks(sorted(set(fingerprints))):
                    analyses += self._db.execute(
                        f"SELECT fingerprint, error FROM analyses WHERE analysis_key = ? AND fingerprint IN ({_placeholders(len(chunk))})",
                        (analysis_key, *chunk),
                    ).fetchall()
                face_rows = []
                for chunk in _chunks([row[0] for row in analyses]):
                    face_rows += self._db.execute(
                        "SELECT fingerprint, face_index, embedding FROM faces WHERE analysis_key = ? "
                        f"AND fingerprint IN ({_placeholders(len(chunk))}) ORDER BY fingerprint, face_index",
                        (analysis_key, *chunk),
                    ).fetchall()
        analysed = [row[0] for row in analyses]
        position = {file_fingerprint: index for index, file_fingerprint in enumerate(analysed)}
        embeddings = np.frombuffer(b"".join(row[2] for row in face_rows), dtype=np.float32)
        dimensions = len(face_rows[0][2]) // 4 if face_rows else 0
        return StoredFaces(
            fingerprints=analysed,
            owners=np.fromiter((position[row[0]] for row in face_rows), dtype=np.int32, count=len(face_rows)),
            face_numbers=np.fromiter((row[1] for row in face_rows), dtype=np.int32, count=len(face_rows)),
            embeddings=embeddings.reshape(len(face_rows), dimensions) if face_rows else np.zeros((0, 0), np.float32),
            errors={file_fingerprint: error for file_fingerprint, error in analyses if error},
        )

    @_recovering
    def counts(self, analysis_key: str) -> tuple[int, int, int]:
        """(files known, images analysed under the key, faces stored under the key)."""
        with self._lock:
            files = self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            images = self._db.execute("SELECT COUNT(*) FROM analyses WHERE analysis_key = ?", (analysis_key,)).fetchone()[0]
            faces = self._db.execute("SELECT COUNT(*) FROM faces WHERE analysis_key = ?", (analysis_key,)).fetchone()[0]
        return files, images, faces

    @_recovering
    def store(
        self, path: str, size: int, mtime_ns: int, file_fingerprint: str, analysis_key: str, record: ImageRecord
    ) -> None:
        """Remember the file at `path` and its analysis, in one transaction.

        Written together, another run's `prune` can never see the analysis without the file
        that refers to it (and delete it as orphaned). Each call commits: an interrupted run
        keeps everything stored so far.
        """
        with self._lock, _transaction(self._db):
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
