"""Eyes and head pose from MediaPipe's FaceMesh (468 points) and iris models, run by LiteRT.

The face box (from any detector) only seeds the mesh: the mesh is run on a 192x192 crop around
the box, then again on the crop its own points define, so what is measured depends little on
which detector found the face. Each eye is then cut out as a
64x64 crop along its corner line for the iris model, which places 16 eyelid points and the
iris (its centre and four points on its rim).

From them:
- aperture: the lid gap over the iris diameter. The iris is about 11.7 mm in every adult, so the
  ratio needs no correction for the face's size, and little for its pose; an open eye shows most
  of its iris (about 0.6-0.9), a closed one none. The laughing-squint rule of eyes.py applies:
  the lower lid counts only as much as the face does not smile.
- gaze: where the iris sits between the eye corners.
- head pose: signals/pose.py's generic 3D face fitted to the mesh's matching points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .. import models
from . import eyes, pose

MESH_SIZE, IRIS_SIZE = 192, 64
# MediaPipe's crops: the face's extent grown 1.5 times; the eye's corner distance grown 2.3 times.
FACE_SCALE, EYE_SCALE = 1.5, 2.3
MIN_PRESENCE = 0.5  # the mesh's face flag: below it, what it placed is not a face
# Bilinear sampling of more than this many image pixels a crop pixel aliases.
SCALE_ALIASING = 2.0

# Mesh indices, in the image-left eye's order then the image-right eye's (the subject's right eye first).
EYE_CORNERS = ((33, 133), (362, 263))  # (image-left corner, image-right corner) of each eye
# Six points per eye in the 68-point layout (corner, two upper lid points, corner, two lower): for sunglasses.
EYE_SIX = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
# Points matching pose.py's generic model: nose tip, mouth corners, chin, nose bridge.
NOSE_TIP, MOUTH_CORNERS, CHIN, NOSE_BRIDGE = 1, (61, 291), 152, 168

# The iris model's first 16 eyelid points: 0 the outer corner, 1-7 the lower lid, 8 the inner corner,
# 9-15 the upper lid; the lid points over the middle of the eye are 3-5 and 11-13.
OUTER, INNER = 0, 8
LOWER_MIDDLE, UPPER_MIDDLE = slice(3, 6), slice(11, 14)

# Evidence for "open" from the aperture: open eyes of the tuning crops read 0.54-0.84 (10th-90th
# percentile), closed ones 0.35-0.63 (the model never shuts the lids completely on a 10 px eye).
APERTURE_CENTRE, APERTURE_SCALE = 0.6, 0.08

_interpreters: dict[str, object] = {}  # model name -> LiteRT interpreter, one per process


@dataclass(frozen=True)
class Crop:
    """A square region of the image, turned by `angle` (radians, the image's x axis to the crop's)."""

    centre: tuple[float, float]
    side: float
    angle: float

    def matrix(self, size: int, mirrored: bool = False) -> np.ndarray:
        """The 2x3 affine map from image pixels to the size x size crop (mirrored left-right if asked)."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        scale = size / self.side
        linear = np.array([[cos, sin], [-sin, cos]]) * scale
        if mirrored:
            linear[0] = -linear[0]
        shift = np.array([size / 2.0, size / 2.0]) - linear @ np.asarray(self.centre, dtype=np.float64)
        return np.hstack([linear, shift[:, None]])


@dataclass(frozen=True)
class Eye:
    """One eye in image pixels: 16 eyelid points (OUTER, lower lid, INNER, upper lid), the iris
    centre and its diameter."""

    lids: np.ndarray
    iris_centre: np.ndarray
    iris_diameter: float

    @property
    def width(self) -> float:
        return float(np.linalg.norm(self.lids[INNER] - self.lids[OUTER]))


@dataclass(frozen=True)
class FaceMesh:
    """The mesh's 468 points (x, y in image pixels; z in the same unit, towards the camera < 0),
    its face flag (0-1), and both eyes (the image-left one first)."""

    points: np.ndarray
    presence: float
    eyes: tuple[Eye, Eye]


def _interpreter(model: models.WheelModel):
    """The model loaded once per process (its file checked by sha256 then, not at every face)."""
    if model.name not in _interpreters:
        from ai_edge_litert.interpreter import Interpreter

        from .expression import native_stderr_silenced

        path = models.fetch_model(model)
        with native_stderr_silenced():  # LiteRT's INFO line would land on the progress bar
            interpreter = Interpreter(model_path=path, num_threads=1)
            interpreter.allocate_tensors()
        _interpreters[model.name] = interpreter
    return _interpreters[model.name]


def prepare() -> None:
    """Fetch both models now (once), so a missing one is one clear error before work starts."""
    models.fetch_model(models.FACE_MESH)
    models.fetch_model(models.IRIS)


@dataclass(frozen=True)
class FacePixels:
    """The pixels every crop of one face is cut from, made once per face: the image itself, or
    for a large face its region area-averaged down once. `from_image` maps image pixels to them."""

    pixels: np.ndarray
    from_image: np.ndarray  # 2x3 affine

    def crop(self, matrix: np.ndarray, size: int) -> np.ndarray:
        """The size x size crop that `matrix` (image pixels -> crop) cuts, edges replicated."""
        to_image = cv2.invertAffineTransform(self.from_image)
        linear = matrix[:, :2] @ to_image[:, :2]
        shift = matrix[:, :2] @ to_image[:, 2] + matrix[:, 2]
        return cv2.warpAffine(self.pixels, np.hstack([linear, shift[:, None]]), (size, size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def face_pixels(rgb: np.ndarray, crop: Crop) -> FacePixels:
    """What the crops of the face first framed by `crop` are cut from. Bilinear sampling far
    below the image's resolution aliases (warpAffine has no area averaging), so when the mesh
    would read more than SCALE_ALIASING image pixels a crop pixel, the crop's region is
    area-averaged down once, by the whole factor (OpenCV's fast path) that leaves the mesh 1-2
    pixels a crop pixel. The mesh's own crop is about the first, and each iris crop reads about
    as many pixels as the mesh's (0.8 times: an eye's crop is 0.27 of the face's, at a third of
    its size): all are cut from these pixels, not each from the image."""
    if crop.side / MESH_SIZE <= SCALE_ALIASING:
        return FacePixels(rgb, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    factor = int(crop.side / MESH_SIZE)  # image pixels a working pixel
    reach = crop.side * (abs(math.cos(crop.angle)) + abs(math.sin(crop.angle))) / 2.0  # the turned crop's half extent
    (cx, cy), (height, width) = crop.centre, rgb.shape[:2]
    x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
    columns, rows = (min(width, int(cx + reach) + 1) - x0) // factor, (min(height, int(cy + reach) + 1) - y0) // factor
    if columns < 1 or rows < 1:  # the crop lies off the image
        return FacePixels(rgb, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    small = cv2.resize(rgb[y0:y0 + rows * factor, x0:x0 + columns * factor], (columns, rows), interpolation=cv2.INTER_AREA)
    return FacePixels(small, np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]) / factor)


def _run(model: models.WheelModel, pixels: FacePixels, matrix: np.ndarray, size: int,
         value_range: tuple[float, float]) -> list[np.ndarray]:
    """The model's outputs for the crop `matrix` cuts from the face's pixels, scaled to `value_range`."""
    crop = pixels.crop(matrix, size)
    low, high = value_range
    tensor = crop.astype(np.float32) * ((high - low) / 255.0) + low
    interpreter = _interpreter(model)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
    interpreter.invoke()
    return [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]


def _to_image(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Crop coordinates (x, y[, z]) back to image pixels (z scaled like x and y)."""
    inverse = cv2.invertAffineTransform(matrix)
    xy = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    if points.shape[1] == 2:
        return xy
    scale = 1.0 / math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    return np.column_stack([xy, points[:, 2] * scale])


def crop_from_box(box, landmarks) -> Crop:
    """The mesh's first crop: the box made square and grown, turned by the eye line when the
    detector gave eye points (5 or 68), else upright."""
    x, y, w, h = (float(v) for v in box)
    angle = 0.0
    if landmarks is not None and len(landmarks) in (5, 68):
        five = pose.five_points(landmarks)
        dx, dy = five[1] - five[0]
        angle = math.atan2(dy, dx)
    return Crop((x + w / 2.0, y + h / 2.0), FACE_SCALE * max(w, h), angle)


def crop_from_points(points: np.ndarray) -> Crop:
    """MediaPipe's own crop from a mesh: turned by the line through the outer eye corners,
    around the points' extent in that frame, grown 1.5 times."""
    dx, dy = points[EYE_CORNERS[1][1], :2] - points[EYE_CORNERS[0][0], :2]
    angle = math.atan2(dy, dx)
    cos, sin = math.cos(angle), math.sin(angle)
    turn = np.array([[cos, sin], [-sin, cos]])
    turned = points[:, :2] @ turn.T
    low, high = turned.min(axis=0), turned.max(axis=0)
    centre = turn.T @ ((low + high) / 2.0)
    return Crop((float(centre[0]), float(centre[1])), FACE_SCALE * float(max(high - low)), angle)


def _mesh(pixels: FacePixels, crop: Crop) -> tuple[np.ndarray, float]:
    """468 points in image pixels and the face flag. Input: RGB scaled to [0, 1]."""
    matrix = crop.matrix(MESH_SIZE)
    points, flag = _run(models.FACE_MESH, pixels, matrix, MESH_SIZE, (0.0, 1.0))
    presence = 1.0 / (1.0 + math.exp(-float(np.ravel(flag)[0])))
    return _to_image(points.reshape(468, 3), matrix), presence


def _eye(pixels: FacePixels, left: np.ndarray, right: np.ndarray, mirrored: bool) -> Eye:
    """The iris model on one eye (its image-left and image-right corners). The model reads an
    eye whose outer corner is on the left, so the image-right eye is mirrored. Input: [-1, 1]."""
    dx, dy = right - left
    crop = Crop(tuple((left + right) / 2.0), EYE_SCALE * math.hypot(dx, dy), math.atan2(dy, dx))
    matrix = crop.matrix(IRIS_SIZE, mirrored)
    contour, iris = _run(models.IRIS, pixels, matrix, IRIS_SIZE, (-1.0, 1.0))
    lids = _to_image(contour.reshape(71, 3)[:16, :2], matrix)
    iris = _to_image(iris.reshape(5, 3)[:, :2], matrix)
    diameter = (np.linalg.norm(iris[1] - iris[3]) + np.linalg.norm(iris[2] - iris[4])) / 2.0
    return Eye(lids, iris[0], float(diameter))


def locate(rgb: np.ndarray, box, landmarks=None) -> FaceMesh | None:
    """The face's mesh and eyes, or None when the mesh finds no face there."""
    first = crop_from_box(box, landmarks)
    pixels = face_pixels(rgb, first)
    points, _ = _mesh(pixels, first)
    # The second run sees the face as the mesh itself frames it, whatever the detector's box was.
    points, presence = _mesh(pixels, crop_from_points(points))
    if presence < MIN_PRESENCE:
        return None
    found = tuple(_eye(pixels, points[left, :2], points[right, :2], mirrored=index == 1)
                  for index, (left, right) in enumerate(EYE_CORNERS))
    return FaceMesh(points, presence, found)


def lid_heights(eye: Eye) -> tuple[float, float]:
    """(upper lid above the corner line, lower lid below it) over the middle of the eye, in pixels."""
    axis = eye.lids[INNER] - eye.lids[OUTER]
    up = np.array([axis[1], -axis[0]]) / max(float(np.linalg.norm(axis)), 1e-6)
    if up[1] > 0:  # image y grows downwards: "up" has a negative y
        up = -up
    upper = float(np.mean((eye.lids[UPPER_MIDDLE] - eye.lids[OUTER]) @ up))
    lower = -float(np.mean((eye.lids[LOWER_MIDDLE] - eye.lids[OUTER]) @ up))
    return upper, lower


def aperture(face: FaceMesh, smile: float | None) -> float:
    """Lid gap over the iris diameter, read from the lids that tell open from closed for this
    expression (eyes.squint_corrected_gap), both eyes weighted by width (the nearer eye counts more)."""
    values = [eyes.squint_corrected_gap(*lid_heights(eye), smile) / max(eye.iris_diameter, 1e-6) for eye in face.eyes]
    return float(np.average(values, weights=[eye.width for eye in face.eyes]))


def gaze(face: FaceMesh) -> tuple[float, float]:
    """(horizontal, vertical) offset of the iris centres from the eyes' middles, in eye widths
    along and across the corner line: > 0 towards the image's right, and upwards. About
    +-0.1 is still looking at the camera."""
    along, across = [], []
    for eye in face.eyes:
        left, right = (eye.lids[OUTER], eye.lids[INNER]) if eye is face.eyes[0] else (eye.lids[INNER], eye.lids[OUTER])
        axis = (right - left) / max(eye.width, 1e-6)
        up = np.array([axis[1], -axis[0]])
        offset = (eye.iris_centre - (left + right) / 2.0) / max(eye.width, 1e-6)
        along.append(float(offset @ axis))
        across.append(float(offset @ up))
    return float(np.mean(along)), float(np.mean(across))


def head_pose(face: FaceMesh, image_size: tuple[int, int]) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from pose.py's generic face fitted to the mesh's matching points."""
    p = face.points[:, :2]
    (right_outer, right_inner), (left_inner, left_outer) = EYE_CORNERS
    five = np.array([face.eyes[0].lids[[OUTER, INNER]].mean(axis=0), face.eyes[1].lids[[OUTER, INNER]].mean(axis=0),
                     p[NOSE_TIP], p[MOUTH_CORNERS[0]], p[MOUTH_CORNERS[1]]])
    extra = np.array([p[CHIN], p[right_outer], p[left_outer], p[right_inner], p[left_inner], p[NOSE_BRIDGE]])
    return pose.fit(np.vstack([pose.MODEL_5, pose.MODEL_EXTRA_68]), np.vstack([five, extra]), image_size)


def measure_eyes(grey: np.ndarray, face: FaceMesh | None, yaw: float | None, smile: float | None,
                 landmark_ear: float | None = None) -> dict[str, float | None]:
    """eyes.py's eyes_open / eyes_judgeable / eyes_reason, eyes_aperture and the gaze. `grey` is
    the image the mesh was placed in (for the sunglasses check). `landmark_ear`, the 68 points'
    eye aspect ratio (eyes.ear_score) when they are known, is a second, independent reading of
    the lids: its evidence is added with the same weight."""
    out: dict[str, float | None] = {"eyes_open": None, "eyes_judgeable": 0.0, "eyes_reason": 4.0,
                                    "eyes_aperture": None, "eyes_ear": None, "gaze_x": None, "gaze_y": None}
    if face is None:
        return out
    if max(eye.width for eye in face.eyes) < eyes.MIN_EYE_WIDTH_PX:
        out["eyes_reason"] = 1.0
        return out
    if yaw is not None and abs(yaw) > eyes.MAX_YAW_DEG:
        out["eyes_reason"] = 2.0
        return out
    six = tuple(face.points[list(indices), :2] for indices in EYE_SIX)
    if eyes.sunglasses(grey, six):
        out["eyes_reason"] = 3.0
        return out
    value = aperture(face, smile)
    evidence = (value - APERTURE_CENTRE) / APERTURE_SCALE + eyes.evidence("ear", landmark_ear)
    evidence = max(-30.0, min(30.0, evidence))
    out.update(eyes_open=1.0 / (1.0 + math.exp(-evidence)), eyes_judgeable=1.0, eyes_reason=0.0,
               eyes_aperture=value, eyes_ear=landmark_ear)
    out["gaze_x"], out["gaze_y"] = gaze(face)
    return out
