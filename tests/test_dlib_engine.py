"""The offline default engine on real photos: detection (down to small faces) and identity."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from photorank.demo import package_image, portrait_from_crop
from photorank.faces import load_engine
from photorank.images import load_image


def test_finds_all_six_faces_of_the_group_photo(dlib_engine):
    faces = dlib_engine.detect(load_image(package_image("t1.jpg")).pixels)
    assert len(faces) == 6
    for face in faces:
        assert face.landmarks.shape == (68, 2)
        assert face.embedding.shape == (128,)
        assert abs(np.linalg.norm(face.embedding) - 1.0) < 1e-4


def test_finds_faces_about_40_px_across(dlib_engine):
    """The group at 40% size: its faces are ~40-50 px, below dlib's 80-px HOG window."""
    group = Image.open(package_image("t1.jpg")).convert("RGB")
    small = group.resize((group.width * 2 // 5, group.height * 2 // 5), Image.Resampling.LANCZOS)
    faces = dlib_engine.detect(np.asarray(small))
    assert len(faces) == 6
    assert max(face.box[2] for face in faces) < 50


def test_same_person_matches_and_strangers_do_not(dlib_engine):
    portrait = portrait_from_crop(Image.open(package_image("Tom_Hanks_54745.png")))
    [original] = dlib_engine.detect(np.asarray(portrait))
    [mirrored] = dlib_engine.detect(np.asarray(ImageOps.mirror(portrait)))
    strangers = dlib_engine.detect(load_image(package_image("t1.jpg")).pixels)
    assert float(original.embedding @ mirrored.embedding) >= dlib_engine.match_threshold  # unit vectors
    for stranger in strangers:
        assert float(original.embedding @ stranger.embedding) < dlib_engine.match_threshold


def test_engine_is_cheap_to_create_and_loads_models_on_first_use():
    engine = load_engine("dlib")
    assert engine.id.startswith("dlib-")
    assert engine._dlib is None  # nothing loaded yet: a warm re-rank never pays for the models


def test_the_hog_detector_read_from_its_saved_copy_finds_what_dlibs_own_finds():
    import os

    import dlib

    from photorank.faces.dlib_engine import hog_detector, saved_hog_path

    hog_detector.cache_clear()
    hog_detector()  # saves the copy when there is none yet
    assert os.path.exists(saved_hog_path())
    grey = np.asarray(Image.open(package_image("t1.jpg")).convert("L"))
    saved = dlib.fhog_object_detector(saved_hog_path()).run(grey, 1, -0.5)
    own = dlib.get_frontal_face_detector().run(grey, 1, -0.5)
    assert len(own[0]) >= 6  # the six faces and doubtful windows: rectangles and scores to compare
    assert [(r.left(), r.top(), r.right(), r.bottom()) for r in saved[0]] == [(r.left(), r.top(), r.right(), r.bottom()) for r in own[0]]
    assert saved[1] == own[1] and saved[2] == own[2]


def test_the_model_list_shows_the_saved_hog_detector_once_it_is_saved(tmp_path, monkeypatch):
    from photorank import models
    from photorank.faces.dlib_engine import hog_detector, saved_hog_path
    from photorank.inventory import HOG_DETECTOR, model_inventory

    def listed():
        [row] = [model for model in model_inventory() if model.name == HOG_DETECTOR]
        return row

    monkeypatch.setenv(models.DATA_DIR_ENV, str(tmp_path))
    assert listed().path == saved_hog_path() and not listed().present
    hog_detector.cache_clear()
    try:
        hog_detector()  # the first use saves it
        assert listed().present
    finally:
        hog_detector.cache_clear()  # the other tests' detector is the usual one


def test_a_damaged_saved_hog_detector_is_decoded_and_saved_again(tmp_path, monkeypatch):
    import os

    from photorank import models
    from photorank.faces.dlib_engine import hog_detector, saved_hog_path

    monkeypatch.setenv(models.DATA_DIR_ENV, str(tmp_path))
    os.makedirs(os.path.dirname(saved_hog_path()))
    with open(saved_hog_path(), "wb") as handle:
        handle.write(b"cut short")
    hog_detector.cache_clear()
    try:
        grey = np.asarray(Image.open(package_image("t1.jpg")).convert("L"))
        assert len(hog_detector()(grey, 1)) == 6
        assert os.path.getsize(saved_hog_path()) > 100_000  # the whole detector again
    finally:
        hog_detector.cache_clear()  # the other tests' detector is the usual one
