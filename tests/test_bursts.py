"""Bursts and near-duplicates: frames of one moment form a group, and only its best is kept on request."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageFilter

import imagefactory as factory
from photorank.bursts import group_ids
from photorank.config import default_settings
from photorank.demo import package_image, portrait_from_crop
from oneshot import rank_collection
from photorank.api import RankRequest

SETTINGS = default_settings().burst


def thumbnail(seed: int, shift: int = 0) -> bytes:
    scene = np.random.default_rng(seed).integers(0, 255, (16, 16)).astype(np.uint8)
    return np.roll(scene, shift, axis=1).tobytes()


def test_frames_close_in_time_and_alike_are_one_burst():
    thumbnails = [thumbnail(1), thumbnail(1), thumbnail(2)]
    ids = group_ids(thumbnails, [100.0, 101.5, 101.0], SETTINGS)
    assert ids[0] == ids[1] != ids[2]


def test_alike_frames_far_apart_in_time_are_not_a_burst_unless_identical():
    alike = [thumbnail(1), np.clip(np.frombuffer(thumbnail(1), np.uint8).astype(int) + np.random.default_rng(5).integers(-60, 60, 256), 0, 255).astype(np.uint8).tobytes()]
    assert len(set(group_ids(alike, [0.0, 3600.0], SETTINGS))) == 2
    identical = [thumbnail(3), thumbnail(3)]
    assert len(set(group_ids(identical, [0.0, 3600.0], SETTINGS))) == 1  # a duplicate, e.g. an export
    assert len(set(group_ids(identical, [None, None], SETTINGS))) == 1


@pytest.fixture(scope="module")
def burst_folder(tmp_path_factory):
    portrait = portrait_from_crop(Image.open(package_image("Tom_Hanks_54745.png")))
    folder = tmp_path_factory.mktemp("burst")
    frames = [portrait, portrait.filter(ImageFilter.GaussianBlur(2)), portrait.filter(ImageFilter.GaussianBlur(3))]
    for index, frame in enumerate(frames):  # a 3-frame burst, the first frame the sharpest
        factory.write_jpeg(folder / f"burst_{index}.jpg", np.asarray(frame), datetime_original=f"2024:06:01 14:03:0{index}")
    group = Image.open(package_image("t1.jpg")).convert("RGB")
    group.paste(portrait.resize((240, 240)), (1020, 40))
    factory.write_jpeg(folder / "group_same_second.jpg", np.asarray(group), datetime_original="2024:06:01 14:03:01")
    reference = tmp_path_factory.mktemp("ref") / "ref.jpg"
    portrait.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(reference)
    return folder, reference


def test_the_best_frame_of_a_burst_is_marked_and_can_be_kept_alone(burst_folder):
    folder, reference = burst_folder
    request = RankRequest(references=[str(reference)], paths=[str(folder)])
    report = rank_collection(request, cache_path=":memory:", workers=1)
    by_name = {os.path.basename(r.path): r for r in report.results}
    bursts = {name: r.burst for name, r in by_name.items()}
    assert bursts["burst_0.jpg"] is not None
    assert bursts["burst_0.jpg"] == bursts["burst_1.jpg"] == bursts["burst_2.jpg"]
    assert bursts["group_same_second.jpg"] is None
    assert [name for name, r in by_name.items() if r.burst and r.best_of_burst] == ["burst_0.jpg"]

    request.best_of_burst = True
    kept = sorted(os.path.basename(r.path) for r in rank_collection(request, cache_path=":memory:", workers=1).results)
    assert kept == ["burst_0.jpg", "group_same_second.jpg"]


def test_same_frame_at_two_resolutions_is_a_near_duplicate(people_dir, people_cache):
    report = rank_collection(RankRequest(references=[str(people_dir / "obama_1.jpg")], paths=[str(people_dir)]), cache_path=people_cache)
    by_name = {os.path.basename(r.path): r for r in report.results}
    assert by_name["obama_6_240p.jpg"].burst is not None
    assert by_name["obama_6_240p.jpg"].burst == by_name["obama_6_720p.jpg"].burst
    assert by_name["obama_2.jpg"].burst == by_name["obama_2_rgba.png"].burst
    others = [r.burst for name, r in by_name.items() if name not in {"obama_6_240p.jpg", "obama_6_720p.jpg", "obama_2.jpg", "obama_2_rgba.png"}]
    assert by_name["obama_6_720p.jpg"].burst not in others
