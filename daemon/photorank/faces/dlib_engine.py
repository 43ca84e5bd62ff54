"""The dlib engine: dlib's HOG detector, 68-point landmarks and 128-d ResNet embeddings.

All three models install from PyPI with their weights (`dlib-bin`, `face_recognition_models`),
so this engine works on a machine that never reaches a model hub. The ResNet runs in onnxruntime
by default (resnet_onnx.py: the same weights, converted once and checked against dlib).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import math
import os
from collections.abc import Sequence

import numpy as np

from .. import models
from ..records import DetectedFace
from . import EngineSpec, EngineUnavailable
from .dlib_models import LANDMARKS_68, RESNET, landmark_predictor, model_path
from .onnx_providers import CPU
from .resnet_onnx import resnet_descriptors

# dlib's HOG window is 80x80: a face smaller than that is found only in an upsampled image.
HOG_WINDOW_PX = 80


def dlib_version() -> str:
    """The installed dlib's version (the dlib-bin wheel or a source build)."""
    for package in ("dlib-bin", "dlib"):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    raise EngineUnavailable("the dlib engine needs dlib: pip install dlib-bin")


class DlibEngine:
    """HOG detection at the analysis size, upsampled only as far as `min_face_px` requires."""

    # Cosine similarity of L2-normalised embeddings; calibrated with bench/eval_identity.py (see
    # docs/calibration.md): on ../shared/data/people same person >= 0.922, different people <= 0.907;
    # 14 degradations of every photo keep recall 0.993 at precision 0.998; 1000 LFW-derived
    # strangers match a reference 0.1% of the time. 0.915 balances the two error rates.
    match_threshold = 0.915
    max_side = 2048

    def __init__(self, min_face_px: int = 40, max_side: int | None = None, upsample_limit_px: int = 2600,
                 embedding: str = "onnxruntime", onnx_providers: Sequence[str] = (CPU,)):
        # Cheap: checks that the models are installed; they load on first use (a warm re-rank
        # answered from the cache never pays for them).
        version = dlib_version()
        self._model_files = model_path(LANDMARKS_68), model_path(RESNET)
        self._dlib = None
        self.min_face_px = min_face_px
        self.upsample_limit_px = upsample_limit_px
        self.embed_faces = ResNetEmbedding(embedding, self._model_files[1], onnx_providers)
        if max_side:
            self.max_side = max_side
        # Embeddings: unchanged by how faces are found, and by the runtime (onnxruntime's are
        # checked against dlib's at conversion: cosine >= 0.999, measured 1.0000).
        self.id = f"dlib-{version}-hog-resnet128"
        self.settings_key = f"greyhog-side{self.max_side}-min{min_face_px}-up{upsample_limit_px}"

    def _load(self) -> None:
        import dlib

        self._landmarks = landmark_predictor()
        self._dlib = dlib

    def detect(self, pixels: np.ndarray) -> list[DetectedFace]:
        if self._dlib is None:
            self._load()
        rects, scores = self._find_boxes(pixels)
        shapes = [self._landmarks(pixels, rect) for rect in rects]
        embeddings = self.embed_faces(pixels, shapes)
        faces = []
        for rect, score, shape, embedding in zip(rects, scores, shapes, embeddings):
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            box = clip_box(rect.left(), rect.top(), rect.width(), rect.height(), pixels.shape[1], pixels.shape[0])
            faces.append(DetectedFace(box=box, detector_score=float(score), embedding=embedding, landmarks=points))
        return faces

    def _find_boxes(self, pixels: np.ndarray):
        """Upsample by the smallest factor that brings `min_face_px` faces up to the HOG window,
        within `upsample_limit_px`."""
        factor = min(hog_upsampling(self.min_face_px), max(1.0, self.upsample_limit_px / max(pixels.shape[:2])))
        return hog_boxes(pixels, factor)

    @staticmethod
    def confidence(detector_score: float) -> float:
        """HOG's SVM margin (about -0.5 doubtful .. 3 clear frontal face) as 0-1."""
        return 1.0 / (1.0 + math.exp(-(detector_score - 0.2) / 0.4))


class ResNetEmbedding:
    """dlib's 128-d ResNet in the chosen runtime ("onnxruntime", on `providers`, or "dlib"), loaded on first use:
    the one embedding path of the engines that align faces by dlib's 68 landmarks."""

    def __init__(self, runtime: str, resnet_file: str, providers: Sequence[str] = (CPU,)):
        self.runtime = runtime
        self._resnet_file = resnet_file
        self._providers = providers
        self._descriptors = None

    def __call__(self, pixels: np.ndarray, shapes: list) -> np.ndarray:
        """Unit-length embeddings (n, 128) of a photo's faces from their dlib landmark shapes,
        all faces in one batch."""
        if not shapes:
            return np.zeros((0, 128), dtype=np.float32)
        if self._descriptors is None:
            self._descriptors = resnet_descriptors(self.runtime, self._resnet_file, self._providers)
        vectors = np.asarray(self._descriptors(pixels, shapes), dtype=np.float32)
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


def saved_hog_path() -> str:
    """Where the copy of dlib's HOG detector that loads fast is kept (per dlib version)."""
    return os.path.join(models.models_dir(), f"dlib-{dlib_version()}-frontal-face-hog.svm")


@functools.cache
def hog_detector():
    """dlib's HOG face detector, loaded once per process: the dlib engine and the BlazeFace
    engine's check of its doubtful boxes share it.

    Read from its saved copy (2 ms); the copy compiled into dlib takes 0.4 s to decode, a good
    part of a cold run's start (docs/benchmarks.md), so it is decoded once and saved."""
    import dlib

    saved = saved_hog_path()
    if os.path.exists(saved):
        with contextlib.suppress(RuntimeError):  # unreadable: decoded and saved again below
            return dlib.fhog_object_detector(saved)
    detector = dlib.get_frontal_face_detector()
    partial = f"{saved}.partial-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(saved), exist_ok=True)
        detector.save(partial)
        os.replace(partial, saved)  # whole or not at all, whoever else saves it at the same time
    except (OSError, RuntimeError):  # a read-only data folder: decoded in every process instead
        with contextlib.suppress(OSError):
            os.unlink(partial)
    return detector


def load_shared_models() -> None:
    """dlib's 68-point predictor and HOG detector, which the dlib and BlazeFace engines' workers
    read: loaded once in the forkserver, the forked workers share them copy-on-write."""
    landmark_predictor()
    hog_detector()


def hog_upsampling(face_px: float) -> float:
    """The factor that brings a `face_px` face up to HOG's window (1 for faces already that large)."""
    return max(1.0, HOG_WINDOW_PX / face_px)


def hog_boxes(pixels: np.ndarray, factor: float = 1.0) -> tuple[list, list[float]]:
    """HOG's face rectangles (in `pixels` coordinates) and scores, searched in the image scaled by
    `factor`.

    HOG runs on the grey image: a third of the gradient work of RGB, and on our test photos
    it finds the same faces (one more 40-px face, one fewer false detection).
    """
    import cv2
    import dlib

    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY) if pixels.ndim == 3 else pixels
    if factor != 1.0:
        height, width = grey.shape[:2]
        grey = cv2.resize(grey, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_LINEAR)
    rects, scores, _ = hog_detector().run(grey, 0, 0.0)
    if factor == 1.0:
        return list(rects), list(scores)
    scaled = [dlib.rectangle(round(r.left() / factor), round(r.top() / factor), round(r.right() / factor), round(r.bottom() / factor))
              for r in rects]
    return scaled, list(scores)


def landmarks_in_box(pixels: np.ndarray, box) -> np.ndarray:
    """dlib's 68 landmarks for a face whose box (x, y, w, h) is known, e.g. a 5-point engine's
    face or a tight face crop."""
    import dlib

    x, y, w, h = (float(v) for v in box)
    rect = dlib.rectangle(round(x), round(y), round(x + w - 1), round(y + h - 1))
    shape = landmark_predictor()(np.ascontiguousarray(pixels), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def clip_box(x: int, y: int, w: int, h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """HOG boxes may reach past the frame for faces at its edge; keep the part inside it."""
    left, top = max(0, x), max(0, y)
    right, bottom = min(width, x + w), min(height, y + h)
    return left, top, max(1, right - left), max(1, bottom - top)


ENGINE = EngineSpec(
    name="dlib", detector="hog", section="dlib", factory=DlibEngine, options=frozenset({"upsample_limit_px", "embedding"}),
    summary="dlib HOG detector, 68 landmarks and ResNet embedding (for comparison with blazeface)",
    shared_models=load_shared_models,
)
