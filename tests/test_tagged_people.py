"""People the user tagged (named face regions in XMP, written by exiftool in the shapes digiKam,
Lightroom, Picasa and Windows write) serve as references; region-only photos are ranked; a face
tagged as someone else is never the person; photorank's own regions are not tags."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from programs import Daemon
from PIL import Image

import imagefactory as factory
import xmp_writer
from test_regions import OBAMA, BIDEN, exiftool, microsoft_info, mwg_info
from photorank.cli import main
from photorank.config import settings_with
from photorank.errors import PhotorankError
from photorank.library import Library
from photorank.api import RankRequest, ReferenceSpec
from photorank.regions import TagReader, people_counts
from photorank.tagged import FACE_NOT_VISIBLE

pytestmark = [pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed (it writes the tags)"),
              pytest.mark.slow]  # the module's photos are analysed once, in about a minute


def normalised(box, width: int, height: int) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return x / width, y / height, w / width, h / height


def face_boxes(library: Library, path) -> tuple[list[tuple], int, int]:
    record = library.analyze([str(path)])[str(path)]
    return [face.box for face in record.faces], record.width, record.height


@pytest.fixture(scope="module")
def tagged_folder(people_dir, tmp_path_factory):
    """Obama and Biden photos of ../shared/data, tagged as each program writes tags; a copy of
    each kind of trap. Returns (folder, cache, truth)."""
    root = tmp_path_factory.mktemp("tagged")
    folder = root / "photos"
    folder.mkdir()
    cache = str(root / "faces.sqlite")
    for name in ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "obama_4.jpg", "obama_6_720p.jpg", "biden_1.jpg",
                 "biden_2.jpg", "group_obama_biden_1.jpg", "jeff_bezos_1.jpg"):
        shutil.copy(people_dir / name, folder / name)
    displayed = np.asarray(Image.open(people_dir / "obama_5_small.jpg").convert("RGB"))
    factory.write_jpeg(folder / "rotated.jpg", factory.stored_for_orientation(displayed, 6), exif_orientation=6, quality=95)
    shutil.copy(folder / "obama_4.jpg", folder / "mistagged.jpg")
    with Library(cache_path=cache, workers=2) as library:
        # digiKam: a NAME.EXT.xmp sidecar with the MWG region and its People/ tag
        boxes, width, height = face_boxes(library, folder / "obama_1.jpg")
        exiftool("-o", str(folder / "obama_1.jpg.xmp"), mwg_info([(OBAMA, normalised(boxes[0], width, height))], width, height),
                 f"-XMP-digiKam:TagsList=People/{OBAMA}", str(folder / "obama_1.jpg"))
        # Lightroom: the region inside the JPEG
        boxes, width, height = face_boxes(library, folder / "obama_2.jpg")
        exiftool("-overwrite_original", mwg_info([(OBAMA, normalised(boxes[0], width, height))], width, height), str(folder / "obama_2.jpg"))
        # Picasa on a rotated photo: the area and the applied-to size are the stored image's
        boxes, width, height = face_boxes(library, folder / "rotated.jpg")
        area = stored_area(normalised(boxes[0], width, height))
        exiftool("-overwrite_original", mwg_info([(OBAMA, area)], height, width), str(folder / "rotated.jpg"))
        # Windows Photo Gallery: a Microsoft region in a NAME.xmp sidecar
        boxes, width, height = face_boxes(library, folder / "biden_1.jpg")
        exiftool("-o", str(folder / "biden_1.xmp"), microsoft_info(BIDEN, normalised(boxes[0], width, height)), str(folder / "biden_1.jpg"))
        # a group with both named; the face more like Obama's tagged photo is his
        boxes, width, height = face_boxes(library, folder / "group_obama_biden_1.jpg")
        record = library.analyze([str(folder / "group_obama_biden_1.jpg"), str(folder / "obama_1.jpg")])
        obama = record[str(folder / "obama_1.jpg")].faces[0].embedding
        faces = record[str(folder / "group_obama_biden_1.jpg")].faces
        his = int(np.argmax([face.embedding @ obama for face in faces]))
        hers = int(np.argmin([face.embedding @ obama for face in faces]))
        exiftool("-overwrite_original", mwg_info([(OBAMA, normalised(faces[his].box, width, height)),
                                                  (BIDEN, normalised(faces[hers].box, width, height))], width, height),
                 str(folder / "group_obama_biden_1.jpg"))
        # a mistake: Obama's face tagged as Biden
        boxes, width, height = face_boxes(library, folder / "mistagged.jpg")
        exiftool("-overwrite_original", mwg_info([(BIDEN, normalised(boxes[0], width, height))], width, height), str(folder / "mistagged.jpg"))
        # a face the detector cannot see (hidden under a flat patch), tagged Obama there
        hidden = np.asarray(Image.open(people_dir / "obama_3.jpg").convert("RGB")).copy()
        boxes, width, height = face_boxes(library, folder / "obama_3.jpg")
        x, y, w, h = boxes[0]
        hidden[max(0, y - h // 2): y + h + h // 2, max(0, x - w // 2): x + w + w // 2] = 120
        factory.write_jpeg(folder / "hidden.jpg", hidden)
        assert face_boxes(library, folder / "hidden.jpg")[0] == [], "the patch must hide the face from the detector"
        exiftool("-overwrite_original", mwg_info([(OBAMA, normalised(boxes[0], width, height))], width, height), str(folder / "hidden.jpg"))
        # photorank's own region (a run with --write-xmp): our output, not a tag
        boxes, width, height = face_boxes(library, folder / "obama_6_720p.jpg")
        cx, cy = (boxes[0][0] + boxes[0][2] / 2) / width, (boxes[0][1] + boxes[0][3] / 2) / height
        outcome = xmp_writer.write_rating(str(folder / "obama_6_720p.jpg"), xmp_writer.PersonRating(
            person=OBAMA, rank=1, score=80.0, stars=4, kind="single",
            region=xmp_writer.FaceRegion(cx=cx, cy=cy, w=boxes[0][2] / width, h=boxes[0][3] / height, image_width=width, image_height=height),
            engine="test", version="0", run_time="2025-01-01T00:00:00+00:00"))
        assert "error" not in str(outcome)
    return folder, cache


def stored_area(displayed: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Orientation 6 shows stored (u, v) at (1 - v, u): the displayed area back in stored coordinates."""
    x, y, w, h = displayed
    return y, 1 - x - w, h, w


def rank(folder, cache, settings=None, **options):
    with Library(settings, cache_path=cache, workers=2) as library:
        return library.rank(RankRequest(paths=[str(folder)], **options))


def names(paths) -> set[str]:
    return {os.path.basename(path) for path in paths}


def test_people_lists_the_names_tagged_and_not_our_own_regions(tagged_folder):
    folder, _ = tagged_folder
    tags = TagReader().read([str(folder / name) for name in os.listdir(folder) if not name.endswith(".xmp")])
    counts = {name: (photos, regions) for name, photos, regions in people_counts(tags)}
    # obama_1 (sidecar, with its People/ tag), obama_2, rotated, the group, hidden; not obama_6_720p (ours)
    assert counts[OBAMA] == (5, 5)
    assert counts[BIDEN] == (3, 3)  # biden_1 (Microsoft region), the group, mistagged
    assert set(counts) == {OBAMA, BIDEN}


def test_people_command_text_and_json(tagged_folder, capsys):
    folder, _ = tagged_folder
    assert main(["people", str(folder), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["people"][0] == {"name": OBAMA, "photos": 5, "regions": 5}
    assert main(["people", str(folder)]) == 0
    assert f"5 face region(s)  {OBAMA}" in capsys.readouterr().out


def test_tagged_faces_are_the_references_when_no_reference_is_given(tagged_folder):
    folder, cache = tagged_folder
    report = rank(folder, cache, references=[], person=OBAMA)
    assert {reference.source for reference in report.references} == {"tag"}
    # the rotated photo's stored-image area landed on its face: it is a reference, not a region-only photo
    assert names(reference.path for reference in report.references) == {"obama_1.jpg", "obama_2.jpg", "rotated.jpg", "group_obama_biden_1.jpg"}
    found = {os.path.basename(result.path): result for result in report.results}
    assert {"obama_4.jpg", "obama_3.jpg"} <= set(found)  # untagged photos found through the tagged faces
    assert "obama_6_720p.jpg" in found and found["obama_6_720p.jpg"].tagged == ""  # found, but its region is ours, not a tag
    for tagged in ("obama_1.jpg", "obama_2.jpg", "rotated.jpg", "group_obama_biden_1.jpg"):
        assert found[tagged].tagged == "person" and found[tagged].match == "sure", tagged
    assert not {"biden_1.jpg", "biden_2.jpg", "jeff_bezos_1.jpg"} & set(found)


def test_many_tagged_faces_are_spread_but_each_stays_the_persons(tagged_folder):
    folder, cache = tagged_folder
    settings = settings_with({"matching": {"max_tagged_references": 2}})
    report = rank(folder, cache, settings, references=[], person=OBAMA)
    assert names(reference.path for reference in report.references) == {"group_obama_biden_1.jpg", "obama_2.jpg"}  # 1st, 3rd of 4
    tagged = names(result.path for result in report.results if result.tagged == "person")
    assert tagged == {"obama_1.jpg", "obama_2.jpg", "rotated.jpg", "group_obama_biden_1.jpg"}


def test_a_region_without_a_detected_face_is_still_ranked_with_the_reason(tagged_folder):
    folder, cache = tagged_folder
    report = rank(folder, cache, references=[], person=OBAMA)
    hidden = next(result for result in report.results if result.path.endswith("hidden.jpg"))
    assert hidden.tagged == "region only"
    assert hidden.reasons[0] == FACE_NOT_VISIBLE
    assert 0 < hidden.score < 100 and hidden.stars >= 1
    assert hidden.target_face.box[2] > 0 and hidden.target_face.signals["face_size"] > 0


def test_a_face_tagged_as_someone_else_is_never_the_person(tagged_folder, capsys):
    folder, cache = tagged_folder
    reference = str(folder / "obama_4.jpg")  # the very picture that was mistagged: it looks exactly like him
    report = rank(folder, cache, references=[ReferenceSpec(reference)], person=OBAMA)
    assert "mistagged.jpg" not in names(result.path for result in report.results)
    assert [(os.path.basename(other.path), other.name) for other in report.tagged_as_other] == [("mistagged.jpg", BIDEN)]
    assert report.tagged_as_other[0].similarity > 0.9
    # --ref combines with the tags
    assert [reference.source for reference in report.references].count("photo") == 1
    assert [reference.source for reference in report.references].count("tag") == 4

    assert main(["rank", "--person", OBAMA, str(folder), "--json", "--no-daemon", "--cache", cache, "--quiet"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(os.path.basename(item["path"]), item["tagged_as"]) for item in document["tagged_as_other"]] == [("mistagged.jpg", BIDEN)]
    assert BIDEN in document["tagged_as_other"][0]["reason"]
    assert {item["source"] for item in document["references"]} == {"tag"}


def test_a_name_nobody_is_tagged_with_and_no_reference_is_said_plainly(tagged_folder, capsys):
    folder, cache = tagged_folder
    assert main(["rank", "--person", "Nobody Here", str(folder), "--no-daemon", "--cache", cache, "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "no face in these photos is tagged 'Nobody Here'" in error and "Traceback" not in error
    assert main(["rank", str(folder), "--no-daemon", "--cache", cache]) == 2
    assert "--person NAME" in capsys.readouterr().err
    with Library(cache_path=":memory:", workers=2) as library:  # said before any photo is analysed
        with pytest.raises(PhotorankError, match="no face in these photos is tagged"):
            library.rank(RankRequest([], [str(folder)], person="Nobody Here"))
        assert library.status().analyses_started == 0


@pytest.mark.slow
def test_the_daemon_ranks_a_person_with_no_references_from_the_tags(tagged_folder, tmp_path):
    from photorank.v1 import photorank_pb2 as pb

    folder, cache = tagged_folder
    daemon = Daemon(tmp_path)
    try:
        _, report = daemon.rank(pb.RankRequest(paths=[str(folder)], person=OBAMA))
    finally:
        daemon.stop()
    in_process = rank(folder, cache, references=[], person=OBAMA)
    assert {reference.source for reference in report.references} == {"tag"}
    assert names(reference.path for reference in report.references) == names(reference.path for reference in in_process.references)
    assert names(result.path for result in report.results) == names(result.path for result in in_process.results)
    assert [other.tagged_as for other in report.tagged_as_other] == [BIDEN]
    hidden = next(result for result in report.results if result.path.endswith("hidden.jpg"))
    assert hidden.tagged == "region only" and hidden.reasons[0] == FACE_NOT_VISIBLE
