"""Stages 1-3 for one file, and what analysing a collection needs around them.

`collect_images` turns the user's paths into image files; `analyse` loads one image, finds its
faces and measures them (run in worker processes, one engine per process, loaded once, chosen
by `engine_choice`); `analysis_key` names everything that changes what an analysis holds. The
worker pool (workers.py) runs these; the Library (library.py) keeps the face cache in step with
the files.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from .collection import is_folder
from .faces import EngineUnavailable, FaceEngine, engines, load_engine, onnx_providers
from .images import ImageError, is_image_path, load_image
from .models import ModelUnavailable
from .records import DetectedFace, ImageRecord
from .settings import MeasuringSettings, Settings

# Part of every analysis key, so cached analyses made under another version are never used.
# Bump it whenever the same engine and settings would now store something different for an
# image: a change in detection, rescaling, orientation or thumbnail, or in what
# ImageRecord/DetectedFace hold. Engine models and signal settings are in the key already, and so
# are the signals (each row's version, signals.registry_key()); cache.SCHEMA_VERSION covers tables.
# 2: the signals changed since version 1. 3: blockiness; smile-aware eyes; edge_cut from the face's extent.
# 4: images shrunk to the analysis size by an area average (was Lanczos); the thumbnail from OpenCV's grey.
ANALYSIS_VERSION = 4


@dataclass(frozen=True)
class EngineChoice:
    """What a worker process needs to build the same engine as the parent."""

    name: str
    options: tuple[tuple[str, object], ...] = ()

    def build(self) -> FaceEngine:
        return load_engine(self.name, **dict(self.options))


def collect_images(paths: Iterable[str], recursive: bool = False) -> tuple[list[str], list[str]]:
    """Image files named or found in folders (absolute paths, sorted), and the folders scanned.

    A broken symbolic link with a photo's name (dangling, or a loop) is listed, so that it is
    reported as that file's error instead of being skipped.
    """
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


def analysis_key(engine: FaceEngine, measuring: MeasuringSettings) -> str:
    """Everything that changes what an analysis contains: engine, models, analysis size, signals."""
    from .signals import registry_key

    # The [signals] and [expression] tables as they were before they were typed: the same key.
    tables = json.dumps(asdict(measuring), sort_keys=True)
    signals_digest = hashlib.blake2b(tables.encode(), digest_size=4).hexdigest()
    return f"{engine.id}|{engine.settings_key}|signals-{signals_digest}|{registry_key()}|v{ANALYSIS_VERSION}"


def analyse(path: str, engine: FaceEngine, measuring: MeasuringSettings | None = None) -> ImageRecord:
    """Load one image, find its faces and measure them. Coordinates are stored at full size."""
    from . import signals

    try:
        image = load_image(path, max_side=engine.max_side)
    except ImageError as error:
        return ImageRecord(path=path, error=str(error))
    faces = engine.detect(image.pixels)
    for face in faces:
        # A reduced decode shrinks the JPEG's 8 px blocks by the same scale.
        measured = signals.measure_face(image.pixels, face, measuring, block_px=8.0 * image.scale)
        face.signals = {**measured, "confidence": engine.confidence(face.detector_score)}
    to_full = 1.0 / image.scale
    return ImageRecord(
        path=path,
        width=image.full_width,
        height=image.full_height,
        orientation=image.orientation,
        captured_at=image.captured_at,
        faces=[_rescaled(face, to_full) for face in faces],
        **whole_frame(image.pixels),
    )


def whole_frame(pixels: np.ndarray) -> dict:
    """The image signals and the burst thumbnail (ImageRecord's fields), from one grey copy."""
    from . import signals
    from .signals.quality import luma

    grey = luma(pixels)
    return {"image_signals": signals.measure_image(grey), "thumbnail": make_thumbnail(grey)}


THUMBNAIL_SIDE = 16


def make_thumbnail(grey: np.ndarray) -> bytes:
    """A 16x16 grey picture of the whole frame: enough to tell a burst frame from another scene."""
    from PIL import Image

    return Image.fromarray(grey).resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX).tobytes()


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


def analyse_guarded(path: str, engine: FaceEngine, measuring: MeasuringSettings) -> tuple[ImageRecord, bool]:
    """The record, and whether it may be cached.

    A file that breaks a decoder or engine in an unforeseen way is that file's error, not the
    batch's; such an error is not cached, so the next run tries the file again.
    """
    try:
        return analyse(path, engine, measuring), True
    except (EngineUnavailable, ModelUnavailable):
        raise  # a model cannot run at all: stop the run with its message, not fail every photo
    except MemoryError:
        return ImageRecord(path=path, error="out of memory while analysing"), False
    except Exception as error:  # noqa: BLE001 - reported per file, the batch goes on
        return ImageRecord(path=path, error=f"analysis failed: {type(error).__name__}: {error}"), False


def preload_for_workers(engine: str) -> None:
    """Run once in the forkserver before it forks the workers of the engine named `engine`
    (forkserver_preload.py): the modules they import, and the models the engine shares among its
    workers (EngineSpec.shared_models: dlib's 68-point predictor and HOG detector for the dlib and
    BlazeFace engines, nothing for insightface), plain memory that the forked workers share
    copy-on-write instead of each loading them again (about 1.3 s of a worker's start,
    docs/benchmarks.md). The library's modules too: a new worker runs the parent's main script
    again (multiprocessing does, for what it pickles by name), and the CLI's, the daemon's and the
    benchmarks' all import the library (0.1 s a worker). Nothing here may start a thread (forking a
    process with threads is unsafe): onnxruntime, whose import starts one, its sessions and
    LiteRT's interpreters are each worker's own. What fails here is left to the workers, which load
    it again and say why."""
    for module in ("cv2", "threadpoolctl", "ai_edge_litert.interpreter", f"{__package__}.signals", f"{__package__}.library"):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    with contextlib.suppress(Exception):  # e.g. dlib not installed
        shared_models = engines()[engine].shared_models
        if shared_models is not None:
            shared_models()


_worker_engine: FaceEngine | None = None
_worker_measuring: MeasuringSettings | None = None


# A group photo shipped in the insightface wheel (a dependency): analysing it runs every model.
WARM_UP_PHOTO = "t1.jpg"


def start_worker(choice: EngineChoice, measuring: MeasuringSettings, warm: bool = False) -> None:
    """A worker's initializer: its engine, and with `warm` every model that the engine and the
    signals load on first use, loaded now by analysing WARM_UP_PHOTO."""
    global _worker_engine, _worker_measuring
    import cv2
    from threadpoolctl import threadpool_limits

    # One worker per core already: the thread pools of OpenCV, OpenBLAS and OpenMP would only contend.
    cv2.setNumThreads(1)
    threadpool_limits(1)
    # What a worker has to say (a model fetched or converted once) reaches stderr as a CLI line.
    logging.basicConfig(level=logging.WARNING, format="photorank: %(message)s")
    _worker_engine = choice.build()
    _worker_measuring = measuring
    if warm:
        from .demo import package_image

        # A model that cannot load is said by the first photo's analysis, as in a cold worker.
        with contextlib.suppress(Exception):
            analyse(package_image(WARM_UP_PHOTO), _worker_engine, measuring)


def analyse_in_worker(path: str) -> tuple[ImageRecord, bool]:
    assert _worker_engine is not None and _worker_measuring is not None
    return analyse_guarded(path, _worker_engine, _worker_measuring)


def os_error_text(error: OSError) -> str:
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


def engine_choice(name: str | None, settings: Settings) -> EngineChoice:
    """The engine named (else the [analysis] engine) with the [analysis] sizes and onnxruntime
    providers and every engine's section; empty strings mean 'the engine's own default'."""
    analysis = {key: value for key, value in asdict(settings.analysis).items() if key != "engine"}
    # Resolved here, once: an unavailable provider is said once, not by every worker.
    analysis["onnx_providers"] = tuple(onnx_providers.resolve(analysis["onnx_providers"]))
    options = {**analysis, **{key: value for spec in engines().values() for key, value in settings.engines[spec.section].items()}}
    return EngineChoice(name or settings.analysis.engine,
                        tuple(sorted((key, value) for key, value in options.items() if value != "")))
