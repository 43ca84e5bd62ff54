"""dlib's identity network converted to ONNX (faces/resnet_onnx.py): read from the real .dat,
run by onnxruntime, compared with dlib's own compute_face_descriptor on real faces."""

from __future__ import annotations

import dataclasses
import os

import dlib
import numpy as np
import pytest

from photorank.demo import package_image
from photorank.faces import load_engine
from photorank.faces import resnet_onnx
from photorank.faces.dlib_models import LANDMARKS_68, RESNET, landmark_predictor, model_path
from photorank.images import load_image
from both_cores import in_parts
from shared_data import shared_folder


@pytest.fixture(scope="module")
def dat_bytes() -> bytes:
    with open(model_path(RESNET), "rb") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> str:
    """The model converted (and checked) into a fresh data dir, as on a user's first run."""
    data_dir = str(tmp_path_factory.mktemp("data"))
    previous = os.environ.get("PHOTORANK_DATA_DIR")
    os.environ["PHOTORANK_DATA_DIR"] = data_dir
    try:
        yield resnet_onnx.ensure_converted(model_path(RESNET))
    finally:
        if previous is None:
            del os.environ["PHOTORANK_DATA_DIR"]
        else:
            os.environ["PHOTORANK_DATA_DIR"] = previous


def test_reads_the_network_of_dnn_face_recognition_ex(dat_bytes):
    network = resnet_onnx.read_dlib_network(dat_bytes)
    assert network.input.size == 150
    # dlib's input_rgb_image means, as its face recognition example documents them
    assert np.allclose(network.input.means, (122.782, 117.001, 104.298), atol=1e-4)
    convs = [layer for layer in network.layers if isinstance(layer, resnet_onnx.Conv)]
    assert len(convs) == 29
    assert convs[0].filters.shape == (32, 3, 7, 7) and convs[0].stride == (2, 2)
    assert [conv.filters.shape[0] for conv in convs[-2:]] == [256, 256]
    assert sum(isinstance(layer, resnet_onnx.AddPrev) for layer in network.layers) == 14
    assert network.layers[-1].weights.shape == (256, 128)


def test_converted_model_is_kept_under_the_dat_sha256(converted):
    assert os.path.exists(converted)
    assert converted == resnet_onnx.converted_path(model_path(RESNET))
    assert os.path.basename(converted).startswith("dlib_resnet_55533b28a95800a5")


def test_model_list_shows_the_converted_model(converted):
    from photorank.inventory import model_inventory
    from photorank.models import ONNX_RESNET

    [row] = [model for model in model_inventory() if model.name == ONNX_RESNET]
    assert row.present and row.path == converted


def test_converted_model_gives_dlibs_descriptors_on_the_shipped_photo(converted):
    chips = resnet_onnx.check_chips()
    cosines = resnet_onnx.agreement_with_dlib(resnet_onnx.session(converted), model_path(RESNET), chips)
    print(f"min cosine onnxruntime vs dlib over {len(chips)} faces of the shipped photo: {cosines.min():.7f}")
    assert len(chips) == 6
    assert cosines.min() >= resnet_onnx.MIN_COSINE


def test_a_model_that_disagrees_with_dlib_is_refused(dat_bytes):
    network = resnet_onnx.read_dlib_network(dat_bytes)
    # The right graph with the output weights' rows in the wrong order: a plausible conversion bug.
    wrong = dataclasses.replace(network, layers=network.layers[:-1] + (
        resnet_onnx.FullyConnected(network.layers[-1].weights[::-1].copy()),))
    model = resnet_onnx.build_onnx(wrong).SerializeToString()
    with pytest.raises(resnet_onnx.ConversionError, match="disagrees with dlib"):
        resnet_onnx.verify_against_dlib(model, model_path(RESNET))


def test_other_dlib_files_are_not_taken_for_the_network(dat_bytes):
    # dlib's CNN face detector: a dlib network too, with another loss
    with pytest.raises(resnet_onnx.ConversionError, match="loss layer"):
        resnet_onnx.read_dlib_network(open(model_path("mmod_human_face_detector.dat"), "rb").read())
    with pytest.raises(resnet_onnx.ConversionError, match="loss layer"):
        resnet_onnx.read_dlib_network(open(model_path(LANDMARKS_68), "rb").read(4096))
    with pytest.raises(resnet_onnx.ConversionError, match="ends early"):
        resnet_onnx.read_dlib_network(dat_bytes[: len(dat_bytes) // 2])


def cosines_onnx_to_dlib(paths: list) -> list[float]:
    """Each face dlib's HOG finds in the photos (at 800 px): its onnxruntime and dlib embeddings' cosine."""
    onnx_engine = load_engine("dlib", embedding="onnxruntime")
    dlib_engine = load_engine("dlib", embedding="dlib")
    cosines = []
    detector = dlib.get_frontal_face_detector()
    for path in paths:
        pixels = load_image(str(path), max_side=800).pixels
        rects = detector(pixels, 1)
        shapes = [landmark_predictor()(pixels, rect) for rect in rects]
        found, expected = onnx_engine.embed_faces(pixels, shapes), dlib_engine.embed_faces(pixels, shapes)
        cosines += [float(cosine) for cosine in np.sum(found * expected, axis=1)]
    return cosines


@pytest.mark.slow
def test_engine_embeddings_match_dlib_on_the_shared_people_photos(converted):
    people = shared_folder("people")
    cosines = [cosine for part in in_parts(cosines_onnx_to_dlib, sorted(people.iterdir())) for cosine in part]
    print(f"min cosine onnxruntime vs dlib over {len(cosines)} faces of ../shared/data/people: {min(cosines):.7f}")
    assert len(cosines) >= 40
    assert min(cosines) >= resnet_onnx.MIN_COSINE


@pytest.mark.slow
def test_engine_falls_back_to_dlib_when_the_model_cannot_be_kept(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data dir would be")
    monkeypatch.setenv("PHOTORANK_DATA_DIR", str(blocker))
    engine = load_engine("dlib")
    pixels = load_image(package_image(resnet_onnx.CHECK_IMAGE)).pixels
    faces = engine.detect(pixels)
    assert "runs in dlib instead of onnxruntime" in caplog.text
    reference = load_engine("dlib", embedding="dlib").detect(pixels)
    assert len(faces) == len(reference) == 6
    assert all(float(a.embedding @ b.embedding) > 0.99999 for a, b in zip(faces, reference))
