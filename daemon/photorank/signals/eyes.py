"""Are the eyes open? A pose-corrected eye aspect ratio, backed by appearance evidence.

Components, each turned into evidence for "open" (a log-odds-like score, 0 = undecided):
- `ear`: the eye aspect ratio of the 68-point landmarks (mean lid gap / eye width, per eye),
  corrected for yaw (a turned eye looks narrower, which inflates the ratio) and pitch (a face
  tilted down shows less of the eye). The two eyes are averaged weighted by their width (the nearer eye counts more).
  An open eye reads about 0.25-0.35, a closed one below 0.15; 0.20 is the classic blink threshold.
- `iris`: edge orientation in the eye region. An open eye shows the iris: near-vertical edges
  at its sides; a closed eye is a horizontal lid line. Ratio of horizontal to vertical gradient
  energy (Sobel x / Sobel y) in a patch around each eye, resampled to a fixed size.
- `haar`: OpenCV's Haar eye cascade (trained mostly on open eyes) on the upper face resampled
  to 128 px: how many raw windows fire around the eyes.
The combination is a weighted sum of the three evidences through a logistic, EAR dominating:
landmarks locate the lids to a pixel or two even at 64 px faces, appearance breaks ties.

`eyes_open` is None when the eyes cannot be judged, and `eyes_judgeable` is 0 then, with
`eyes_reason` saying why (see REASONS).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

REASONS = {0: "judgeable", 1: "face too small", 2: "strong profile", 3: "eyes hidden (sunglasses)", 4: "no landmarks"}
MIN_EYE_WIDTH_PX = 5.0  # eye corner to corner in the analysed image
MAX_YAW_DEG = 50.0
CROP_PX = 128

EAR_CENTRE, EAR_SCALE = 0.20, 0.05
# Share of an open eye's lid gap above the line through its corners: the upper lid opens about
# twice as far as the lower one drops (median 0.67 over the neutral open eyes of the tuning crops).
UPPER_LID_SHARE = 0.67
IRIS_CENTRE, IRIS_SCALE = 0.30, 0.5  # log ratio scale
HAAR_CENTRE, HAAR_SCALE = 15.0, 0.8  # raw window count, log scale
WEIGHTS = {"ear": 1.0, "iris": 0.2, "haar": 0.2}

_haar = None


def _cascade():
    global _haar
    if _haar is None:
        _haar = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")
        if _haar.empty():
            _haar = False
    return _haar or None


def _eye_aspect(points: np.ndarray) -> tuple[float, float]:
    """(aspect ratio, corner-to-corner width) of one eye's six points."""
    width = float(np.linalg.norm(points[0] - points[3]))
    gap = (np.linalg.norm(points[1] - points[5]) + np.linalg.norm(points[2] - points[4])) / 2.0
    return float(gap / max(width, 1e-6)), width


def _lid_heights(points: np.ndarray) -> tuple[float, float, float]:
    """(upper lid above the corner line, lower lid below it, both / eye width; eye width) of one
    eye's six points (0 and 3 the corners, 1-2 the upper lid, 4-5 the lower lid)."""
    axis = points[3] - points[0]
    width = max(float(np.linalg.norm(axis)), 1e-6)
    up_normal = np.array([axis[1], -axis[0]]) / width  # image y grows downwards
    upper = float(np.mean((points[1:3] - points[0]) @ up_normal)) / width
    lower = -float(np.mean((points[4:6] - points[0]) @ up_normal)) / width
    return upper, lower, width


def squint_corrected_gap(upper: float, lower: float, smile: float | None) -> float:
    """An eye's opening read from the lids that tell open from closed for this expression.

    The upper lid closes a blink; a Duchenne smile instead pushes the lower lid up (the cheeks
    rise), which narrows an open eye without closing it. So the lower lid's share counts only as
    much as the face is not smiling: the opening is upper + (1 - smile) x lower, put back on the
    scale of the whole opening by dividing by the share of the opening those lids make on an
    open eye (UPPER_LID_SHARE above the corner line). A neutral face reads its plain opening, a
    laughing face its upper lid. Any unit (pixels, eye widths) goes in and comes out.
    """
    lower_weight = 1.0 - min(1.0, max(0.0, smile or 0.0))
    return (upper + lower_weight * lower) / (UPPER_LID_SHARE + lower_weight * (1.0 - UPPER_LID_SHARE))


def ear_score(landmarks: np.ndarray, yaw: float | None, pitch: float | None, smile: float | None = None) -> float:
    """Pose-corrected eye aspect ratio of both eyes, weighted by eye width (the nearer eye counts
    more), read from the lids that tell open from closed for this expression (squint_corrected_gap)."""
    (up1, low1, w1), (up2, low2, w2) = _lid_heights(landmarks[36:42]), _lid_heights(landmarks[42:48])
    upper = (up1 * w1 + up2 * w2) / max(w1 + w2, 1e-6)
    lower = (low1 * w1 + low2 * w2) / max(w1 + w2, 1e-6)
    yaw_r = math.radians(min(abs(yaw or 0.0), 60.0))
    pitch_r = math.radians(min(abs(pitch or 0.0), 45.0))
    # Seen at yaw the eye's width shrinks by about cos(yaw) while its height stays; seen at pitch
    # the height shrinks by about cos(pitch). Undo both.
    return squint_corrected_gap(upper, lower, smile) * math.cos(yaw_r) / max(math.cos(pitch_r), 0.5)


def _normalised_face(grey: np.ndarray, landmarks: np.ndarray):
    """The face square (jaw-to-jaw wide, brows-to-chin high) resampled to CROP_PX, with landmarks mapped."""
    x0, x1 = float(landmarks[:, 0].min()), float(landmarks[:, 0].max())
    y0, y1 = float(landmarks[17:27, 1].min()), float(landmarks[:, 1].max())
    side = max(x1 - x0, y1 - y0, 4.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = CROP_PX / side
    matrix = np.array([[scale, 0, CROP_PX / 2 - cx * scale], [0, scale, CROP_PX / 2 - cy * scale]])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    face = cv2.warpAffine(grey, matrix, (CROP_PX, CROP_PX), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    mapped = landmarks * scale + matrix[:, 2]
    return face, mapped


def _eye_patch(face: np.ndarray, eye: np.ndarray) -> np.ndarray | None:
    cx, cy = eye.mean(axis=0)
    width = float(np.linalg.norm(eye[0] - eye[3]))
    half_w, half_h = width * 0.75, width * 0.45
    x0, x1 = int(round(cx - half_w)), int(round(cx + half_w))
    y0, y1 = int(round(cy - half_h)), int(round(cy + half_h))
    x0, y0 = max(0, x0), max(0, y0)
    patch = face[y0:y1, x0:x1]
    if patch.shape[0] < 4 or patch.shape[1] < 6:
        return None
    return cv2.resize(patch, (32, 20), interpolation=cv2.INTER_AREA).astype(np.float32)


def iris_score(face: np.ndarray, mapped: np.ndarray) -> float | None:
    ratios = []
    for group in (slice(36, 42), slice(42, 48)):
        patch = _eye_patch(face, mapped[group])
        if patch is None:
            continue
        gx = cv2.Sobel(patch, cv2.CV_32F, 1, 0)[3:-3, 3:-3]
        gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1)[3:-3, 3:-3]
        ratios.append(float(np.sum(gx * gx) / (np.sum(gy * gy) + 1e-6)))
    return float(np.mean(ratios)) if ratios else None


def haar_score(face: np.ndarray, mapped: np.ndarray) -> float | None:
    """Raw Haar eye windows (no neighbour grouping) around each eye, summed over both eyes.

    Each eye's region (two eye widths square) is resampled so the eye is 24 px wide, and the
    cascade runs over window sizes 20-40 px only: about 1 ms for both eyes.
    """
    cascade = _cascade()
    if cascade is None:
        return None
    count = 0
    for group in (slice(36, 42), slice(42, 48)):
        eye = mapped[group]
        cx, cy = eye.mean(axis=0)
        width = max(float(np.linalg.norm(eye[0] - eye[3])), 4.0)
        scale = 24.0 / width
        matrix = np.array([[scale, 0, 24 - cx * scale], [0, scale, 24 - cy * scale]])
        region = cv2.warpAffine(face, matrix, (48, 48), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        windows = cascade.detectMultiScale(region, scaleFactor=1.1, minNeighbors=0, minSize=(20, 20), maxSize=(40, 40))
        count += len(windows)
    return float(count)


def sunglasses(face: np.ndarray, eye_points: tuple[np.ndarray, np.ndarray]) -> bool:
    """Eye regions much darker than the cheeks (median < 45 %) and nearly featureless (interquartile range < 10).
    eye_points: each eye's six points in the 68-point layout (0 and 3 the corners), in `face`'s pixels."""
    for eye in eye_points:  # the first eye that is not so ends it: most faces wear none
        cx, cy = eye.mean(axis=0)
        width = float(np.linalg.norm(eye[0] - eye[3]))
        y0 = int(cy + width * 0.9)
        cheek = face[y0:y0 + max(2, int(width * 0.4)), int(cx - width * 0.4):int(cx + width * 0.4)]
        patch = _eye_patch(face, eye)
        if patch is None or cheek.size < 4:
            return False
        q25, q50, q75 = np.percentile(patch, (25, 50, 75))
        if not (float(q50) < 0.45 * float(np.median(cheek)) and float(q75 - q25) < 10.0):
            return False
    return True


def evidence(name: str, value: float | None) -> float:
    if value is None:
        return 0.0
    if name == "ear":
        return (value - EAR_CENTRE) / EAR_SCALE
    if name == "iris":
        return math.log(max(value, 1e-3) / IRIS_CENTRE) / IRIS_SCALE
    return math.log((1.0 + value) / (1.0 + HAAR_CENTRE)) / HAAR_SCALE


def measure_eyes(grey: np.ndarray, landmarks: np.ndarray | None, yaw: float | None,
                 pitch: float | None, smile: float | None = None) -> dict[str, float | None]:
    """eyes_open (0-1 or None), eyes_judgeable (1/0), eyes_reason (code of REASONS), and the components."""
    out: dict[str, float | None] = {"eyes_open": None, "eyes_judgeable": 0.0, "eyes_reason": 4.0,
                                    "eyes_ear": None, "eyes_iris": None, "eyes_haar": None}
    if landmarks is None or len(landmarks) != 68:
        return out
    landmarks = np.asarray(landmarks, dtype=np.float64)
    eye_width = max(_eye_aspect(landmarks[36:42])[1], _eye_aspect(landmarks[42:48])[1])
    if eye_width < MIN_EYE_WIDTH_PX:
        out["eyes_reason"] = 1.0
        return out
    if yaw is not None and abs(yaw) > MAX_YAW_DEG:
        out["eyes_reason"] = 2.0
        return out
    face, mapped = _normalised_face(grey, landmarks)
    if sunglasses(face, (mapped[36:42], mapped[42:48])):
        out["eyes_reason"] = 3.0
        return out
    values = {"ear": ear_score(landmarks, yaw, pitch, smile), "iris": iris_score(face, mapped), "haar": haar_score(face, mapped)}
    total = sum(WEIGHTS[name] * evidence(name, value) for name, value in values.items())
    out.update(
        eyes_open=1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total)))),
        eyes_judgeable=1.0,
        eyes_reason=0.0,
        eyes_ear=values["ear"], eyes_iris=values["iris"], eyes_haar=values["haar"],
    )
    return out
