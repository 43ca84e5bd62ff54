"""Stage 3: what a photographer looks at in a face, measured as numbers.

Public entry points (called by the indexer, in worker processes):
- `measure_face(pixels, face, settings)`: per-face signals (eyes, smile, pose, sharpness, exposure, framing)
- `measure_image(pixels)`: whole-image signals for the group score

Each signal is a row of FACE_SIGNAL_ROWS / IMAGE_SIGNAL_ROWS: its name, the keys it stores, its
measure function and its version. `registry_key()` names every row and version; it is part of
the analysis key, so changing what a signal stores means bumping that row's version, and only
the analyses are redone.

Every value is a float or None (they go to JSON and SQLite). Models load lazily, once per process,
never at import time. docs/signals.md documents each signal, its range and its measured accuracy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import default_settings
from ..records import DetectedFace
from ..settings import MeasuringSettings
from . import expression, eyes, mesh, pose, quality

_landmarker: bool | None = None  # can dlib's 68-point predictor run (for 5-point engines, small faces)?


def prepare(settings: MeasuringSettings | None = None) -> None:
    """Fetch the expression model if missing, once, before work spreads over worker processes:
    a missing model is then one clear error, and one download, not one per worker."""
    settings = settings or default_settings().measuring
    expression.model_file(settings.expression.backend, settings.expression.model_path or None)
    if settings.signals.eyes_and_pose == "mesh":
        mesh.prepare()


def _predictor_available() -> bool:
    """Whether dlib's 68-point predictor can run (without dlib, eyes are judged only from the
    68 points an engine gives)."""
    global _landmarker
    if _landmarker is None:
        try:
            from ..faces.dlib_models import landmark_predictor

            landmark_predictor()
            _landmarker = True
        except Exception:
            _landmarker = False
    return _landmarker


def _predict(pixels: np.ndarray, box, factor: float) -> np.ndarray:
    """dlib's 68 points for `box`, run on the box's surroundings enlarged by `factor`."""
    import cv2

    from ..faces.dlib_engine import landmarks_in_box

    x, y, w, h = (float(v) for v in box)
    height, width = pixels.shape[:2]
    margin = 0.3 * max(w, h)
    left, top = int(max(0, x - margin)), int(max(0, y - margin))
    right, bottom = int(min(width, x + w + margin)), int(min(height, y + h + margin))
    region = pixels[top:bottom, left:right]
    if factor != 1.0:
        region = cv2.resize(region, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    points = landmarks_in_box(region, ((x - left) * factor, (y - top) * factor, w * factor, h * factor))
    return points / factor + np.array([left, top])


def landmarks_68(pixels: np.ndarray, face: DetectedFace, refine_below_px: float) -> np.ndarray | None:
    """The face's 68 landmarks for the eye and quality measurements.

    5-point engines: dlib's predictor run in the face box. Faces narrower than `refine_below_px`:
    the predictor is run again on the face enlarged to that width, which places the eyelids
    more precisely than on the native pixels (eyes AUC 0.92 -> 0.94 on 64 px faces), ~1 ms.
    """
    own = face.landmarks is not None and len(face.landmarks) == 68
    w, h = face.box[2], face.box[3]
    small = 0 < max(w, h) < refine_below_px
    if own and not small:
        return np.asarray(face.landmarks, dtype=np.float64)
    if not _predictor_available():
        return np.asarray(face.landmarks, dtype=np.float64) if own else None
    factor = min(4.0, refine_below_px / max(w, h, 1)) if small else 1.0
    return _predict(pixels, face.box, factor)


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class FaceView:
    """One face as the measurements see it. What several signals need (landmarks, the face's
    surroundings, the mesh) is computed on first use, once."""

    pixels: np.ndarray  # the analysis image, RGB or grey
    face: DetectedFace
    settings: MeasuringSettings
    block_px: float

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        return self.pixels if self.pixels.ndim == 3 else np.dstack([self.pixels] * 3)

    @functools.cached_property
    def landmarks(self) -> np.ndarray | None:
        """68 points for the eyes (fallback), sharpness and exposure (landmarks_68)."""
        return landmarks_68(self.rgb, self.face, float(self.settings.signals.refine_landmarks_below_px))

    @functools.cached_property
    def own_landmarks(self) -> np.ndarray | None:
        """The engine's 68 points, else the placed ones: the engine's may lie past the frame
        (dlib predicts them there), which framing needs; placed ones may not."""
        own = self.face.landmarks
        return own if own is not None and len(own) == 68 else self.landmarks

    @functools.cached_property
    def region(self) -> tuple[int, int, int, int]:
        """The face's surroundings: every measurement but pose and framing works there, so the
        cost does not grow with the image size."""
        return _surroundings(self.pixels.shape, self.face.box, self.landmarks)

    @functools.cached_property
    def offset(self) -> np.ndarray:
        return np.array(self.region[:2], dtype=np.float64)

    @functools.cached_property
    def local(self) -> np.ndarray:
        left, top, right, bottom = self.region
        return np.ascontiguousarray(self.pixels[top:bottom, left:right])

    @functools.cached_property
    def grey(self) -> np.ndarray:
        return quality.luma(self.local)

    @functools.cached_property
    def box(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.face.box
        return (x - self.offset[0], y - self.offset[1], w, h)

    @functools.cached_property
    def local_landmarks(self) -> np.ndarray | None:
        return None if self.landmarks is None else self.landmarks - self.offset

    @functools.cached_property
    def mesh(self) -> mesh.FaceMesh | None:
        """FaceMesh and the iris in the face's surroundings ([signals] eyes_and_pose = "mesh"),
        seeded by the box and the engine's eye points; None when not chosen or no face is there."""
        if self.settings.signals.eyes_and_pose != "mesh":
            return None
        own = self.face.landmarks
        seed = None if own is None or len(own) not in (5, 68) else np.asarray(own, dtype=np.float64) - self.offset
        local = self.local if self.local.ndim == 3 else np.dstack([self.local] * 3)
        return mesh.locate(local, self.box, seed)


@dataclass(frozen=True)
class Signal:
    """A row of the registry: `measure` returns `keys` (a face signal: measure(view, what the
    rows before measured); an image signal: measure(pixels)); bump `version` whenever it would
    store something different for the same photo."""

    name: str
    keys: tuple[str, ...]
    measure: Callable[..., dict]
    version: int


def _smile(view: FaceView, _measured: dict) -> dict:
    return {"smile": expression.smile(view.grey, view.box, view.settings.expression.backend, view.settings.expression.model_path or None)}


def _pose(view: FaceView, _measured: dict) -> dict:
    """From the mesh when there is one; else from the engine's points (5 or 68), else the placed 68."""
    if view.mesh is not None:
        angles = mesh.head_pose(view.mesh, view.pixels.shape[:2])
    else:
        own = view.face.landmarks
        points = own if own is not None and len(own) in (5, 68) else view.landmarks
        angles = pose.head_pose(points, view.pixels.shape[:2]) if points is not None else None
    return dict(zip(("yaw", "pitch", "roll"), angles or (None, None, None)))


EYE_COMPONENTS = ("eyes_aperture", "eyes_ear", "eyes_iris", "eyes_haar")
EYE_SIGNALS = ("eyes_open", "eyes_judgeable", "eyes_reason", *EYE_COMPONENTS, "gaze_x", "gaze_y")


def _eyes(view: FaceView, measured: dict) -> dict:
    """From the mesh and the iris when there is a mesh; else from the 68 points (eyes.py)."""
    out = dict.fromkeys(EYE_SIGNALS)
    if view.mesh is not None:
        landmarks = view.local_landmarks
        ear = None if landmarks is None else eyes.ear_score(landmarks, measured["yaw"], measured["pitch"], measured["smile"])
        out.update(mesh.measure_eyes(view.grey, view.mesh, measured["yaw"], measured["smile"], ear))
    else:
        out.update(eyes.measure_eyes(view.grey, view.local_landmarks, measured["yaw"], measured["pitch"], measured["smile"]))
    if not view.settings.signals.eye_components:
        out.update(dict.fromkeys(EYE_COMPONENTS))
    return out


def _sharpness(view: FaceView, _measured: dict) -> dict:
    return {"sharpness": quality.face_sharpness(view.local, view.box, view.local_landmarks)}


def _exposure(view: FaceView, _measured: dict) -> dict:
    return quality.face_exposure(view.local, view.box, view.local_landmarks)


def _framing(view: FaceView, _measured: dict) -> dict:
    return quality.framing(view.pixels.shape, view.face.box, view.own_landmarks)


def _blockiness(view: FaceView, _measured: dict) -> dict:
    return {"blockiness": quality.face_blockiness(view.local, view.box, view.local_landmarks, view.block_px)}


def _image(pixels: np.ndarray) -> dict[str, float | None]:
    """Whole-image signals: image_sharpness (90th percentile of tile sharpness, 0-1),
    image_exposure (EV of the median luminance from mid grey 0.18 linear), image_highlights_clipped,
    image_highlights (quality.highlight_level: where the brightest non-specular tones sit, EV from white)."""
    grey = quality.luma(np.ascontiguousarray(pixels))
    step = max(1, int(max(grey.shape) // 1024))  # exposure statistics need no more than ~1 Mpx
    median, highlights, clipped = quality.tone_levels(grey[::step, ::step])
    return {
        "image_sharpness": quality.image_sharpness(grey),
        "image_exposure": max(-10.0, min(4.0, math.log2(max(median, 1e-4) / 0.18))),
        "image_highlights_clipped": clipped,
        "image_highlights": quality.highlight_level(highlights),
    }


# Measured in this order (eyes read the smile and the pose); measure_face returns FACE_SIGNALS in it.
FACE_SIGNAL_ROWS = (
    Signal("smile", ("smile",), _smile, 1),
    Signal("pose", ("yaw", "pitch", "roll"), _pose, 3),  # 2: from FaceMesh; 3: as eyes 3
    Signal("eyes", EYE_SIGNALS, _eyes, 3),  # 2: from FaceMesh and the iris; 3: a large face's crops cut from one reduced copy
    Signal("sharpness", ("sharpness",), _sharpness, 1),
    Signal("exposure", ("exposure", "highlights_clipped", "shadows_crushed"), _exposure, 1),
    Signal("framing", ("edge_cut", "face_size"), _framing, 1),
    Signal("blockiness", ("blockiness",), _blockiness, 1),
)
IMAGE_SIGNAL_ROWS = (
    Signal("image", ("image_sharpness", "image_exposure", "image_highlights_clipped", "image_highlights"), _image, 2),  # 2: highlights
)
# Every key measure_face / measure_image returns, in a stable order (the CLI's `analyze --json` prints them).
FACE_SIGNALS = tuple(key for row in FACE_SIGNAL_ROWS for key in row.keys)
IMAGE_SIGNALS = tuple(key for row in IMAGE_SIGNAL_ROWS for key in row.keys)


def registry_key() -> str:
    """Every signal and its version, e.g. "smile1.pose2...": part of the analysis key."""
    return ".".join(f"{row.name}{row.version}" for row in (*FACE_SIGNAL_ROWS, *IMAGE_SIGNAL_ROWS))


def measure_face(
    pixels: np.ndarray, face: DetectedFace, settings: MeasuringSettings | None = None, block_px: float = 8.0
) -> dict[str, float | None]:
    """All per-face signals of FACE_SIGNALS for one detected face.

    pixels: the RGB uint8 analysis image (or a grey one) the face was detected in; face.box and
    face.landmarks are in its coordinates. block_px: the size of the file's 8x8 JPEG blocks in
    `pixels` (8 x the decode scale when the image was decoded reduced). settings: None = the defaults.
    """
    view = FaceView(pixels, face, settings or default_settings().measuring, block_px)
    measured: dict[str, float | None] = {}
    for row in FACE_SIGNAL_ROWS:
        measured.update(row.measure(view, measured))
    return {key: _finite(measured.get(key)) for key in FACE_SIGNALS}


def _surroundings(shape, box, landmarks) -> tuple[int, int, int, int]:
    """The face box and landmarks' extent, grown by half the face size on each side, clipped."""
    x, y, w, h = box
    x0, y0, x1, y1 = float(x), float(y), float(x + w), float(y + h)
    if landmarks is not None:
        x0, y0 = min(x0, landmarks[:, 0].min()), min(y0, landmarks[:, 1].min())
        x1, y1 = max(x1, landmarks[:, 0].max()), max(y1, landmarks[:, 1].max())
    margin = 0.5 * max(x1 - x0, y1 - y0)
    height, width = shape[:2]
    left, top = int(max(0, np.floor(x0 - margin))), int(max(0, np.floor(y0 - margin)))
    right, bottom = int(min(width, np.ceil(x1 + margin))), int(min(height, np.ceil(y1 + margin)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def measure_image(pixels: np.ndarray) -> dict[str, float | None]:
    """IMAGE_SIGNALS of the whole image (RGB, or its grey: luma is all they read)."""
    measured: dict[str, float | None] = {}
    for row in IMAGE_SIGNAL_ROWS:
        measured.update(row.measure(pixels))
    return {key: _finite(measured.get(key)) for key in IMAGE_SIGNALS}


__all__ = ["measure_face", "measure_image", "FACE_SIGNALS", "IMAGE_SIGNALS", "FACE_SIGNAL_ROWS", "IMAGE_SIGNAL_ROWS",
           "Signal", "registry_key", "landmarks_68"]
