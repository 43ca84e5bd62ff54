"""Finding the person and ranking, on the example collection and on derived broken files."""

from __future__ import annotations

import os
import shutil

import pytest

from photorank.config import default_settings
from photorank.errors import UsageError
from oneshot import rank_collection
from photorank.api import RankRequest, ReferenceSpec
from photorank.ranking import ReferenceError, prominent_faces
from photorank.records import DetectedFace

import numpy as np


def by_name(report):
    return {os.path.basename(result.path): result for result in report.results}


@pytest.fixture(scope="module")
def demo_report(demo_collection):
    collection, reference = demo_collection
    return rank_collection(RankRequest(references=[reference], paths=[collection]), cache_path=":memory:", workers=1)


def test_finds_the_person_alone_and_in_the_group_and_nowhere_else(demo_report):
    found = by_name(demo_report)
    assert set(found) == {"portrait.jpg", "portrait_soft.jpg", "portrait_dark.jpg", "group_with_person.jpg"}
    assert demo_report.not_found == 1
    assert found["group_with_person.jpg"].kind == "group"
    assert found["group_with_person.jpg"].prominent_faces == 7
    assert found["portrait.jpg"].kind == "single"


def test_a_good_frame_ranks_above_its_soft_and_dark_copies(demo_report):
    found = by_name(demo_report)
    assert found["portrait.jpg"].score > found["portrait_soft.jpg"].score
    assert found["portrait.jpg"].score > found["portrait_dark.jpg"].score
    assert "face soft" in found["portrait_soft.jpg"].reasons
    assert [r.rank for r in demo_report.results] == list(range(1, len(demo_report.results) + 1))
    scores = [r.score for r in demo_report.results]
    assert scores == sorted(scores, reverse=True)
    assert all(1 <= r.stars <= 5 for r in demo_report.results)


def test_broken_files_are_reported_and_the_batch_goes_on(demo_collection, tmp_path):
    collection, reference = demo_collection
    folder = tmp_path / "mixed"
    shutil.copytree(collection, folder)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    good = (folder / "portrait.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 2])
    report = rank_collection(RankRequest(references=[reference], paths=[str(folder)]), cache_path=":memory:", workers=2)
    errors = {os.path.basename(path): error for path, error in report.errors}
    assert set(errors) == {"empty.jpg", "notes.jpg", "cut.jpg"}
    assert "empty" in errors["empty.jpg"]
    assert len(report.results) == 4


def test_reference_without_a_face_is_a_clear_error(demo_collection, tmp_path):
    collection, _ = demo_collection
    blank = tmp_path / "blank.jpg"
    from PIL import Image

    Image.new("RGB", (300, 300), (90, 90, 90)).save(blank)
    with pytest.raises(ReferenceError, match="no face"):
        rank_collection(RankRequest(references=[str(blank)], paths=[collection]), cache_path=":memory:", workers=1)


def test_reference_face_number_picks_a_face_of_a_group_reference(demo_collection):
    collection, _ = demo_collection
    group = os.path.join(collection, "group_with_person.jpg")
    report = rank_collection(RankRequest(references=[ReferenceSpec(group, 6)], paths=[collection]), cache_path=":memory:", workers=1)
    assert report.references[0].face_number == 6
    # face 6 from the left is the person pasted into the group: found in the portraits too
    assert "portrait.jpg" in by_name(report)
    with pytest.raises(UsageError, match="no face number 9"):
        rank_collection(RankRequest(references=[ReferenceSpec(group, 9)], paths=[collection]), cache_path=":memory:", workers=1)


def face(width: int) -> DetectedFace:
    return DetectedFace(box=(0, 0, width, width), detector_score=1.0, embedding=np.zeros(4, np.float32))


def test_small_background_faces_leave_a_portrait_single():
    target, background = face(400), [face(60), face(80)]
    ratio = default_settings().group.prominent_ratio
    assert prominent_faces([target, *background], target, ratio) == [target]
    friends = [face(300), face(280), face(350), face(330), face(310)]
    assert len(prominent_faces([target, *friends], target, ratio)) == 6
