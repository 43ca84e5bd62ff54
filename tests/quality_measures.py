"""What bench/eval_quality.py measures and tests check alike: the worse copies derived from a photo
(face-blurred, background-blurred, darker, brighter, blurred, shaken, over-compressed, cut by the
frame, small), the eye crops of ../shared/data/eyes split into tuning and held-out halves, the
signals of a face crop, and ROC AUC."""

from __future__ import annotations

import glob
import os

import numpy as np
from PIL import Image, ImageFilter
from shared_data import SHARED_DATA

from photorank.settings import MeasuringSettings


def to_linear(pixels: np.ndarray) -> np.ndarray:
    value = pixels.astype(np.float32) / 255.0
    return np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4)



def to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    value = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(value * 255.0).astype(np.uint8)



def exposed(pixels: np.ndarray, stops: float) -> np.ndarray:
    """The picture as if exposed `stops` more (negative: less), in linear light; highlights clip."""
    return to_srgb(to_linear(pixels) * 2.0**stops)



def gaussian(pixels: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(sigma)))



def face_mask(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """1 over the face and forehead, 0 away from it, with a soft edge (an elliptic mask)."""
    x, y, w, h = box
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    cx, cy = x + w / 2, y + h * 0.4  # dlib's box starts at the brows: the head reaches higher
    distance = np.sqrt(((cols - cx) / (0.7 * w)) ** 2 + ((rows - cy) / (0.95 * h)) ** 2)
    feather = 0.15  # in units of the ellipse radius
    return np.clip((1.0 + feather - distance) / (2 * feather), 0.0, 1.0)[..., None]



def blend(inside: np.ndarray, outside: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.round(inside * mask + outside * (1.0 - mask)).astype(np.uint8)



def motion_blurred(pixels: np.ndarray, length: float, angle_deg: float = 20.0) -> np.ndarray:
    """Average of the picture shifted along a line: the smear of a shaken camera."""
    steps = max(2, int(round(length)))
    angle = np.deg2rad(angle_deg)
    total = np.zeros(pixels.shape, np.float32)
    for step in range(steps):
        offset = step - (steps - 1) / 2
        dx, dy = int(round(offset * np.cos(angle))), int(round(offset * np.sin(angle)))
        total += np.roll(pixels, (dy, dx), axis=(0, 1)).astype(np.float32)
    return np.round(total / steps).astype(np.uint8)



def derive(pixels: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, tuple[np.ndarray, int]]:
    """Every copy of the family: name -> (pixels, JPEG quality)."""
    face_width = box[2]
    mask = face_mask(pixels.shape[:2], box)
    copies = {"original": (pixels, 95)}
    for percent in (1, 2, 4):
        copies[f"face_blur_{percent}"] = (blend(gaussian(pixels, face_width * percent / 100), pixels, mask), 95)
    copies["background_blur"] = (blend(pixels, gaussian(pixels, 0.02 * min(pixels.shape[:2])), mask), 95)
    copies["dark_1"] = (exposed(pixels, -1.0), 95)
    copies["dark_2"] = (exposed(pixels, -2.0), 95)
    copies["bright_1.5"] = (exposed(pixels, 1.5), 95)
    copies["blur"] = (gaussian(pixels, 0.025 * face_width), 95)
    copies["motion"] = (motion_blurred(pixels, 0.08 * face_width), 95)
    copies["jpeg_10"] = (pixels, 10)
    copies["jpeg_20"] = (pixels, 20)
    copies["cut"] = (cut_by_the_frame(pixels, box, 0.25), 95)
    if face_width > 128:
        factor = 64 / face_width
        size = (max(1, round(pixels.shape[1] * factor)), max(1, round(pixels.shape[0] * factor)))
        copies["small"] = (np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)), 95)
    return copies



def cut_by_the_frame(pixels: np.ndarray, box: tuple[int, int, int, int], outside: float) -> np.ndarray:
    """The picture with its left edge moved into the face, so `outside` of the face's width is cut off."""
    return np.ascontiguousarray(pixels[:, int(box[0] + outside * box[2]):])



def largest_face(record):
    return max(record.faces, key=lambda face: face.box[2] * face.box[3])



EYES_CHECK_LABELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eyes_check_labels.txt")


def eye_crops(part: str) -> dict[str, list[str]]:
    """label -> crops in `part`: "tuning" (even positions of each label's sorted file list of
    ../shared/data/eyes, used to set the eyes signal), "held_out" (odd positions, never looked at
    while tuning), or "check" (the crops of ../shared/data/smiles labelled in EYES_CHECK_LABELS:
    an independent set, never tuned on)."""
    if part == "check":
        with open(EYES_CHECK_LABELS) as lines:
            labels = {name: label for label, name in (line.split() for line in lines if not line.startswith("#"))}
        crops = {"open": [], "closed": []}
        for path in sorted(glob.glob(os.path.join(SHARED_DATA, "smiles", "*", "*.jpg"))):
            label = labels.get(os.path.relpath(path, os.path.join(SHARED_DATA, "smiles")), "open")
            if label != "skip":
                crops[label].append(path)
        return crops
    start = {"tuning": 0, "held_out": 1}[part]
    return {label: sorted(glob.glob(os.path.join(SHARED_DATA, "eyes", label, "*.jpg")))[start::2]
            for label in ("open", "closed")}



def crop_signals(path: str, settings: MeasuringSettings | None = None, side: int | None = None) -> dict:
    """The face signals of a face crop (the whole crop is the face, 68 points placed in it),
    optionally shrunk to `side` px first (area averaging, as a small face in a photo)."""
    import cv2

    from photorank.faces.dlib_engine import landmarks_in_box
    from photorank.records import DetectedFace
    from photorank.signals import measure_face

    grey = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if side:
        grey = cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA)
    height, width = grey.shape
    landmarks = landmarks_in_box(np.dstack([grey] * 3), (0, 0, width, height))
    face = DetectedFace((0, 0, width, height), 1.0, np.zeros(128, np.float32), landmarks)
    return measure_face(grey, face, settings)



def eyes_open_of(paths: list[str]) -> list[float | None]:
    """crop_signals' eyes_open of each crop."""
    return [crop_signals(path)["eyes_open"] for path in paths]



def roc_auc(positives: list, negatives: list) -> float:
    """The probability that a positive outranks a negative (ties count half); None values left out."""
    pos = np.asarray([value for value in positives if value is not None], dtype=np.float64)
    neg = np.asarray([value for value in negatives if value is not None], dtype=np.float64)
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))
