"""A set of people ("Alice + Bob") in a sidecar: its keywords, one face region per member, undo by
the set's name leaving each person's own data."""

from __future__ import annotations

import re

from host_sidecars import mwg_face_region, sidecar_of
from xmp_helpers import make_rating

import xmp_writer as xw
from xmp_writer import FaceRegion, PersonRating

ALICE = FaceRegion(0.5, 0.375, 0.125, 0.25, 640, 480)  # make_rating's region
BOB = FaceRegion(0.25, 0.4, 0.1, 0.2, 640, 480)


def set_rating(rank: int = 1, stars: int = 4, members=(("Alice", ALICE), ("Bob", BOB))) -> PersonRating:
    return PersonRating(person="Alice + Bob", rank=rank, score=70.0, stars=stars, kind="together",
                        member_regions=members, engine="dlib", version="0.1.0", run_time="2025-03-01T12:00:00+00:00")


def regions(sidecar) -> list[tuple[str, str]]:
    """(name, x) of each face region in the sidecar's text."""
    return sorted(re.findall(r'mwg-rs:Name="([^"]+)"\s+mwg-rs:Type="Face">\s*<mwg-rs:Area\s+stArea:x="([^"]+)"', sidecar.read_text()))


def keywords(sidecar) -> list[str]:
    text = sidecar.read_text()
    block = text[text.index("<lr:hierarchicalSubject>"):text.index("</lr:hierarchicalSubject>")]
    return re.findall(r"<rdf:li>([^<]+)</rdf:li>", block)


def test_the_set_adds_its_keywords_and_each_members_region_once(image):
    xw.write_rating(image, make_rating(stars=2))
    xw.write_rating(image, set_rating())
    sidecar = image.with_name(image.name + ".xmp")
    assert keywords(sidecar) == ["photorank|Alice|rank 007", "photorank|Alice|single",
                                 "photorank|Alice + Bob|rank 001", "photorank|Alice + Bob|together"]
    assert regions(sidecar) == [("Alice", "0.5"), ("Bob", "0.25")]  # Alice's shared by her entry and the set
    assert re.search(r'xmp:Rating(="|>)4', sidecar.read_text())  # the best of the entries' stars
    before = sidecar.read_bytes()
    xw.write_rating(image, set_rating())
    assert sidecar.read_bytes() == before  # the same result twice: the same bytes


def test_undo_of_the_set_keeps_each_persons_own_and_the_other_way_round(image):
    sidecar = image.with_name(image.name + ".xmp")
    xw.write_rating(image, make_rating(stars=2))
    alone = sidecar.read_bytes()
    xw.write_rating(image, set_rating())
    xw.undo(image, "Alice + Bob")
    assert sidecar.read_bytes() == alone

    xw.write_rating(image, set_rating())
    xw.undo(image, "Alice")  # the set still wants Alice's region
    assert keywords(sidecar) == ["photorank|Alice + Bob|rank 001", "photorank|Alice + Bob|together"]
    assert regions(sidecar) == [("Alice", "0.5"), ("Bob", "0.25")]
    xw.undo(image, "Alice + Bob")
    assert not sidecar.exists()  # we created it, and nothing else is in it


USER_TAGGED_BOB = sidecar_of("", ("mwg-rs", "stArea"), {}, mwg_face_region("Bob", (0.3, 0.4, 0.1, 0.2)))


def test_a_members_region_the_user_tagged_is_kept_and_not_duplicated(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_text(USER_TAGGED_BOB)
    outcome = xw.write_rating(image, set_rating())
    assert regions(sidecar) == [("Alice", "0.5"), ("Bob", "0.3")]
    assert any(note == "face region kept: Bob already has one" for result in outcome.files for note in result.notes)
    xw.undo(image, "Alice + Bob")
    assert regions(sidecar) == [("Bob", "0.3")]
