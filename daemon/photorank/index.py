"""Stages 1-3 over a whole collection: sync the face cache with the files on disk.

For each file: unchanged since last seen -> answered from the cache without opening it;
moved or renamed -> recognised by its fingerprint, not decoded; new or changed -> loaded,
faces found and measured in a pool of worker processes (one engine per process, loaded once).
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
from stat import S_ISREG
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .cache import FaceCache, fingerprint
from .collection import check_paths, is_folder
from .config import load_config
from .faces import EngineUnavailable, FaceEngine, load_engine
from .images import ImageError, is_image_path, load_image
from .models import ModelUnavailable
from .records import DetectedFace, ImageRecord

# Part of every analysis key, so cached analyses made under another version are never used.
# Bump it whenever the same engine and settings would now store something different for an
# image: a signal added, removed or computed differently (face or image signals), a change in
# detection, rescaling, orientation or thumbnail, or in what ImageRecord/DetectedFace hold.
# Engine models and signal settings are in the key already; cache.SCHEMA_VERSION covers tables.
# 2: the signals changed since version 1.
ANALYSIS_VERSION = 2

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class EngineChoice:
    """What a worker process needs to build the same engine as the parent."""

    name: str
    options: tuple[tuple[str, object], ...] = ()

    def build(self) -> FaceEngine:
        return load_engine(self.name, **dict(self.options))


def collect_images(paths: Iterable[str], recursive: bool = False) -> tuple[list[str], list[str]]:
    """Image files named or found in folders (absolute paths, sorted), and the folders scanned.

    Raises PathNotFound for a named path that does not exist. A broken symbolic link with a
    photo's name (dangling, or a loop) is listed, so that it is reported as that file's error.
    """
    paths = list(paths)
    check_paths(paths)
    files: set[str] = set()
    folders: list[str] = []
    for path in paths:
        path = os.path.abspath(path)
        if os.path.isdir(path):
            folders.append(path)
            if recursive:
                for root, dirnames, filenames in os.walk(path):
                    dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                    files.update(os.path.join(root, name) for name in filenames if is_image_path(name))
            else:
                with os.scandir(path) as entries:
                    files.update(entry.path for entry in entries if is_image_path(entry.name) and not is_folder(entry))
        else:
            files.add(path)  # named explicitly: analysed whatever its extension, errors reported
    return sorted(files), folders


def analysis_key(engine: FaceEngine, signal_settings: dict) -> str:
    """Everything that changes what an analysis contains: engine, models, analysis size, signals."""
    signals_digest = hashlib.blake2b(json.dumps(signal_settings, sort_keys=True).encode(), digest_size=4).hexdigest()
    return f"{engine.id}|{engine.settings_key}|signals-{signals_digest}|v{ANALYSIS_VERSION}"


def analyse(path: str, engine: FaceEngine, signal_settings: dict | None = None) -> ImageRecord:
    """Load one image, find its faces and measure them. Coordinates are stored at full size."""
    from . import signals

    try:
        image = load_image(path, max_side=engine.max_side)
    except ImageError as error:
        return ImageRecord(path=path, error=str(error))
    faces = engine.detect(image.pixels)
    for face in faces:
        face.signals = {**signals.measure_face(image.pixels, face, signal_settings), "confidence": engine.confidence(face.detector_score)}
    to_full = 1.0 / image.scale
    return ImageRecord(
        path=path,
        width=image.full_width,
        height=image.full_height,
        orientation=image.orientation,
        captured_at=image.captured_at,
        faces=[_rescaled(face, to_full) for face in faces],
        image_signals=signals.measure_image(image.pixels),
        thumbnail=make_thumbnail(image.pixels),
    )


THUMBNAIL_SIDE = 16


def make_thumbnail(pixels: np.ndarray) -> bytes:
    """A 16x16 grey picture of the whole frame: enough to tell a burst frame from another scene."""
    from PIL import Image

    grey = Image.fromarray(pixels).convert("L")
    return grey.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX).tobytes()


def _rescaled(face: DetectedFace, factor: float) -> DetectedFace:
    if abs(factor - 1.0) < 1e-9:
        return face
    x, y, w, h = face.box
    return DetectedFace(
        box=(round(x * factor), round(y * factor), round(w * factor), round(h * factor)),
        detector_score=face.detector_score,
        embedding=face.embedding,
        landmarks=None if face.landmarks is None else (face.landmarks * factor).astype(np.float32),
        signals=face.signals,
    )


class Indexer:
    """Keeps a FaceCache in step with the files, analysing only what it does not know yet."""

    def __init__(
        self, cache: FaceCache, engine_choice: EngineChoice, signal_settings: dict, workers: int | None = None
    ):
        self.cache = cache
        self.engine_choice = engine_choice
        self.signal_settings = signal_settings  # the [signals] and [expression] config sections
        self.engine = engine_choice.build()  # cheap: models load on first detect()
        self.key = analysis_key(self.engine, signal_settings)
        self.workers = workers or os.cpu_count() or 1

    def sync(self, paths: list[str], progress: Progress | None = None) -> dict[str, ImageRecord]:
        """Records for every path, analysing new and changed files; errors are per-file records."""
        records: dict[str, ImageRecord] = {}
        pending: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, fingerprint)
        for path in paths:
            try:
                stat = os.stat(path)
                if not S_ISREG(stat.st_mode):
                    raise IsADirectoryError(path)
                known = self.cache.known_fingerprint(path, stat.st_size, stat.st_mtime_ns)
                file_fingerprint = known or fingerprint(path, stat.st_size)
            except OSError as error:
                records[path] = ImageRecord(path=path, error=_os_error_text(error))
                continue
            cached = self.cache.load(file_fingerprint, self.key, path)
            if cached is not None:
                records[path] = cached
                if known is None:  # moved, renamed or touched: remember where it is now
                    # Stored again with the file row, in one transaction: should another run
                    # prune the analysis meanwhile (its old path gone), it is written back.
                    self.cache.store(path, stat.st_size, stat.st_mtime_ns, file_fingerprint, self.key, cached)
            else:
                pending[path] = (stat.st_size, stat.st_mtime_ns, file_fingerprint)
        done = len(paths) - len(pending)
        if progress:
            progress(done, len(paths))
        if pending:
            from . import signals

            signals.prepare(self.signal_settings)
        for record, lasting in self._analyse_all(list(pending)):
            size, mtime_ns, file_fingerprint = pending[record.path]
            if lasting:  # the analysis and the file row in one transaction
                self.cache.store(record.path, size, mtime_ns, file_fingerprint, self.key, record)
            records[record.path] = record
            done += 1
            if progress:
                progress(done, len(paths))
        return records

    def _analyse_all(self, paths: list[str]) -> Iterable[tuple[ImageRecord, bool]]:
        if len(paths) <= 1 or self.workers <= 1:
            for path in paths:
                yield _analyse_guarded(path, self.engine, self.signal_settings)
            return
        context = multiprocessing.get_context("forkserver")
        with context.Pool(min(self.workers, len(paths)), _start_worker, (self.engine_choice, self.signal_settings)) as pool:
            # Small chunks keep both cores busy to the end and the progress bar honest.
            yield from pool.imap_unordered(_analyse_in_worker, paths, chunksize=1)


def _analyse_guarded(path: str, engine: FaceEngine, signal_settings: dict) -> tuple[ImageRecord, bool]:
    """The record, and whether it may be cached.

    A file that breaks a decoder or engine in an unforeseen way is that file's error, not the
    batch's; such an error is not cached, so the next run tries the file again.
    """
    try:
        return analyse(path, engine, signal_settings), True
    except (EngineUnavailable, ModelUnavailable):
        raise  # a model cannot run at all: stop the run with its message, not fail every photo
    except MemoryError:
        return ImageRecord(path=path, error="out of memory while analysing"), False
    except Exception as error:  # noqa: BLE001 - reported per file, the batch goes on
        return ImageRecord(path=path, error=f"analysis failed: {type(error).__name__}: {error}"), False


_worker_engine: FaceEngine | None = None
_worker_signal_settings: dict = {}


def _start_worker(choice: EngineChoice, signal_settings: dict) -> None:
    global _worker_engine, _worker_signal_settings
    import cv2
    from threadpoolctl import threadpool_limits

    # One worker per core already: the thread pools of OpenCV, OpenBLAS and OpenMP would only contend.
    cv2.setNumThreads(1)
    threadpool_limits(1)
    _worker_engine = choice.build()
    _worker_signal_settings = signal_settings


def _analyse_in_worker(path: str) -> tuple[ImageRecord, bool]:
    assert _worker_engine is not None
    return _analyse_guarded(path, _worker_engine, _worker_signal_settings)


def _os_error_text(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop (too many levels of symbolic links)"
    if isinstance(error, FileNotFoundError):
        if error.filename and os.path.islink(error.filename):
            return f"broken symbolic link: it points to {os.readlink(error.filename)}, which does not exist"
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "not a file"
    if isinstance(error, PermissionError):
        return "permission denied"
    return f"cannot read: {error.strerror or error}"


def index_paths(
    paths: list[str],
    *,
    recursive: bool = False,
    engine: str = "auto",
    cache_path: str | None = None,
    workers: int | None = None,
    config: dict[str, dict] | None = None,
    progress: Progress | None = None,
) -> tuple[FaceEngine, dict[str, ImageRecord]]:
    """Sync the cache with the photos in `paths`, returning the engine and every record."""
    files, folders = collect_images(paths, recursive)
    return index_files(files, folders, engine, cache_path, workers, config or load_config(), progress)


def index_files(
    files: list[str],
    folders: list[str],
    engine: str,
    cache_path: str | None,
    workers: int | None,
    config: dict[str, dict],
    progress: Progress | None = None,
    extra_files: list[str] = (),
) -> tuple[FaceEngine, dict[str, ImageRecord]]:
    """Sync the cache with `files` (and `extra_files`, such as references elsewhere); forget
    what has gone from `folders`."""
    wanted = sorted(set(files) | {os.path.abspath(path) for path in extra_files})
    cache = FaceCache(cache_path)
    try:
        signal_settings = {"signals": config["signals"], "expression": config["expression"]}
        indexer = Indexer(cache, engine_choice(engine, config), signal_settings, workers)
        records = indexer.sync(wanted, progress)
        cache.prune(folders, set(files))
    finally:
        cache.close()
    return indexer.engine, records


def engine_choice(name: str, config: dict[str, dict]) -> EngineChoice:
    """The engine settings of the config; empty strings mean 'the engine's own default'."""
    options = {**config["analysis"], **config["dlib"], **config["insightface"]}
    return EngineChoice(name, tuple(sorted((key, value) for key, value in options.items() if value != "")))
