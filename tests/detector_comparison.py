"""BlazeFace against dlib's HOG on the same photos, and copies with sunglasses or a mask drawn over
each face: the measurements bench/bench_detection.py prints and tests/test_blazeface_engine.py checks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from shared_data import SHARED_DATA

from photorank.faces.blazeface import iou
from photorank.faces.blazeface_engine import BlazeFaceEngine
from photorank.faces.dlib_engine import DlibEngine
from photorank.images import load_image

MIN_FACE_PX = 40
SAME_FACE_IOU = 0.3


@dataclass
class Comparison:
    """One photo: HOG's boxes, BlazeFace's, and which of each the other lacks."""

    path: str
    hog_boxes: list[tuple[int, int, int, int]]
    blazeface_boxes: list[tuple[int, int, int, int]]
    missed: list[tuple[int, int, int, int]]  # HOG faces >= MIN_FACE_PX that BlazeFace lacks
    extra: list[tuple[tuple[int, int, int, int], float]]  # BlazeFace's own, with its score


def shared_photos(*folders: str) -> list[str]:
    paths = []
    for folder in folders:
        directory = os.path.join(SHARED_DATA, folder)
        if os.path.isdir(directory):
            paths += sorted(os.path.join(directory, name) for name in os.listdir(directory))
    return paths


def matched(box, boxes) -> int | None:
    """Index of the box of `boxes` that is the same face as `box`, if any."""
    if not len(boxes):
        return None
    overlaps = iou(np.asarray(box, dtype=float), np.asarray(boxes, dtype=float))
    best = int(overlaps.argmax())
    return best if overlaps[best] >= SAME_FACE_IOU else None


def compare(path: str, hog: DlibEngine, blazeface: BlazeFaceEngine) -> tuple[Comparison, float, float]:
    """The comparison on one photo at the analysis size, and each detector's time (s)."""
    pixels = load_image(path, max_side=blazeface.max_side).pixels
    start = time.perf_counter()
    rects, _ = hog._find_boxes(pixels)
    hog_time = time.perf_counter() - start
    start = time.perf_counter()
    detections = blazeface.find_boxes(pixels)
    blazeface_time = time.perf_counter() - start
    hog_boxes = [(r.left(), r.top(), r.width(), r.height()) for r in rects]
    found = [tuple(round(v) for v in d.box) for d in detections]
    matches = [matched(box, found) for box in hog_boxes]
    missed = [box for box, match in zip(hog_boxes, matches) if match is None and box[2] >= MIN_FACE_PX]
    extra = [(box, round(d.score, 2)) for index, (box, d) in enumerate(zip(found, detections)) if index not in matches]
    return Comparison(path, hog_boxes, found, missed, extra), hog_time, blazeface_time


def compare_all(paths: list[str]) -> tuple[list[Comparison], float, float]:
    """The comparison on each photo, and each detector's time over all of them (s)."""
    hog, blazeface = DlibEngine(), BlazeFaceEngine()
    hog._load()
    rows, hog_time, blazeface_time = [], 0.0, 0.0
    for path in paths:
        row, hog_seconds, blazeface_seconds = compare(path, hog, blazeface)
        rows.append(row)
        hog_time += hog_seconds
        blazeface_time += blazeface_seconds
    return rows, hog_time, blazeface_time


def draw_sunglasses(image: Image.Image, landmarks: np.ndarray) -> Image.Image:
    """Dark lenses over both eyes (68-point eyes and brows) and a bridge between them."""
    copy = image.copy()
    draw = ImageDraw.Draw(copy)
    eye_width = np.linalg.norm(landmarks[39] - landmarks[36])
    for eye in (landmarks[36:42], landmarks[42:48]):
        cx, cy = eye.mean(axis=0)
        rx, ry = eye_width * 0.95, eye_width * 0.7
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(15, 15, 20))
    left, right = landmarks[39], landmarks[42]
    draw.line((tuple(left), tuple(right)), fill=(15, 15, 20), width=max(2, round(eye_width * 0.2)))
    return copy


def draw_mask(image: Image.Image, landmarks: np.ndarray) -> Image.Image:
    """A light-blue surgical mask from the nose bridge down over the jaw line."""
    copy = image.copy()
    outline = [tuple(p) for p in landmarks[1:16]] + [tuple(landmarks[29])]
    ImageDraw.Draw(copy).polygon(outline, fill=(170, 200, 225))
    return copy


OCCLUSIONS = {"sunglasses": draw_sunglasses, "mask": draw_mask}


def occlusion_recall(paths: list[str]) -> dict[str, dict[str, tuple[int, int, int]]]:
    """{occlusion: {engine: (faces, found, matched)}} over the HOG faces of single-person photos."""
    hog, blazeface = DlibEngine(), BlazeFaceEngine()
    engines = {"HOG (dlib)": hog, "BlazeFace": blazeface}
    counts = {name: {engine: [0, 0, 0] for engine in engines} for name in OCCLUSIONS}
    for path in paths:
        pixels = load_image(path, max_side=2048).pixels
        image = Image.fromarray(pixels)
        originals = hog.detect(pixels)
        if len(originals) != 1:
            continue
        [face] = originals
        # Identity against each engine's own embedding of the unoccluded face.
        own = {"HOG (dlib)": originals, "BlazeFace": blazeface.detect(pixels)}
        for occlusion, draw in OCCLUSIONS.items():
            occluded = np.asarray(draw(image, face.landmarks))
            for name, engine in engines.items():
                reference = matched(face.box, [f.box for f in own[name]])
                found = engine.detect(occluded)
                index = matched(face.box, [f.box for f in found])
                tally = counts[occlusion][name]
                tally[0] += 1
                if index is not None:
                    tally[1] += 1
                    tally[2] += reference is not None and bool(
                        found[index].embedding @ own[name][reference].embedding >= engine.match_threshold)
    return {occlusion: {name: tuple(tally) for name, tally in by_engine.items()} for occlusion, by_engine in counts.items()}


def added_up(recalls: list[dict[str, dict[str, tuple[int, int, int]]]]) -> dict[str, dict[str, tuple[int, int, int]]]:
    """occlusion_recall's counts over several parts of the photos, as over all of them."""
    return {occlusion: {name: tuple(int(sum(counts)) for counts in zip(*(recall[occlusion][name] for recall in recalls)))
                        for name in by_engine}
            for occlusion, by_engine in recalls[0].items()}
