"""Stage 3: what a photographer looks at in a face, measured as numbers.

Public entry points (called by the indexer, in worker processes):
- `measure_face(pixels, face, settings)`: per-face signals (eyes, smile, pose, sharpness, exposure, framing)
- `measure_image(pixels)`: whole-image signals for the group score

Every value is a float or None (they go to JSON and SQLite). Models load lazily, once per process,
never at import time. docs/signals.md documents each signal, its range and its measured accuracy.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..config import load_defaults
from ..records import DetectedFace
from . import expression, eyes, pose, quality

# Every key measure_face returns, in a stable order (the CLI's `analyze --json` prints them).
FACE_SIGNALS = (
    "smile", "eyes_open", "eyes_judgeable", "eyes_reason", "eyes_ear", "eyes_iris", "eyes_haar",
    "yaw", "pitch", "roll", "sharpness", "exposure", "highlights_clipped", "shadows_crushed",
    "edge_cut", "face_size", "blockiness",
)
IMAGE_SIGNALS = ("image_sharpness", "image_exposure", "image_highlights_clipped")

_landmarker: bool | None = None  # can dlib's 68-point predictor run (for 5-point engines, small faces)?


@functools.cache
def _default_settings() -> dict:
    """The [signals] and [expression] defaults of defaults.toml, flat (the one place they are set)."""
    defaults = load_defaults()
    return {
        **defaults["signals"],
        "expression_backend": defaults["expression"]["backend"],
        "expression_model": defaults["expression"]["model_path"] or None,
    }


def _settings(settings: dict | None) -> dict:
    """Flat settings from None (the defaults), a flat dict of their keys, or a whole config
    (load_config()'s sections [signals] and [expression])."""
    merged = dict(_default_settings())
    if not settings:
        return merged
    flat = {key: value for key, value in settings.items() if not isinstance(value, dict)}
    signals = settings.get("signals") if isinstance(settings.get("signals"), dict) else {}
    expression_section = settings.get("expression") if isinstance(settings.get("expression"), dict) else {}
    merged.update(signals)
    if "backend" in expression_section:
        merged["expression_backend"] = expression_section["backend"]
    if "model_path" in expression_section:
        merged["expression_model"] = expression_section["model_path"]
    merged.update(flat)
    merged["expression_model"] = merged["expression_model"] or None
    return merged


def prepare(settings: dict | None = None) -> None:
    """Fetch the expression model if missing, once, before work spreads over worker processes:
    a missing model is then one clear error, and one download, not one per worker."""
    config = _settings(settings)
    expression.model_file(config["expression_backend"], config["expression_model"])


def _predictor_available() -> bool:
    """Whether dlib's 68-point predictor can run (without dlib, eyes are judged only from the
    68 points an engine gives)."""
    global _landmarker
    if _landmarker is None:
        try:
            from ..faces.dlib_engine import landmark_predictor

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


def measure_face(
    pixels: np.ndarray, face: DetectedFace, settings: dict | None = None, block_px: float = 8.0
) -> dict[str, float | None]:
    """All per-face signals of FACE_SIGNALS for one detected face.

    pixels: the RGB uint8 analysis image (or a grey one) the face was detected in; face.box and
    face.landmarks are in its coordinates. block_px: the size of the file's 8x8 JPEG blocks in
    `pixels` (8 x the decode scale when the image was decoded reduced).
    """
    config = _settings(settings)
    out: dict[str, float | None] = dict.fromkeys(FACE_SIGNALS)
    rgb = pixels if pixels.ndim == 3 else np.dstack([pixels] * 3)

    landmarks = landmarks_68(rgb, face, float(config["refine_landmarks_below_px"] or 0))
    pose_points = face.landmarks if face.landmarks is not None and len(face.landmarks) in (5, 68) else landmarks
    angles = pose.head_pose(pose_points, pixels.shape[:2]) if pose_points is not None else None
    if angles is not None:
        out["yaw"], out["pitch"], out["roll"] = angles
    yaw, pitch = out["yaw"], out["pitch"]
    # The engine's own points may lie past the frame (dlib predicts them there); refined ones may not.
    own = face.landmarks if face.landmarks is not None and len(face.landmarks) == 68 else landmarks
    out.update(quality.framing(pixels.shape, face.box, own))

    # Everything else looks only at the face and its surroundings: work on that region, so the
    # cost does not grow with the image size.
    (left, top, right, bottom) = _surroundings(pixels.shape, face.box, landmarks)
    offset = np.array([left, top], dtype=np.float64)
    local = np.ascontiguousarray(pixels[top:bottom, left:right])
    box = (face.box[0] - left, face.box[1] - top, face.box[2], face.box[3])
    local_landmarks = None if landmarks is None else landmarks - offset
    grey = quality.luma(local)

    out["smile"] = expression.smile(grey, box, config["expression_backend"], config["expression_model"])
    out.update(eyes.measure_eyes(grey, local_landmarks, yaw, pitch, out["smile"]))
    if not config["eye_components"]:
        for key in ("eyes_ear", "eyes_iris", "eyes_haar"):
            out[key] = None
    out["sharpness"] = quality.face_sharpness(local, box, local_landmarks)
    out.update(quality.face_exposure(local, box, local_landmarks))
    out["blockiness"] = quality.face_blockiness(local, box, local_landmarks, block_px)
    return {key: _finite(value) for key, value in out.items()}


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
    """Whole-image signals: image_sharpness (90th percentile of tile sharpness, 0-1),
    image_exposure (EV of the median luminance from mid grey 0.18 linear), image_highlights_clipped."""
    grey = quality.luma(np.ascontiguousarray(pixels))
    step = max(1, int(max(grey.shape) // 1024))  # exposure statistics need no more than ~1 Mpx
    sample = grey[::step, ::step]
    linear = float(np.median(quality._srgb_to_linear(sample)))
    out = {
        "image_sharpness": quality.image_sharpness(grey),
        "image_exposure": max(-10.0, min(4.0, math.log2(max(linear, 1e-4) / 0.18))),
        "image_highlights_clipped": float(np.mean(sample >= 250)),
    }
    return {key: _finite(value) for key, value in out.items()}


__all__ = ["measure_face", "measure_image", "FACE_SIGNALS", "IMAGE_SIGNALS", "landmarks_68"]
