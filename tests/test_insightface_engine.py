"""The insightface adapter against insightface's real FaceAnalysis, on small ONNX models built by
tests/onnx_models.py and written into a temporary model root as a pack (no download, no canned
detections: every box, keypoint and embedding is computed by ONNX Runtime from the image)."""

from __future__ import annotations

import os
import shutil
import socket

import numpy as np
import pytest

from onnx_models import ARCFACE_TEMPLATE, expected_embedding, write_pack
from photorank.faces import DEFAULT_ENGINE, EngineUnavailable, load_engine
from photorank.faces import insightface_engine as ife
from photorank.faces.insightface_engine import InsightFaceEngine, detection_sizes, model_pack_present

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # skimage deprecation inside insightface

BACKGROUND = 10
DET = 640
# Square centres in the detector's 640 input: multiples of 32, where the toy detector's stride-32
# anchors sit; squares 64 px there. Two with pattern A, one with pattern B, one blue.
DET_CENTRES = {"a1": (224, 160), "a2": (416, 160), "b": (224, 352), "blue": (416, 352)}
DET_SQUARE = 64


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """Never look at the user's ~/.insightface or their photorank settings."""
    monkeypatch.delenv(ife.ROOT_ENV, raising=False)
    monkeypatch.delenv(ife.PACK_ENV, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent-home-for-tests")


@pytest.fixture
def pack_root(tmp_path):
    write_pack(tmp_path)
    return tmp_path


def scene(scale: float, portrait: bool = False):
    """An RGB image whose red squares land on the detector's grid after insightface's letterbox
    resize by `scale`. Returns the image and each square's (x, y, side) in image pixels."""
    width, height = round(DET / scale), round(DET * 0.75 / scale)
    if portrait:
        width, height = height, width
    image = np.full((height, width, 3), BACKGROUND, np.uint8)
    side = round(DET_SQUARE / scale)
    squares = {}
    for name, (dx, dy) in DET_CENTRES.items():
        cx, cy = round(dx / scale), round(dy / scale)
        if portrait:
            cx, cy = cy, cx
        x, y = cx - side // 2, cy - side // 2
        region = image[y : y + side, x : x + side]
        if name == "blue":
            region[..., 2] = 255
        else:
            region[..., 0] = 255
            if name.startswith("a"):
                region[:, : side // 2, 1] = 255  # left half yellow
            else:
                region[: side // 2, :, 1] = 255  # top half yellow
        squares[name] = (x, y, side)
    return image, squares


def face_at(faces, square):
    x, y, side = square
    centre = np.array([x + side / 2, y + side / 2])
    for face in faces:
        fx, fy, fw, fh = face.box
        if np.abs(np.array([fx + fw / 2, fy + fh / 2]) - centre).max() < side / 4:
            return face
    return None


@pytest.mark.parametrize("scale, portrait", [(0.5, False), (0.8, False), (2.0, False), (0.5, True)])
def test_boxes_keypoints_and_embeddings_in_image_coordinates(pack_root, scale, portrait):
    engine = InsightFaceEngine(root=str(pack_root), det_size=(DET, DET))
    image, squares = scene(scale, portrait)
    faces = engine.detect(image)

    assert len(faces) == 3, [f.box for f in faces]  # the blue square is no face: RGB reached the model as RGB
    assert face_at(faces, squares["blue"]) is None
    for name in ("a1", "a2", "b"):
        face = face_at(faces, squares[name])
        assert face is not None, name
        x, y, side = squares[name]
        assert np.abs(np.array(face.box) - np.array([x, y, side, side])).max() <= 1
        assert all(isinstance(v, int) for v in face.box)
        assert 0.9 < face.detector_score <= 1.0
        assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
        expected_kps = np.array([x, y]) + ARCFACE_TEMPLATE / 112.0 * side
        assert np.abs(face.landmarks - expected_kps).max() < 0.02 * side + 0.5
        assert face.embedding.dtype == np.float32 and face.embedding.shape == (512,)
        assert abs(np.linalg.norm(face.embedding) - 1.0) < 1e-5
        # the embedding is the projection of this square's own pixels, in RGB order
        crop = image[y : y + side, x : x + side]
        assert float(np.dot(face.embedding, expected_embedding(crop))) > 0.995

    a1, a2, b = (face_at(faces, squares[n]).embedding for n in ("a1", "a2", "b"))
    assert float(np.dot(a1, a2)) > 0.999  # identical crops
    assert float(np.dot(a1, b)) < 0.9  # different crops


def test_box_clipped_to_the_frame():
    assert ife._box_from_corners([-5.2, -3.0, 50.4, 40.6], 40, 30) == (0, 0, 40, 30)
    assert ife._box_from_corners([10.4, 5.6, 20.5, 15.0], 100, 100) == (10, 6, 10, 9)


def test_grayscale_and_rgba_input(pack_root):
    engine = InsightFaceEngine(root=str(pack_root), det_size=(DET, DET))
    image, squares = scene(0.5)
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    assert [f.box for f in engine.detect(rgba)] == [f.box for f in engine.detect(image)]
    gray = np.full((480, 640), BACKGROUND, np.uint8)
    gray[128:192, 192:256] = 255  # white has a bright red channel too
    (face,) = engine.detect(gray)
    assert face.box == (192, 128, 64, 64)
    assert engine.detect(np.full((480, 640, 3), BACKGROUND, np.uint8)) == []


def test_small_faces_need_the_larger_detector_size(pack_root):
    """A face too small for the 640 input is found when a larger size runs alongside it; the
    large face, found at 640, is not reported twice."""
    image, squares = scene(0.5)
    image[792:808, 1048:1064, 0] = 255  # a 16-px square: 8 px at 640, below the smallest window
    small = (1048, 792, 16)

    only_640 = InsightFaceEngine(root=str(pack_root), det_size=(DET, DET)).detect(image)
    assert face_at(only_640, small) is None and len(only_640) == 3

    both = InsightFaceEngine(root=str(pack_root), det_size=[(DET, DET), (1280, 1280)]).detect(image)
    assert len(both) == 4
    assert face_at(both, small).box == (*small[:2], 16, 16)
    for name in ("a1", "a2", "b"):
        assert face_at(both, squares[name]) is not None


def test_detection_sizes_follow_the_smallest_face():
    assert detection_sizes(2048, 40) == [(640, 640), (1024, 1024)]  # 40 px -> 20 px at 1024
    assert detection_sizes(1280, 40) == [(640, 640)]
    assert detection_sizes(2048, 10) == [(640, 640), (2048, 2048)]  # never beyond the image
    assert detection_sizes(1000, 40) == [(640, 640)]


def test_default_detector_sizes_and_options(pack_root):
    engine = InsightFaceEngine(root=str(pack_root), max_side=2048, min_face_px=40)
    assert engine.det_size == [(640, 640), (1024, 1024)]
    assert engine.max_side == 2048
    assert 0.3 <= engine.match_threshold <= 0.45
    assert InsightFaceEngine(root=str(pack_root), match_threshold=0.5).match_threshold == 0.5


def test_id_names_pack_and_model_files(tmp_path):
    write_pack(tmp_path / "one", seed=0)
    write_pack(tmp_path / "two", seed=1)  # same detector, another recognition model
    write_pack(tmp_path / "one", pack="buffalo_s", seed=0)
    first = InsightFaceEngine(root=str(tmp_path / "one"), pack="buffalo_l")
    again = InsightFaceEngine(root=str(tmp_path / "one"), pack="buffalo_l")
    other_model = InsightFaceEngine(root=str(tmp_path / "two"), pack="buffalo_l")
    other_pack = InsightFaceEngine(root=str(tmp_path / "one"), pack="buffalo_s")
    assert first.id == again.id
    assert first.id.startswith("insightface-") and "buffalo_l" in first.id
    assert "det.onnx" in first.id and "rec.onnx" in first.id
    assert other_model.id != first.id
    assert other_pack.id != first.id and "buffalo_s" in other_pack.id
    assert first.pack == "buffalo_l"
    assert set(first.model_files) == {"detection", "recognition"}


def test_model_pack_present_checks_files_only(tmp_path):
    assert not model_pack_present(root=str(tmp_path))
    assert not model_pack_present("buffalo_l", root=str(tmp_path))
    write_pack(tmp_path, recognition=False)  # a detector alone is not a pack
    assert not model_pack_present("buffalo_l", root=str(tmp_path))
    truncated = tmp_path / "models" / "buffalo_l" / "w600k_r50.onnx"
    truncated.write_bytes(b"\x08\x07partial download")
    assert not model_pack_present("buffalo_l", root=str(tmp_path))
    write_pack(tmp_path)
    assert model_pack_present("buffalo_l", root=str(tmp_path))
    assert model_pack_present(root=str(tmp_path))  # any default pack
    assert not model_pack_present("buffalo_s", root=str(tmp_path))


def test_pack_found_by_other_names_and_default_order(tmp_path, monkeypatch):
    # insightface routes by graph shape, not by file name; a pack named by env or found as buffalo_s
    write_pack(tmp_path, pack="buffalo_s", det_name="det_500m.onnx", rec_name="w600k_mbf.onnx")
    assert model_pack_present(root=str(tmp_path))
    engine = InsightFaceEngine(root=str(tmp_path))
    assert engine.pack == "buffalo_s" and "w600k_mbf.onnx" in engine.id
    monkeypatch.setenv(ife.PACK_ENV, "buffalo_l")
    assert not model_pack_present(root=str(tmp_path))
    with pytest.raises(EngineUnavailable, match="buffalo_l"):
        InsightFaceEngine(root=str(tmp_path))


def test_root_from_environment(pack_root, monkeypatch):
    monkeypatch.setenv(ife.ROOT_ENV, str(pack_root))
    assert model_pack_present()
    assert ife.model_root() == str(pack_root)
    assert InsightFaceEngine().pack == "buffalo_l"


def test_auto_picks_insightface_when_the_pack_is_present(pack_root, monkeypatch):
    engine = load_engine("auto", root=str(pack_root))
    assert isinstance(engine, InsightFaceEngine) and engine.id.startswith("insightface-")
    monkeypatch.setenv(ife.ROOT_ENV, str(pack_root))
    assert isinstance(load_engine("auto", min_face_px=40), InsightFaceEngine)


def test_auto_falls_back_to_the_default_engine_without_the_pack(tmp_path, monkeypatch):
    pytest.importorskip("dlib")
    engine = load_engine("auto", root=str(tmp_path), pack="buffalo_l", min_face_px=40, det_size=(640, 640))
    assert not isinstance(engine, InsightFaceEngine) and engine.id.startswith(f"{DEFAULT_ENGINE}-")
    monkeypatch.setenv(ife.ROOT_ENV, str(tmp_path))
    assert load_engine("auto").id.startswith(f"{DEFAULT_ENGINE}-")


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import insightface.utils.storage

    monkeypatch.setattr(insightface.utils.storage, "download_file", refuse)


@pytest.mark.parametrize("layout", ["no root", "empty pack folder", "detector only"])
def test_missing_pack_raises_without_download(tmp_path, no_network, layout):
    if layout == "empty pack folder":
        (tmp_path / "models" / "buffalo_l").mkdir(parents=True)
    elif layout == "detector only":
        write_pack(tmp_path, recognition=False)
    with pytest.raises(EngineUnavailable) as caught:
        load_engine("insightface", root=str(tmp_path))
    message = str(caught.value)
    assert "buffalo_l" in message and "--engine dlib" in message and str(tmp_path / "models") in message
    assert not (tmp_path / "models" / "buffalo_l.zip").exists()
    if layout == "no root":
        assert not (tmp_path / "models").exists()  # nothing created either


def test_working_directory_folder_does_not_shadow_the_root(pack_root, tmp_path, monkeypatch):
    """FaceAnalysis takes a `name` that is an existing folder as the pack itself: a ./buffalo_l in
    the working directory must not replace the model root's pack."""
    decoy = tmp_path / "cwd"
    write_pack(decoy / "buffalo_l_parent", seed=5)
    shutil.move(str(decoy / "buffalo_l_parent" / "models" / "buffalo_l"), str(decoy / "buffalo_l"))
    monkeypatch.chdir(decoy)
    engine = InsightFaceEngine(root=str(pack_root), pack="buffalo_l")
    assert all(os.path.dirname(p) == str(pack_root / "models" / "buffalo_l") for p in engine.model_files.values())


def test_corrupt_model_is_unavailable_not_a_crash(tmp_path):
    """A damaged extra file in an otherwise complete pack: present on disk, but loading it fails
    inside insightface when the models load (on first use); the engine reports EngineUnavailable,
    which stops the run with that message instead of failing every photo one by one."""
    write_pack(tmp_path)
    extra = tmp_path / "models" / "buffalo_l" / "zz_broken.onnx"
    extra.write_bytes((tmp_path / "models" / "buffalo_l" / "rec.onnx").read_bytes()[:1000])
    assert model_pack_present(root=str(tmp_path))
    engine = InsightFaceEngine(root=str(tmp_path))
    with pytest.raises(EngineUnavailable, match="could not load"):
        engine.detect(np.zeros((64, 64, 3), np.uint8))


def test_download_runs_insightfaces_downloader_into_the_root(tmp_path, monkeypatch):
    """download=True fetches a missing pack through insightface's own download-and-unzip step;
    only the HTTP transfer is replaced, by a copy of a zip made from the toy pack."""
    import zipfile

    import insightface.utils.storage

    source = write_pack(tmp_path / "source")
    archive = tmp_path / "buffalo_l.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name in sorted(os.listdir(source)):
            handle.write(os.path.join(source, name), name)
    requested = []

    def transfer(url, path=None, overwrite=False, sha1_hash=None):
        requested.append(url)
        shutil.copyfile(archive, path)
        return path

    monkeypatch.setattr(insightface.utils.storage, "download_file", transfer)
    root = tmp_path / "root"
    (root / "models" / "buffalo_l").mkdir(parents=True)  # an interrupted earlier attempt
    assert not model_pack_present(root=str(root))
    engine = load_engine("insightface", root=str(root), download=True, det_size=(DET, DET))
    assert len(requested) == 1 and requested[0].endswith("/buffalo_l.zip")
    assert model_pack_present(root=str(root))
    image, squares = scene(0.5)
    assert len(engine.detect(image)) == 3


def test_download_failure_is_unavailable(tmp_path, monkeypatch):
    import insightface.utils.storage

    def offline(url, path=None, overwrite=False, sha1_hash=None):
        raise ConnectionError(f"cannot reach {url}")

    monkeypatch.setattr(insightface.utils.storage, "download_file", offline)
    with pytest.raises(EngineUnavailable, match="could not download"):
        InsightFaceEngine(root=str(tmp_path), download=True)
    assert not model_pack_present(root=str(tmp_path))
