"""Keyword reconciliation: each host reads one keyword list first (darktable
lr:hierarchicalSubject, digiKam its TagsList, others dc:subject), so every keyword the user has
in any list must be in every list we write; undo gives the user's lists back as they were.
Read back with exiftool."""

from __future__ import annotations

import pytest
from host_sidecars import HOSTS
from xmp_helpers import exiftool_json, make_rating, needs_exiftool

import xmp_writer as xw

pytestmark = needs_exiftool

LISTS = ("XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList")


def _photo(tmp_path):
    from PIL import Image

    image = tmp_path / "photo.jpg"
    Image.new("RGB", (640, 480), (150, 100, 60)).save(image, quality=90)
    return image


def _xmp_view(sidecar) -> dict:
    """Everything exiftool reads from the sidecar's XMP (file-system fields left out)."""
    return {key: value for key, value in exiftool_json(sidecar).items() if key.startswith("XMP-")}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


@pytest.mark.parametrize("host", HOSTS, ids=lambda host: host.host)
def test_every_list_we_write_holds_the_users_keywords_and_undo_gives_the_lists_back(tmp_path, host):
    image = _photo(tmp_path)
    sidecar = image.with_name(image.name + ".xmp")
    host.write(sidecar, image)
    before = _xmp_view(sidecar)

    outcome = xw.write_rating(image, make_rating(stars=1))
    assert outcome.paths("updated") == [str(sidecar)]
    after = exiftool_json(sidecar)
    assert after["XMP-xmp:Rating"] == host.rating  # the user's rating stays
    subject, hierarchical, tags = (_as_list(after.get(key)) for key in LISTS)
    for path in host.keywords:
        assert path[-1] in subject
        assert "|".join(path) in hierarchical
        assert "/".join(path) in tags
    assert "photorank|Alice|rank 007" in hierarchical and "photorank/Alice/rank 007" in tags
    assert tags[-1] == "People/Alice"  # digiKam's person, after photorank/Alice (docs/xmp.md)
    assert not any(item.startswith("People|Alice") for item in hierarchical)  # darktable/Lightroom: no People of ours

    again = sidecar.read_bytes()
    assert xw.write_rating(image, make_rating(stars=1)).paths("unchanged") == [str(sidecar)]
    assert sidecar.read_bytes() == again

    assert xw.undo(image).paths("updated") == [str(sidecar)]
    assert _xmp_view(sidecar) == before


def test_a_keyword_the_user_adds_later_in_one_list_reaches_the_others_and_its_copies_leave_with_undo(tmp_path):
    image = _photo(tmp_path)
    sidecar = image.with_name(image.name + ".xmp")
    xw.write_rating(image, make_rating())  # a sidecar of ours: dc:subject, hierarchicalSubject, TagsList
    text = sidecar.read_text("utf-8")
    # a program that writes only lr:hierarchicalSubject adds the user's keyword there
    sidecar.write_text(text.replace("<rdf:li>photorank|Alice|rank 007</rdf:li>",
                                    "<rdf:li>photorank|Alice|rank 007</rdf:li><rdf:li>Places|Harbour</rdf:li>", 1), "utf-8")
    xw.write_rating(image, make_rating(rank=8))
    data = exiftool_json(sidecar)
    assert "Places/Harbour" in data["XMP-digiKam:TagsList"] and "Harbour" in data["XMP-dc:Subject"]
    assert "photorank/Alice/rank 007" not in data["XMP-digiKam:TagsList"]
    assert data["XMP-digiKam:TagsList"][-1] == "People/Alice"  # still after every photorank/Alice tag

    assert xw.undo(image).paths("updated") == [str(sidecar)]  # the user's keyword keeps the sidecar
    data = exiftool_json(sidecar)
    assert _as_list(data.get("XMP-lr:HierarchicalSubject")) == ["Places|Harbour"]
    assert "XMP-digiKam:TagsList" not in data and "XMP-dc:Subject" not in data


def test_undo_of_one_person_keeps_the_other_persons_people_tag_and_the_users_copies(tmp_path):
    image = _photo(tmp_path)
    sidecar = image.with_name(image.name + ".xmp")
    HOSTS[0].write(sidecar, image)  # "holiday" in dc:subject only
    xw.write_ratings(image, [make_rating("Alice"), make_rating("Bob")])
    assert exiftool_json(sidecar)["XMP-digiKam:TagsList"][-2:] == ["People/Alice", "People/Bob"]
    xw.undo(image, person="Alice")
    tags = exiftool_json(sidecar)["XMP-digiKam:TagsList"]
    assert "People/Bob" in tags and "holiday" in tags
    assert not any("Alice" in tag for tag in tags)


def test_a_person_without_a_face_region_gets_no_people_tag(tmp_path):
    image = _photo(tmp_path)
    xw.write_rating(image, make_rating(region=False))
    tags = exiftool_json(image.with_name(image.name + ".xmp"))["XMP-digiKam:TagsList"]
    assert not any(tag.startswith("People/") for tag in tags)


def test_a_keyword_spelled_with_blanks_around_the_separator_is_not_copied_into_its_own_list_again(tmp_path):
    image = _photo(tmp_path)
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/">'
        "<lr:hierarchicalSubject><rdf:Bag><rdf:li>family | trip</rdf:li></rdf:Bag></lr:hierarchicalSubject>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>", "utf-8")
    xw.write_rating(image, make_rating())
    data = exiftool_json(sidecar)
    assert [item for item in data["XMP-lr:HierarchicalSubject"] if "trip" in item] == ["family | trip"]
    assert "family/trip" in data["XMP-digiKam:TagsList"] and "trip" in data["XMP-dc:Subject"]


def test_a_person_the_user_filed_in_digikam_keeps_their_people_tag_after_ours_and_undo_gives_it_back(tmp_path):
    """digiKam files a region named X under the newest tag named X: the user's People/Carol must
    stay after photorank/Carol/... in its TagsList (the real digiKam check: test_xmp_digikam.py)."""
    image = _photo(tmp_path)
    sidecar = image.with_name(image.name + ".xmp")
    digikam = next(host for host in HOSTS if host.host == "digikam")
    digikam.write(sidecar, image)  # Places/Beach, People/Carol and Carol's face region
    before = _xmp_view(sidecar)

    for rank in (1, 2):  # a second ranking replaces our tags, still before the user's People/Carol
        xw.write_rating(image, make_rating("Carol", rank=rank))
        tags = exiftool_json(sidecar)["XMP-digiKam:TagsList"]
        assert tags == ["Places/Beach", f"photorank/Carol/rank {rank:03d}", "photorank/Carol/single", "People/Carol"]

    assert xw.undo(image).paths("updated") == [str(sidecar)]
    assert _xmp_view(sidecar) == before


def test_the_keywords_a_host_is_told_to_apply_are_the_ones_written(tmp_path):
    image = _photo(tmp_path)
    rating = make_rating(person="Ann/Lee, Jr|x", rank=12, kind="group", tags=("best of burst", "unsure"))
    xw.write_rating(image, rating)
    written = _as_list(exiftool_json(image.with_name(image.name + ".xmp")).get("XMP-lr:HierarchicalSubject"))
    told = xw.hierarchical_keywords(rating.person, rating.rank, rating.kind, rating.tags)
    assert told == written == ["photorank|Ann Lee Jr x|rank 012", "photorank|Ann Lee Jr x|group",
                               "photorank|Ann Lee Jr x|best of burst", "photorank|Ann Lee Jr x|unsure"]
    assert all(keyword.startswith(xw.hierarchical_prefix(rating.person)) for keyword in told)
    assert xw.hierarchical_prefix("  ") == "photorank|unnamed|"
