"""The insightface engine: SCRFD detection with 5 keypoints and 512-d ArcFace embeddings.

It wraps insightface's own `FaceAnalysis` (onnxruntime on the CPU) over a model pack such as
buffalo_l or buffalo_s. The pack is not on PyPI: insightface downloads it from the internet into
its model root (`~/.insightface/models/<pack>/`) the first time it is used. This module never
triggers that download: `model_pack_present` only looks at files on disk, and the engine raises
`EngineUnavailable` when the pack is missing, so `--engine auto` falls back to dlib offline.

The model root is, in order: the `root` argument, the `PHOTORANK_INSIGHTFACE_ROOT` environment
variable, insightface's default `~/.insightface`. The pack is the `pack` argument, else
`PHOTORANK_INSIGHTFACE_PACK`, else the first of buffalo_l, buffalo_s found on disk.

Downloading is an explicit step: `fetch_model_pack` (or `InsightFaceEngine(download=True)`) runs
insightface's own download of the pack's zip into the model root; it needs the internet.
"""

from __future__ import annotations

import glob
import hashlib
import math
import os
from collections.abc import Sequence

import numpy as np

from ..records import DetectedFace
from . import EngineSpec, EngineUnavailable
from .onnx_providers import CPU, resolve

ROOT_ENV = "PHOTORANK_INSIGHTFACE_ROOT"
PACK_ENV = "PHOTORANK_INSIGHTFACE_PACK"
DEFAULT_ROOT = "~/.insightface"  # insightface's own default model root
DEFAULT_PACKS = ("buffalo_l", "buffalo_s")  # tried in this order when no pack is named

# Not calibrated by photorank (docs/engines.md says why).
# ArcFace (w600k_r50 / w600k_mbf) cosine similarity of the same person is typically 0.5-0.8 on
# good photos and falls towards 0.3 with pose, blur and age; different people are mostly < 0.2.
# insightface's own evaluation tool defaults to 0.4 and marks 0.35-0.4 "uncertain"; one
# reference photo matched against a whole library favours recall, hence its lower edge.
DEFAULT_MATCH_THRESHOLD = 0.35

# SCRFD's smallest anchors are 16 px at stride 8: a face is found reliably from about 20 px
# across in the detector's input. The detector sees the image letterboxed into det_size, so a
# `min_face_px` face in a `max_side` image needs a det side of max_side * 20 / min_face_px.
DETECTOR_MIN_FACE_PX = 20
BASE_DET_SIDE = 640  # insightface's standard size: large faces (up to ~500 px there) are found at it
DET_ALIGN = 32  # SCRFD's largest stride: det sizes are multiples of it

# (path, size, mtime_ns) -> task / digest: a pack is inspected once per process per file version.
_task_cache: dict[tuple[str, int, int], str | None] = {}
_digest_cache: dict[tuple[str, int, int], str] = {}


def model_root(root: str | None = None) -> str:
    """insightface's model root (the folder holding `models/`), with `~` expanded."""
    return os.path.abspath(os.path.expanduser(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT))


def pack_dir(pack: str, root: str | None = None) -> str:
    return os.path.join(model_root(root), "models", pack)


def model_pack_present(pack: str | None = None, root: str | None = None) -> bool:
    """Whether the pack (or, with no pack named, any default pack) is on disk with at least one
    detection and one recognition ONNX model. Looks at files only; never downloads."""
    return _find_pack(pack, root) is not None


def fetch_model_pack(pack: str = DEFAULT_PACKS[0], root: str | None = None) -> str:
    """Download and unpack `pack` into the model root with insightface's own downloader (from
    insightface's GitHub model-zoo release); returns the pack folder. Raises EngineUnavailable
    when that fails (no internet) or the archive holds no usable pack."""
    directory = pack_dir(pack, root)
    try:
        from insightface.utils import storage

        storage.download("models", pack, force=True, root=model_root(root))
    except ImportError as error:
        raise EngineUnavailable(f"downloading {pack} needs insightface: pip install insightface ({error})") from error
    except Exception as error:  # requests' connection errors, HTTP errors, a bad zip
        raise EngineUnavailable(f"could not download insightface model pack {pack} into {directory}: {error}") from error
    missing = _missing_tasks(directory)
    if missing:
        raise EngineUnavailable(f"the downloaded insightface pack {pack} in {directory} has no {' or '.join(missing)} model")
    return directory


def _find_pack(pack: str | None, root: str | None) -> str | None:
    candidates = [pack] if pack else ([os.environ[PACK_ENV]] if os.environ.get(PACK_ENV) else list(DEFAULT_PACKS))
    for name in candidates:
        if not _missing_tasks(pack_dir(name, root)):
            return name
    return None


def _missing_tasks(directory: str) -> list[str]:
    """Which of detection/recognition the pack folder lacks (all, if there is no folder)."""
    found = {_onnx_task(path) for path in glob.glob(os.path.join(directory, "*.onnx"))}
    return [task for task in ("detection", "recognition") if task not in found]


def _first_model(directory: str, task: str) -> str:
    return next(path for path in sorted(glob.glob(os.path.join(directory, "*.onnx"))) if _onnx_task(path) == task)


def _file_key(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return os.path.realpath(path), stat.st_size, stat.st_mtime_ns


def _onnx_task(path: str) -> str | None:
    """The task insightface's ModelRouter gives an ONNX file, read from its graph's inputs and
    outputs as the router does: >= 5 outputs is a detector (SCRFD/RetinaFace); a square input of
    112 px or more in steps of 16, other than the landmark (192), attribute (96) and swapper
    (two inputs, 128) shapes, is a recognition model (ArcFace)."""
    try:
        key = _file_key(path)
    except OSError:
        return None
    if key in _task_cache:
        return _task_cache[key]
    task = None
    try:
        import onnx

        graph = onnx.load_model(path, load_external_data=False).graph
        dims = [d.dim_value if d.HasField("dim_value") else None for d in graph.input[0].type.tensor_type.shape.dim]
        if len(graph.output) >= 5:
            task = "detection"
        elif len(dims) == 4 and dims[2] and dims[2] == dims[3]:
            side = dims[2]
            if side not in (96, 192) and not (len(graph.input) == 2 and side == 128) and side >= 112 and side % 16 == 0:
                task = "recognition"
    except Exception:  # unreadable or truncated file (e.g. an interrupted download): not a model
        task = None
    _task_cache[key] = task
    return task


def _file_identity(path: str) -> str:
    """File name, size and a short content hash: names a model file across machines."""
    key = _file_key(path)
    if key not in _digest_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _digest_cache[key] = digest.hexdigest()[:12]
    return f"{os.path.basename(path)}:{key[1]}:{_digest_cache[key]}"


def detection_sizes(max_side: int, min_face_px: int) -> list[tuple[int, int]]:
    """Square det sizes that find faces from `min_face_px` up to frame-filling in a `max_side` image:
    the standard 640 for large faces, plus a larger size when small faces would shrink below
    DETECTOR_MIN_FACE_PX at 640 (never larger than the image itself)."""
    needed = max_side * DETECTOR_MIN_FACE_PX / max(1, min_face_px)
    side = min(_align(needed), _align(max_side))
    sizes = [(BASE_DET_SIDE, BASE_DET_SIDE)]
    if side > BASE_DET_SIDE:
        sizes.append((side, side))
    return sizes


def _align(value: float) -> int:
    return int(math.ceil(value / DET_ALIGN) * DET_ALIGN)


class InsightFaceEngine:
    """insightface's FaceAnalysis (detection + recognition only) in onnxruntime, on the CPU
    unless `onnx_providers` names others ([analysis] onnx_providers)."""

    max_side = 2048

    def __init__(
        self,
        pack: str | None = None,
        root: str | None = None,
        det_size: tuple[int, int] | list[tuple[int, int]] | None = None,
        max_side: int | None = None,
        min_face_px: int = 40,
        det_thresh: float = 0.5,
        match_threshold: float | None = None,
        download: bool = False,
        onnx_providers: Sequence[str] = (CPU,),
    ):
        """`pack` None picks PHOTORANK_INSIGHTFACE_PACK or the first default pack on disk.
        `det_size`: a (w, h) pair or a list of pairs run together (insightface merges them with
        NMS); None derives them from `max_side` and `min_face_px` (see detection_sizes).
        `download`: fetch a missing pack (needs the internet) instead of raising EngineUnavailable."""
        if max_side:
            self.max_side = max_side
        self.min_face_px = min_face_px
        self.match_threshold = DEFAULT_MATCH_THRESHOLD if match_threshold is None else float(match_threshold)
        self.root = model_root(root)
        name = pack or _find_pack(None, root) or (os.environ.get(PACK_ENV) or DEFAULT_PACKS[0])
        directory = pack_dir(name, root)
        missing = _missing_tasks(directory)
        if missing and download:
            fetch_model_pack(name, root)
            missing = _missing_tasks(directory)
        if missing:
            where = os.path.join(self.root, "models")
            detail = "" if not os.path.isdir(directory) else f" (the folder {directory} has no {' or '.join(missing)} .onnx model)"
            raise EngineUnavailable(
                f"insightface model pack {name} not found in {where}{detail}; get it with "
                f"`photorank models fetch --insightface {name}` where the internet is reachable (see docs/engines.md), or use --engine dlib"
            )
        try:
            import insightface
        except ImportError as error:
            raise EngineUnavailable(f"the insightface engine needs insightface and onnxruntime: pip install insightface onnxruntime ({error})") from error
        self.det_size = list(det_size) if det_size and isinstance(det_size[0], (tuple, list)) else det_size
        if not self.det_size:
            self.det_size = detection_sizes(self.max_side, min_face_px)
        self.det_thresh = det_thresh
        self.onnx_providers = onnx_providers
        self.pack = name
        self.directory = directory
        self._app = None  # FaceAnalysis loads on first detect(): a warm re-rank never pays for it
        # FaceAnalysis keeps the first model of each task in sorted file order; name the same files.
        self.model_files = {task: _first_model(directory, task) for task in ("detection", "recognition")}
        self.id = "-".join(
            [f"insightface-{insightface.__version__}", name, *(_file_identity(self.model_files[t]) for t in ("detection", "recognition"))]
        )
        self.settings_key = f"side{self.max_side}-det{'+'.join(f'{w}x{h}' for w, h in _as_size_list(self.det_size))}-thresh{det_thresh}"

    def _load(self) -> None:
        from insightface.app import FaceAnalysis

        try:
            # The pack's absolute folder as `name`: FaceAnalysis then loads it as it is, without
            # its download step and without a same-named folder in the working directory
            # shadowing the model root.
            providers = resolve(self.onnx_providers)
            app = FaceAnalysis(name=self.directory, root=self.root, providers=providers, allowed_modules=["detection", "recognition"])
            # A negative ctx_id moves every model to the CPU; 0 keeps the providers (device 0).
            app.prepare(ctx_id=-1 if providers == [CPU] else 0, det_thresh=self.det_thresh, det_size=self.det_size)
        except Exception as error:  # a corrupt file, an ONNX Runtime too old for the models, ...
            raise EngineUnavailable(f"insightface could not load model pack {self.pack} from {self.directory}: {error!r}") from error
        if "recognition" not in app.models:
            raise EngineUnavailable(f"insightface found no recognition model in {self.directory}")
        self._app = app

    @property
    def providers(self) -> list[str]:
        """The execution providers the recognition model runs on (the models load first)."""
        if self._app is None:
            self._load()
        return self._app.models["recognition"].session.get_providers()

    @staticmethod
    def confidence(detector_score: float) -> float:
        """SCRFD's score is already a probability."""
        return float(detector_score)

    def detect(self, pixels: np.ndarray) -> list[DetectedFace]:
        if self._app is None:
            self._load()
        pixels = _as_rgb(pixels)
        height, width = pixels.shape[:2]
        bgr = np.ascontiguousarray(pixels[:, :, ::-1])  # insightface takes OpenCV's BGR order
        faces = []
        for face in self._app.get(bgr):
            if face.embedding is None:
                continue
            embedding = np.asarray(face.embedding, dtype=np.float32).ravel()
            embedding /= np.linalg.norm(embedding) + 1e-12
            landmarks = None if face.kps is None else np.asarray(face.kps, dtype=np.float32).reshape(-1, 2)
            faces.append(
                DetectedFace(
                    box=_box_from_corners(face.bbox, width, height),
                    detector_score=float(face.det_score),
                    embedding=embedding,
                    landmarks=landmarks,
                )
            )
        return faces


def _as_size_list(det_size) -> list[tuple[int, int]]:
    return [tuple(size) for size in det_size] if isinstance(det_size[0], (tuple, list)) else [tuple(det_size)]


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return pixels[:, :, :3]
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {pixels.shape}")
    return pixels


def _box_from_corners(bbox, width: int, height: int) -> tuple[int, int, int, int]:
    """insightface's float (x1, y1, x2, y2), which may reach past the frame, as an integer
    (x, y, w, h) inside it."""
    x1, y1, x2, y2 = (float(v) for v in bbox[:4])
    left, top = min(max(0, round(x1)), width - 1), min(max(0, round(y1)), height - 1)
    right, bottom = min(width, round(x2)), min(height, round(y2))
    return left, top, max(1, right - left), max(1, bottom - top)


ENGINE = EngineSpec(
    name="insightface", detector="scrfd", section="insightface", factory=InsightFaceEngine,
    options=frozenset({"pack", "root", "det_size", "det_thresh", "match_threshold", "download"}),
    summary="insightface SCRFD detector and ArcFace embedding (auto's choice when its pack is present)",
    chosen_by_auto=lambda options: model_pack_present(options.get("pack"), options.get("root")),
)
