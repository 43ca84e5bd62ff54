"""dlib's model files, from the `face_recognition_models` package: where they are, and the
68-point predictor loaded once per process. Shared by the dlib engine, the BlazeFace engine, the
signals and the ONNX conversion of the ResNet (resnet_onnx.py), which imports no engine.
"""

from __future__ import annotations

import functools
import importlib.util
import os

from . import EngineUnavailable

MODEL_PACKAGE = "face_recognition_models"
LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"


def model_path(filename: str) -> str:
    """Path of a model file shipped by `face_recognition_models`, located without importing it
    (its __init__ needs pkg_resources, which current setuptools no longer ship)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"the dlib engine needs the '{MODEL_PACKAGE}' package: pip install {MODEL_PACKAGE}")
    path = os.path.join(spec.submodule_search_locations[0], "models", filename)
    if not os.path.exists(path):
        raise EngineUnavailable(f"model file missing from {MODEL_PACKAGE}: {path}")
    return path


@functools.cache
def landmark_predictor():
    """dlib's 68-point predictor, loaded once per process: the engine and the signals share it."""
    import dlib

    return dlib.shape_predictor(model_path(LANDMARKS_68))
