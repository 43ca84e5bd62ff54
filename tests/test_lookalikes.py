"""People often photographed together, in the same light and styling, are told apart
(../shared/data/cast: eight actors of one cast, five crops each, and group photos of them).

Also the unsure band end to end: the `match` field, `--include-unsure`, the unsure keyword.
The full measurement is bench/eval_lookalikes.py and docs/calibration.md.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import programs

from shared_data import shared_folder
from oneshot import index_paths, rank_collection
from photorank.api import RankRequest

pytestmark = pytest.mark.slow  # every test reads the cast analysed once for the module
ACTORS = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")
EXIFTOOL = shutil.which("exiftool")


@pytest.fixture(scope="module")
def cast(people_cache):
    """(cast folder, face cache, crops in which a face is found). The session's cache of the
    shared photos: test_identity_stability has analysed the cast there under this engine."""
    folder = shared_folder("cast")
    cache = people_cache
    _, records = index_paths([str(folder)], engine="dlib", cache_path=cache)
    with_face = {os.path.basename(path) for path, record in records.items() if record.faces}
    return folder, cache, with_face


def rank(folder, references: list[str], cache: str, **options):
    return rank_collection(RankRequest(references=references, paths=[str(folder)], **options), cache_path=cache, engine="dlib")


def crops_found(report) -> dict[str, str]:
    """Crop file -> "sure" | "unsure" (group photos left out: they are not labelled)."""
    return {os.path.basename(r.path): r.match for r in report.results if not os.path.basename(r.path).startswith("group_")}


def test_each_actors_reference_finds_that_actor_and_no_other(cast):
    folder, cache, with_face = cast
    failures = []
    for actor in ACTORS:
        report = rank(folder, [str(folder / f"{actor}_1.png")], cache)
        found = crops_found(report)
        expected = {f"{actor}_{n}.png" for n in range(1, 6)} & with_face  # a crop with no face found cannot be found
        others = sorted(name for name in found if not name.startswith(actor + "_"))
        if set(found) != expected or others:
            failures.append(f"{actor}: missed {sorted(expected - set(found))}, found others {others}")
    assert not failures, "\n".join(failures)


def test_no_face_of_a_group_photo_is_surely_two_actors(cast):
    folder, cache, _ = cast
    claims: dict[tuple[str, tuple], list[str]] = {}
    for actor in ACTORS:
        for result in rank(folder, [str(folder / f"{actor}_1.png")], cache).results:
            if os.path.basename(result.path).startswith("group_") and result.match == "sure":
                claims.setdefault((result.path, result.target_face.box), []).append(actor)
    assert claims, "the actors are in the group photos"
    assert not {face: who for face, who in claims.items() if len(who) > 1}


def test_a_second_reference_makes_unsure_photos_of_the_person_sure(cast):
    """leonard_5 looks unlike his other crops (0.919-0.949, as a lookalike might): from it alone
    they are found but unsure; with a second photo of him as a reference they are sure."""
    folder, cache, _ = cast
    one = crops_found(rank(folder, [str(folder / "leonard_5.png")], cache))
    two = crops_found(rank(folder, [str(folder / "leonard_5.png"), str(folder / "leonard_1.png")], cache))
    assert one == {"leonard_5.png": "sure"} | {f"leonard_{n}.png": "unsure" for n in range(1, 5)}
    assert two == {f"leonard_{n}.png": "sure" for n in range(1, 6)}


def test_unsure_photos_come_after_the_sure_ones_without_stars_unless_included(cast):
    folder, cache, _ = cast
    reference = [str(folder / "leonard_1.png")]
    apart = rank(folder, reference, cache).results
    matches = [result.match for result in apart]
    assert "unsure" in matches and matches == sorted(matches)  # "sure" < "unsure"
    assert all(result.stars == 0 for result in apart if result.match == "unsure")
    assert all(result.stars >= 1 for result in apart if result.match == "sure")
    assert [result.rank for result in apart] == list(range(1, len(apart) + 1))

    included = rank(folder, reference, cache, include_unsure=True).results
    assert all(result.stars >= 1 for result in included)
    assert {r.path: r.match for r in included} == {r.path: r.match for r in apart}
    scores = [result.score for result in included]
    assert scores == sorted(scores, reverse=True)


def photorank(*args: str, cache: str):
    return programs.photorank(*args, "--engine", "dlib", "--quiet", "--cache", cache)


def test_the_json_and_text_output_say_which_matches_are_unsure(cast):
    folder, cache, _ = cast
    reference = str(folder / "leonard_1.png")
    done = photorank("rank", "--ref", reference, str(folder), "--json", cache=cache)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    by_name = {os.path.basename(r["path"]): r for r in results}
    assert by_name["leonard_5.png"]["match"] == "unsure" and by_name["leonard_5.png"]["stars"] == 0
    assert by_name["leonard_2.png"]["match"] == "sure" and by_name["leonard_2.png"]["stars"] >= 1

    included = photorank("rank", "--ref", reference, str(folder), "--json", "--include-unsure", cache=cache)
    assert json.loads(included.stdout)["results"][-1]["stars"] >= 1

    text = photorank("rank", "--ref", reference, str(folder), cache=cache).stdout
    unsure_path = str(folder / "leonard_5.png")
    [line] = [line for line in text.splitlines() if f"{unsure_path} - " in line]
    assert f"?  {unsure_path}" in line and "shown unsure" in text.splitlines()[-1]


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed (Debian: libimage-exiftool-perl)")
def test_an_unsure_photo_is_written_with_the_unsure_keyword_and_no_rating(cast, tmp_path):
    folder, cache, _ = cast
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in os.listdir(folder):
        if not name.startswith("group_"):
            shutil.copy(folder / name, photos / name)
    done = photorank(
        "rank", "--ref", str(folder / "leonard_1.png"), str(photos), "--person", "Leonard", "--write-xmp", "--json", cache=cache
    )
    assert done.returncode == 0, done.stderr

    def read_back(name: str) -> dict:
        out = programs.run([EXIFTOOL, "-j", "-G1", str(photos / f"{name}.xmp")], check=True)
        return json.loads(out.stdout)[0]

    unsure, sure = read_back("leonard_5.png"), read_back("leonard_2.png")
    assert "photorank|Leonard|unsure" in unsure["XMP-lr:HierarchicalSubject"]
    assert unsure["XMP-xmp:Rating"] == 0
    assert not any(k.endswith("|unsure") for k in sure["XMP-lr:HierarchicalSubject"])
    assert sure["XMP-xmp:Rating"] >= 1
