"""Eyes and head pose from FaceMesh and the iris model, and the signal registry, on real faces."""

from __future__ import annotations

import importlib.util
import os

import cv2
import numpy as np
import pytest

from photorank import models, signals
from photorank.config import default_settings, settings_with
from photorank.records import DetectedFace
from photorank.signals import mesh

INSIGHTFACE_IMAGES = os.path.join(importlib.util.find_spec("insightface").submodule_search_locations[0], "data", "images")


@pytest.fixture(scope="module")
def mesh_models():
    try:
        mesh.prepare()
    except models.ModelUnavailable as error:
        pytest.skip(f"FaceMesh / iris models unavailable here: {error}")


@pytest.fixture(scope="module")
def t1_faces():
    """t1.jpg's six faces as dlib finds them, left to right."""
    from photorank.faces import load_engine

    bgr = cv2.imread(os.path.join(INSIGHTFACE_IMAGES, "t1.jpg"), cv2.IMREAD_COLOR)
    pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return pixels, sorted(load_engine("dlib").detect(pixels), key=lambda face: face.box[0])


def test_mesh_places_both_eyes_and_irises(mesh_models, t1_faces):
    pixels, faces = t1_faces
    for face in faces:
        found = mesh.locate(pixels, face.box, face.landmarks)
        assert found is not None and found.presence > 0.9
        assert found.points.shape == (468, 3)
        x, y, w, h = face.box
        inside = (found.points[:, 0] > x - w) & (found.points[:, 0] < x + 2 * w) & (found.points[:, 1] > y - h) & (found.points[:, 1] < y + 2 * h)
        assert inside.all()
        left, right = found.eyes
        assert left.iris_centre[0] < right.iris_centre[0]  # image-left eye first
        for eye in found.eyes:
            # An adult iris is about 11.7 mm across an eye of about 30 mm: 0.3-0.55 of the eye's width.
            assert 0.3 < eye.iris_diameter / eye.width < 0.55, eye.iris_diameter / eye.width
            corners = eye.lids[[mesh.OUTER, mesh.INNER]]
            assert corners[:, 0].min() < eye.iris_centre[0] < corners[:, 0].max()
            upper, lower = mesh.lid_heights(eye)
            assert upper > 0 and lower > -0.05 * eye.width  # the upper lid above the corner line


def test_what_is_measured_does_not_depend_on_the_box(mesh_models, t1_faces):
    """Another detector's box (larger, shifted, no eye points): the mesh crops itself again, so
    pose and eyes read nearly the same (from the boxes alone, one run: up to 24 deg apart)."""
    pixels, faces = t1_faces
    for face in faces:
        x, y, w, h = face.box
        other = DetectedFace((x - 0.15 * w, y - 0.25 * h, 1.3 * w, 1.35 * h), 1.0, face.embedding, None)
        first = mesh.locate(pixels, face.box, face.landmarks)
        second = mesh.locate(pixels, other.box, None)
        shape = pixels.shape[:2]
        for angle_first, angle_second in zip(mesh.head_pose(first, shape), mesh.head_pose(second, shape)):
            assert abs(angle_first - angle_second) < 8.0
        assert abs(mesh.aperture(first, 0.0) - mesh.aperture(second, 0.0)) < 0.1


def test_mirrored_face_mirrors_yaw_roll_and_gaze(mesh_models, t1_faces):
    pixels, faces = t1_faces
    width = pixels.shape[1]
    mirrored = np.ascontiguousarray(pixels[:, ::-1])
    for face in faces:
        x, y, w, h = face.box
        found = mesh.locate(pixels, face.box)
        flipped = mesh.locate(mirrored, (width - x - w, y, w, h))
        yaw, _, roll = mesh.head_pose(found, pixels.shape[:2])
        yaw_m, _, roll_m = mesh.head_pose(flipped, pixels.shape[:2])
        assert abs(yaw + yaw_m) < 6 and abs(roll + roll_m) < 6, (yaw, yaw_m, roll, roll_m)
        assert abs(mesh.gaze(found)[0] + mesh.gaze(flipped)[0]) < 0.06


def test_closed_eyes_read_closed_and_open_eyes_open(mesh_models, t1_faces):
    """t1.jpg: the face second from the left looks down with open eyes, the rightmost one has them
    shut (checked by eye on the photo)."""
    pixels, faces = t1_faces
    looking_down, shut = faces[1], faces[-1]
    assert signals.measure_face(pixels, looking_down)["eyes_open"] > 0.5
    values = signals.measure_face(pixels, shut)
    assert values["eyes_open"] < 0.2
    assert values["eyes_aperture"] < mesh.APERTURE_CENTRE


def test_no_face_in_the_box_falls_back_to_the_68_points(mesh_models, t1_faces):
    pixels, faces = t1_faces
    wall = DetectedFace((10, 10, 60, 60), 1.0, faces[0].embedding, None)  # the plain background, top left
    assert mesh.locate(pixels, wall.box) is None
    values = signals.measure_face(pixels, wall)
    assert values["eyes_aperture"] is None and values["gaze_x"] is None


def test_the_68_point_path_stays_selectable(mesh_models, t1_faces):
    pixels, faces = t1_faces
    face = faces[0]
    from_mesh = signals.measure_face(pixels, face)
    from_68 = signals.measure_face(pixels, face, settings_with({"signals": {"eyes_and_pose": "landmarks68"}}).measuring)
    assert from_mesh["eyes_aperture"] is not None and from_68["eyes_aperture"] is None
    assert from_68["eyes_iris"] is not None and from_68["eyes_haar"] is not None
    assert abs(from_mesh["yaw"] - from_68["yaw"]) < 10  # the same generic face fitted to other points


def test_every_signal_is_one_registry_row():
    keys = [key for row in signals.FACE_SIGNAL_ROWS for key in row.keys]
    assert tuple(keys) == signals.FACE_SIGNALS and len(set(keys)) == len(keys)
    assert len({row.name for row in (*signals.FACE_SIGNAL_ROWS, *signals.IMAGE_SIGNAL_ROWS)}) == \
        len(signals.FACE_SIGNAL_ROWS) + len(signals.IMAGE_SIGNAL_ROWS)


def test_a_signal_version_changes_the_analysis_key(monkeypatch):
    from dataclasses import replace

    from photorank.faces import load_engine
    from photorank.analysis import analysis_key

    engine = load_engine("dlib")
    settings = default_settings().measuring
    before = analysis_key(engine, settings)
    rows = tuple(replace(row, version=row.version + 1) if row.name == "eyes" else row for row in signals.FACE_SIGNAL_ROWS)
    monkeypatch.setattr(signals, "FACE_SIGNAL_ROWS", rows)
    after = analysis_key(engine, settings)
    assert before != after
    assert analysis_key(engine, settings_with({"signals": {"eyes_and_pose": "landmarks68"}}).measuring) != after  # and so does the source


def test_an_unknown_source_of_eyes_is_a_config_error(tmp_path):
    from photorank.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text('[signals]\neyes_and_pose = "dlib"\n')
    with pytest.raises(ConfigError, match="eyes_and_pose must be one of mesh, landmarks68"):
        load_settings(str(path))
