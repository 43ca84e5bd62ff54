"""Head pose (yaw, pitch, roll in degrees) from 68 or 5 landmarks.

A generic 3D face (millimetres, nose tip at the origin; camera axes: x to the image's right,
y down, z away from the camera) is fitted to the landmarks with OpenCV's PnP solver; the
camera's principal point is put at the face so the angles are relative to the line of sight.
Signs: yaw > 0 when the nose points to the image's right (the subject turns to their left),
pitch > 0 when the face tilts up, roll > 0 when the face is rotated clockwise in the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Landmark groups in iBUG 68-point order.
RIGHT_EYE_68 = slice(36, 42)  # the subject's right eye: on the image's left in a frontal view
LEFT_EYE_68 = slice(42, 48)
NOSE_TIP_68 = 30
CHIN_68 = 8
MOUTH_LEFT_68 = 48  # image-left mouth corner
MOUTH_RIGHT_68 = 54

# Generic 3D model (mm). Rough anthropometric averages; only their proportions matter much.
MODEL_5 = np.array(
    [
        (-32.0, -35.0, 28.0),  # eye centre, image left
        (32.0, -35.0, 28.0),  # eye centre, image right
        (0.0, 0.0, 0.0),  # nose tip
        (-25.0, 32.0, 22.0),  # mouth corner, image left
        (25.0, 32.0, 22.0),  # mouth corner, image right
    ],
    dtype=np.float64,
)
MODEL_CHIN = (0.0, 68.0, 28.0)
MODEL_EYE_OUTER = ((-45.0, -35.0, 32.0), (45.0, -35.0, 32.0))  # points 36 and 45
MODEL_EYE_INNER = ((-16.0, -34.0, 26.0), (16.0, -34.0, 26.0))  # points 39 and 42
MODEL_NOSE_BRIDGE = (0.0, -36.0, 18.0)  # point 27
# The points 68-point (and mesh) faces add to the five: chin, outer eye corners, inner eye corners, nose bridge.
MODEL_EXTRA_68 = np.array([MODEL_CHIN, *MODEL_EYE_OUTER, *MODEL_EYE_INNER, MODEL_NOSE_BRIDGE], dtype=np.float64)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """The 5-point layout (eye centres, nose tip, mouth corners; image-left first) from 68 or 5 points."""
    points = np.asarray(landmarks, dtype=np.float64)
    if len(points) == 5:
        return points
    return np.array(
        [
            points[RIGHT_EYE_68].mean(axis=0),
            points[LEFT_EYE_68].mean(axis=0),
            points[NOSE_TIP_68],
            points[MOUTH_LEFT_68],
            points[MOUTH_RIGHT_68],
        ]
    )


def _correspondences(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(landmarks, dtype=np.float64)
    image = five_points(points)
    model = MODEL_5
    if len(points) == 68:
        extra_image = np.array([points[CHIN_68], points[36], points[45], points[39], points[42], points[27]])
        image = np.vstack([image, extra_image])
        model = np.vstack([model, MODEL_EXTRA_68])
    return model, image


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int] | None = None) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees, or None when the fit fails. image_size is (height, width)."""
    return fit(*_correspondences(landmarks), image_size)


def fit(model: np.ndarray, image: np.ndarray, image_size: tuple[int, int] | None = None) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) of the generic face's `model` points seen at the `image` points, or None."""
    if not np.all(np.isfinite(image)):
        return None
    centre = image.mean(axis=0)
    spread = float(np.ptp(image, axis=0).max())
    if spread < 2.0:
        return None
    # A normal lens: focal length about the image's long side (about a 50 mm equivalent view).
    focal = float(max(image_size)) if image_size else spread * 8.0
    focal = max(focal, spread * 8.0)  # a face filling the frame: a portrait distance, not a macro one
    camera = np.array([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1]], dtype=np.float64)
    # SQPnP finds the global optimum in a fraction of a millisecond (the iterative solver takes ~7 ms).
    ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok or tvec[2, 0] <= 0:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    return _euler(rotation)


def _euler(rotation: np.ndarray) -> tuple[float, float, float]:
    """Decompose R = Rz(roll) @ Ry(yaw) @ Rx(pitch) (camera axes) into the documented signs."""
    sy = -rotation[2, 0]
    yaw_rad = math.asin(max(-1.0, min(1.0, sy)))
    pitch_rad = math.atan2(rotation[2, 1], rotation[2, 2])
    roll_rad = math.atan2(rotation[1, 0], rotation[0, 0])
    # Camera y points down: a face tilting up rotates about x by a negative angle.
    yaw = -math.degrees(yaw_rad)
    pitch = -math.degrees(pitch_rad)
    roll = math.degrees(roll_rad)
    return yaw, pitch, roll
