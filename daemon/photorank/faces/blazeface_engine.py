"""The BlazeFace engine: BlazeFace finds the faces, dlib places 68 landmarks and embeds them.

BlazeFace (MediaPipe's CNN detectors, run by LiteRT; faces.blazeface) replaces dlib's HOG
detector: a fifth of its time on the shared photos, every face HOG finds there found too, and faces
behind sunglasses and masks that HOG misses (docs/engines.md). Identity stays dlib's 128-d
ResNet with the alignment it was trained with: each BlazeFace box is mapped to the box shape
dlib's landmark predictor was trained on (calibrated against HOG boxes), the 68 landmarks are
placed in it (twice for a face that fills the frame: the second time in the box the first
landmarks imply), and the ResNet embeds the face chips those landmarks align.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence

import numpy as np

from ..records import DetectedFace
from . import EngineSpec, EngineUnavailable
from .blazeface import LAYOUT, BlazeFaceDetector, Detection, iou
from .dlib_engine import ResNetEmbedding, clip_box, dlib_version, hog_boxes, hog_upsampling, load_shared_models
from .dlib_models import RESNET, landmark_predictor, model_path
from .onnx_providers import CPU

# A BlazeFace box mapped to the HOG box dlib's predictors were trained with: HOG's is this much
# the width and its centre this much of the width lower. Medians over 114 faces of ../shared/data
# found by both (spread: 0.08 in scale, 0.04 in offset).
HOG_BOX_SCALE = 0.93
HOG_BOX_CENTRE_DOWN = 0.01
# On a face that fills at least this share of the frame (a tight crop, a selfie: the short-range
# model's), BlazeFace's box strays from HOG's, and the landmarks are placed a second time, in the
# box HOG would give around the first pass's brows, eyes and nose (points 17-47): HOG's box is
# this much the width of those points, its centre this much of that width below their mean.
# Medians over HOG's boxes and landmarks on 215 faces of ../shared/data/people, whole photos and
# 150-px tight crops of them at the framing of the cast's crops (spread 0.13 in scale). On those
# crops the second pass raises the mean IoU with HOG's box from 0.78 to 0.83. Not on smaller
# faces: behind a drawn mask the first pass's points stray and the second pass costs identity.
SECOND_PASS_FACE_SHARE = 0.5
UPPER_FACE_POINTS = slice(17, 48)
HOG_BOX_PER_UPPER_WIDTH = 1.262
HOG_BOX_CENTRE_BELOW_UPPER = 0.264
# A doubtful box is shown to HOG with this share of its width added on each side (HOG's window
# holds some of the head around the face), and HOG's face must overlap it by this IoU.
HOG_CHECK_MARGIN = 0.5
HOG_CHECK_IOU = 0.3


class BlazeFaceEngine:
    """BlazeFace boxes, dlib's 68 landmarks and 128-d ResNet embeddings, batched per photo."""

    # The embedding is dlib's ResNet, aligned as dlib_engine does: its calibrated threshold holds
    # (bench/eval_identity.py, docs/calibration.md).
    match_threshold = 0.915
    max_side = 2048

    def __init__(self, min_face_px: int = 40, max_side: int | None = None, min_score: float = 0.5,
                 min_score_without_hog: float = 0.6, merge_iou: float = 0.3, threads: int = 1,
                 embedding: str = "onnxruntime", onnx_providers: Sequence[str] = (CPU,)):
        try:
            litert = importlib.metadata.version("ai-edge-litert")
        except importlib.metadata.PackageNotFoundError as error:
            raise EngineUnavailable("the blazeface engine needs LiteRT: pip install ai-edge-litert") from error
        self.embed_faces = ResNetEmbedding(embedding, model_path(RESNET), onnx_providers)
        if max_side:
            self.max_side = max_side
        self.detector = BlazeFaceDetector(min_face_px, min_score, merge_iou, threads)
        self.min_score_without_hog = min_score_without_hog
        self.id = f"blazeface-{LAYOUT}-litert{litert}-dlib-{dlib_version()}-resnet128"
        self.settings_key = (f"side{self.max_side}-min{min_face_px}-score{min_score}-hogbelow{min_score_without_hog}"
                             f"-iou{merge_iou}-secondpass{SECOND_PASS_FACE_SHARE}")

    def find_boxes(self, pixels: np.ndarray) -> list[Detection]:
        """BlazeFace's detections; below `min_score_without_hog` only those where HOG sees a face
        too: BlazeFace's doubtful boxes include non-faces (hair, patterns) that then match people."""
        return [d for d in self.detector.detect(pixels)
                if d.score >= self.min_score_without_hog or hog_confirms(pixels, hog_shaped_rect(d))]

    def detect(self, pixels: np.ndarray) -> list[DetectedFace]:
        pixels = np.ascontiguousarray(pixels)
        detections = self.find_boxes(pixels)
        if not detections:
            return []
        height, width = pixels.shape[:2]
        predictor = landmark_predictor()
        rects = [hog_shaped_rect(d) for d in detections]
        rects = [hog_box_from_landmarks(predictor(pixels, rect)) if d.box[2] >= SECOND_PASS_FACE_SHARE * max(width, height)
                 else rect for d, rect in zip(detections, rects)]
        shapes = [predictor(pixels, rect) for rect in rects]
        embeddings = self.embed_faces(pixels, shapes)
        return [
            DetectedFace(
                box=clip_box(rect.left(), rect.top(), rect.width(), rect.height(), width, height),
                detector_score=detection.score,
                embedding=embedding,
                landmarks=np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32),
            )
            for detection, rect, shape, embedding in zip(detections, rects, shapes, embeddings)
        ]

    @staticmethod
    def confidence(detector_score: float) -> float:
        """BlazeFace's probability (0.5 doubtful .. 0.95 clear face) as 0-1 on the scale of the
        other engines: 0.5 at 0.6, 0.88 at 0.75."""
        return 1.0 / (1.0 + math.exp(-(detector_score - 0.6) / 0.075))


def hog_confirms(pixels: np.ndarray, rect) -> bool:
    """dlib's HOG, run on a crop around `rect` (upsampled so the face fills its window), finds a
    face that overlaps it."""
    margin = round(rect.width() * HOG_CHECK_MARGIN)
    left, top = max(0, rect.left() - margin), max(0, rect.top() - margin)
    crop = pixels[top:max(top, rect.bottom() + margin + 1), left:max(left, rect.right() + margin + 1)]
    if crop.size == 0:
        return False
    rects, _ = hog_boxes(crop, hog_upsampling(rect.width()))
    if not rects:
        return False
    box = np.array([rect.left() - left, rect.top() - top, rect.width(), rect.height()], dtype=float)
    found = np.array([(r.left(), r.top(), r.width(), r.height()) for r in rects], dtype=float)
    return bool(iou(box, found).max() >= HOG_CHECK_IOU)


def hog_shaped_rect(detection: Detection):
    """The dlib rectangle of the box HOG would give for this face."""
    x, y, w, h = detection.box
    return square_rect(x + w / 2, y + h / 2 + HOG_BOX_CENTRE_DOWN * w, w * HOG_BOX_SCALE)


def hog_box_from_landmarks(shape):
    """The dlib rectangle of the box HOG would give for a face whose landmarks are `shape`, from
    its brows, eyes and nose only (an open mouth or a beard moves the lower points)."""
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=float)[UPPER_FACE_POINTS]
    width = points[:, 0].max() - points[:, 0].min()
    cx, cy = points.mean(axis=0) + (0.0, HOG_BOX_CENTRE_BELOW_UPPER * width)
    return square_rect(cx, cy, width * HOG_BOX_PER_UPPER_WIDTH)


def square_rect(cx: float, cy: float, side: float):
    """The dlib rectangle of a square of `side` pixels centred at (cx, cy)."""
    import dlib

    left, top = round(cx - side / 2), round(cy - side / 2)
    return dlib.rectangle(left, top, left + round(side) - 1, top + round(side) - 1)


ENGINE = EngineSpec(
    name="blazeface", detector="blazeface", section="blazeface", factory=BlazeFaceEngine,
    options=frozenset({"min_score", "min_score_without_hog", "merge_iou", "threads", "embedding"}),
    summary="MediaPipe BlazeFace (LiteRT), dlib 68 landmarks and ResNet embedding (offline default; finds masked faces)",
    shared_models=load_shared_models,
)
