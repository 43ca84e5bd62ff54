"""Writing, re-writing and undoing, checked with exiftool and exiv2."""

from __future__ import annotations

import os
import stat

import pytest
from lxml import etree
from xmp_helpers import (darktable_sidecar, exiftool_json, exiv2_lines, exiv2_types, make_rating,
                      needs_exiftool, needs_exiv2)

import xmp_writer as xw
from xmp_writer.rdf import RDF


def _history(path) -> list[str]:
    return [line for line in exiv2_lines(path) if "darktable" in line]


@needs_exiftool
def test_exiftool_reads_everything_we_write(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar(history=5, rating="0"))
    outcome = xw.write_rating(image, make_rating(kind="group", tags=("best of burst",)))
    assert outcome.paths("updated") == [str(sidecar)]

    data = exiftool_json(sidecar)
    assert data["XMP-xmp:Rating"] == 3
    assert data["XMP-lr:HierarchicalSubject"] == [
        "photorank|Alice|rank 007", "photorank|Alice|group", "photorank|Alice|best of burst"]
    assert data["XMP-dc:Subject"] == ["photorank", "Alice", "rank 007", "group", "best of burst"]
    assert data["XMP-digiKam:TagsList"] == [
        "photorank/Alice/rank 007", "photorank/Alice/group", "photorank/Alice/best of burst",
        "People/Alice"]  # digiKam's person tag, last (see docs/xmp.md)
    region = data["XMP-mwg-rs:RegionInfo"]
    assert region["AppliedToDimensions"] == {"W": 640, "H": 480, "Unit": "pixel"}
    assert region["RegionList"] == [{"Name": "Alice", "Type": "Face", "Area": {
        "X": 0.5, "Y": 0.375, "W": 0.125, "H": 0.25, "Unit": "normalized"}}]
    person = data["XMP-photorank:Persons"][0]
    assert person["Person"] == "Alice" and person["Rank"] == 7 and person["Score"] == 0.8125
    assert person["Kind"] == "group" and person["Engine"] == "dlib" and person["Version"] == "0.1.0"
    assert "RunTime" in person
    assert str(data["XMP-photorank:RatingBefore"]) == "0"
    assert len(data["XMP-darktable:History"]) == 5


@needs_exiv2
def test_exiv2_sees_the_right_array_types(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar(history=2, rating=None))
    xw.write_rating(image, make_rating())
    types = exiv2_types(sidecar)
    assert types["Xmp.dc.subject"] == "XmpBag"
    assert types["Xmp.lr.hierarchicalSubject"] == "XmpBag"
    assert types["Xmp.digiKam.TagsList"] == "XmpSeq"
    assert any(line.startswith("Xmp.xmp.Rating ") and line.endswith(" 3") for line in exiv2_lines(sidecar))


def test_existing_array_types_are_kept(image):
    sidecar = image.with_name(image.name + ".xmp")
    # keyword lists that are (wrongly) Seq: they must stay Seq.  exiv2 and
    # exiftool report the schema's type whatever the file says, so read XML.
    sidecar.write_bytes(darktable_sidecar(keywords=("places|Paris",)))
    xw.write_rating(image, make_rating())
    tree = etree.parse(str(sidecar))
    ns = {"rdf": RDF, "dc": "http://purl.org/dc/elements/1.1/", "lr": "http://ns.adobe.com/lightroom/1.0/"}
    for prop in ("dc:subject", "lr:hierarchicalSubject"):
        (elem,) = tree.findall(f".//{prop}", ns)
        assert [etree.QName(c).localname for c in elem] == ["Seq"]
        assert "Paris" in "".join(elem.itertext()) and "photorank" in "".join(elem.itertext())


def test_same_result_twice_gives_same_bytes(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar(history=4, rating=None))
    xw.write_rating(image, make_rating())
    first = sidecar.read_bytes()
    outcome = xw.write_rating(image, make_rating())
    assert outcome.paths("unchanged") == [str(sidecar)]
    assert sidecar.read_bytes() == first
    assert first.count(b"mwg-rs:Name=\"Alice\"") == 1


def test_new_rank_replaces_old_keywords_and_keeps_other_person(image):
    xw.write_rating(image, make_rating("Alice", rank=7))
    xw.write_rating(image, make_rating("Bob", rank=2, stars=5))
    xw.write_rating(image, make_rating("Alice", rank=3, stars=4))
    text = image.with_name(image.name + ".xmp").read_text("utf-8")
    assert "rank 007" not in text
    assert "photorank|Alice|rank 003" in text and "photorank|Bob|rank 002" in text
    assert text.count('mwg-rs:Type="Face"') == 2
    assert "<xmp:Rating>5</xmp:Rating>" in text  # best of the persons


def test_user_rating_is_kept_unless_overwrite(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar(rating="2"))
    outcome = xw.write_rating(image, make_rating(stars=5))
    assert "rating kept: set by user (2)" in outcome.files[0].notes
    assert 'xmp:Rating="2"' in sidecar.read_text()
    xw.write_rating(image, make_rating(stars=5), overwrite_ratings=True)
    assert 'xmp:Rating="5"' in sidecar.read_text()
    # from now on the rating is ours and follows new results
    xw.write_rating(image, make_rating(stars=1))
    assert 'xmp:Rating="1"' in sidecar.read_text()
    xw.undo(image)
    assert 'xmp:Rating="2"' in sidecar.read_text()


def test_rating_changed_by_user_after_us_is_theirs(image):
    xw.write_rating(image, make_rating(stars=3))
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_text(sidecar.read_text().replace("<xmp:Rating>3<", "<xmp:Rating>1<"))
    outcome = xw.write_rating(image, make_rating(stars=4))
    assert "rating kept: set by user (1)" in outcome.files[0].notes
    assert xw.undo(image).paths("updated") == [str(sidecar)]  # user data kept, so not removed
    assert "<xmp:Rating>1</xmp:Rating>" in sidecar.read_text()


@needs_exiv2
def test_undo_restores_semantics_and_keeps_user_keywords(image):
    sidecar = image.with_name(image.name + ".xmp")
    original = darktable_sidecar(history=3, rating="0", keywords=("photorank", "people|Alice"))
    sidecar.write_bytes(original)
    before = exiv2_lines(sidecar)
    xw.write_rating(image, make_rating(kind="group"))
    xw.write_rating(image, make_rating("Bob"))
    xw.undo(image, "Alice")
    text = sidecar.read_text()
    assert "photorank|Alice" not in text and "photorank|Bob|rank 007" in text
    xw.undo(image)
    assert exiv2_lines(sidecar) == before


def test_undo_removes_a_sidecar_we_created(image):
    xw.write_rating(image, make_rating())
    sidecar = str(image) + ".xmp"
    assert xw.undo(image).paths("removed") == [sidecar]
    assert not os.path.exists(sidecar)


def test_created_sidecar_with_foreign_data_is_kept_on_undo(image):
    xw.write_rating(image, make_rating())
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_text(sidecar.read_text().replace(
        'rdf:about="">', 'rdf:about="" xmlns:darktable="http://darktable.sf.net/" darktable:xmp_version="5">', 1))
    outcome = xw.undo(image)
    assert outcome.paths("updated") == [str(sidecar)]
    assert 'darktable:xmp_version="5"' in sidecar.read_text()
    assert "<photorank:" not in sidecar.read_text()


def test_malformed_sidecar_is_reported_and_untouched(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(b"<x:xmpmeta><rdf:RDF>")
    outcome = xw.write_rating(image, make_rating())
    assert not outcome.ok and outcome.files[0].action == "error"
    assert "not well-formed" in outcome.files[0].notes[0]
    assert sidecar.read_bytes() == b"<x:xmpmeta><rdf:RDF>"


def test_file_mode_is_kept(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar())
    os.chmod(sidecar, 0o640)
    xw.write_rating(image, make_rating())
    assert stat.S_IMODE(os.stat(sidecar).st_mode) == 0o640


def test_keywords_never_contain_commas_or_separators(image):
    xw.write_rating(image, make_rating("Smith, John/Jr|X", tags=("a,b",)))
    data = image.with_name(image.name + ".xmp").read_text("utf-8")
    assert "photorank|Smith John Jr X|rank 007" in data
    assert "photorank|Smith John Jr X|a b" in data
    assert 'mwg-rs:Name="Smith, John/Jr|X"' in data


def test_forms_xpacket_and_missing_xmpmeta(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_text(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        ' <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">\n'
        "  <xmp:Rating>0</xmp:Rating>\n"
        " </rdf:Description>\n"
        ' <rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/">\n'
        "  <lr:hierarchicalSubject><rdf:Bag><rdf:li>x|y</rdf:li></rdf:Bag></lr:hierarchicalSubject>\n"
        " </rdf:Description>\n"
        "</rdf:RDF>\n"
        '<?xpacket end="w"?>', encoding="utf-8")
    xw.write_rating(image, make_rating())
    text = sidecar.read_text("utf-8")
    assert text.startswith("<?xpacket begin=") and text.rstrip().endswith('<?xpacket end="w"?>')
    assert "<xmp:Rating>3</xmp:Rating>" in text
    assert "<rdf:li>x|y</rdf:li>\n   <rdf:li>photorank|Alice|rank 007</rdf:li>" in text or \
        text.index("x|y") < text.index("photorank|Alice|rank 007")
    assert text.count("lr:hierarchicalSubject>") == 2  # one property, not two


def test_region_of_user_for_same_person_is_not_duplicated(image):
    xw.write_rating(image, make_rating())
    sidecar = image.with_name(image.name + ".xmp")
    # as if digiKam had rewritten the region with its own number formatting
    sidecar.write_text(sidecar.read_text().replace('stArea:x="0.5"', 'stArea:x="0.500000"'))
    xw.write_rating(image, make_rating(rank=2))
    assert sidecar.read_text().count('mwg-rs:Type="Face"') == 1


@pytest.mark.parametrize("existing, naming, expected", [
    ([], "auto", ["IMG_0001.jpg.xmp"]),
    ([], "name.xmp", ["IMG_0001.xmp"]),
    (["IMG_0001.xmp"], "auto", ["IMG_0001.xmp"]),
    (["IMG_0001.jpg.xmp", "IMG_0001_01.jpg.xmp", "IMG_0001.xmp"], "auto",
     ["IMG_0001.jpg.xmp", "IMG_0001_01.jpg.xmp", "IMG_0001.xmp"]),
    (["IMG_0001.jpg.xmp", "IMG_0001.xmp"], "name.ext.xmp", ["IMG_0001.jpg.xmp"]),
    # IMG_0001_01.jpg is an image of its own: its sidecar is not a duplicate of ours
    (["IMG_0001_01.jpg", "IMG_0001_01.jpg.xmp"], "auto", ["IMG_0001.jpg.xmp"]),
])
def test_sidecar_naming(image, existing, naming, expected):
    for name in existing:
        (image.parent / name).write_bytes(darktable_sidecar() if name.endswith(".xmp") else b"x")
    paths = xw.sidecar_paths(image, naming)
    assert [os.path.basename(p) for p in paths] == expected


def test_all_sidecars_of_an_image_are_updated(image):
    for name in ("IMG_0001.jpg.xmp", "IMG_0001_01.jpg.xmp"):
        (image.parent / name).write_bytes(darktable_sidecar(rating=None))
    outcome = xw.write_rating(image, make_rating())
    assert len(outcome.paths("updated")) == 2


def test_change_under_us_is_merged_not_lost(image, monkeypatch):
    from xmp_writer import merge
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar())
    real_apply, calls = merge.apply, []

    def apply_while_darktable_writes(data, *args, **kwargs):
        if not calls:  # another program saves the sidecar while we merge
            calls.append(1)
            sidecar.write_bytes(data.replace(b'xmp_version="5"', b'xmp_version="55"'))
        return real_apply(data, *args, **kwargs)

    monkeypatch.setattr(merge, "apply", apply_while_darktable_writes)
    outcome = xw.write_rating(image, make_rating())
    assert outcome.paths("updated") == [str(sidecar)]
    text = sidecar.read_text()
    assert 'xmp_version="55"' in text and "photorank|Alice|rank 007" in text


@needs_exiv2
def test_darktable_default_rating_counts_as_unrated_on_request(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar(rating="1"))
    original = exiv2_lines(sidecar)
    # default: strict, darktable's 1 star counts as the user's
    outcome = xw.write_rating(image, make_rating(stars=4))
    assert "rating kept: set by user (1)" in outcome.files[0].notes
    assert 'xmp:Rating="1"' in sidecar.read_text()
    # a darktable user says 1 star means "not rated"
    outcome = xw.write_rating(image, make_rating(stars=4), unrated=(0, 1))
    assert not outcome.files[0].notes and 'xmp:Rating="4"' in sidecar.read_text()
    assert "<photorank:RatingBefore>1</photorank:RatingBefore>" in sidecar.read_text()
    # once ours, the rating follows new results, whatever unrated says
    xw.write_rating(image, make_rating(stars=2))
    assert 'xmp:Rating="2"' in sidecar.read_text()
    xw.undo(image)
    assert 'xmp:Rating="1"' in sidecar.read_text()
    assert exiv2_lines(sidecar) == original


@pytest.mark.parametrize("unrated", [(0, 1, 2, 3, 4, 5), ()])
def test_unrated_does_not_change_an_absent_rating(image, unrated):
    xw.write_rating(image, make_rating(stars=4), unrated=unrated)
    assert "<xmp:Rating>4</xmp:Rating>" in image.with_name(image.name + ".xmp").read_text()


@pytest.mark.parametrize("bad", [(-1,), (6,), ("1",), (1.5,), (True,)])
def test_unrated_is_validated(image, bad):
    with pytest.raises(ValueError):
        xw.write_rating(image, make_rating(), unrated=bad)
    assert not os.path.exists(str(image) + ".xmp")


@needs_exiv2
@pytest.mark.parametrize("form", ['xmp:Rating="-1"', "<xmp:Rating>-1</xmp:Rating>"])
def test_reject_is_never_overwritten(image, form):
    sidecar = image.with_name(image.name + ".xmp")
    data = darktable_sidecar(rating="-1")
    if form.startswith("<"):
        data = data.replace(b'   xmp:Rating="-1"\n', b"").replace(b"<darktable:masks_history>",
                                                                   form.encode() + b"\n   <darktable:masks_history>")
    sidecar.write_bytes(data)
    original = exiv2_lines(sidecar)
    for kwargs in ({}, {"overwrite_ratings": True}, {"overwrite_ratings": True, "unrated": (0, 1)}):
        outcome = xw.write_rating(image, make_rating(stars=5), **kwargs)
        assert "rating kept: rejected by user (-1)" in outcome.files[0].notes
        assert form in sidecar.read_text()
        assert "photorank|Alice|rank 007" in sidecar.read_text()  # the rest is written
    xw.undo(image)
    assert form in sidecar.read_text() and exiv2_lines(sidecar) == original


def test_reject_after_our_rating_is_kept(image):
    xw.write_rating(image, make_rating(stars=3))
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_text(sidecar.read_text().replace("<xmp:Rating>3<", "<xmp:Rating>-1<"))
    outcome = xw.write_rating(image, make_rating(stars=4), overwrite_ratings=True)
    assert "rating kept: rejected by user (-1)" in outcome.files[0].notes
    xw.undo(image)
    assert "<xmp:Rating>-1</xmp:Rating>" in sidecar.read_text()


def test_a_dry_run_says_what_would_change_and_writes_nothing(image):
    sidecar = image.with_name(image.name + ".xmp")
    sidecar.write_bytes(darktable_sidecar(history=2, rating="0", keywords=("family|trip",)))
    before = sidecar.read_bytes()
    [result] = xw.write_rating(image, make_rating(stars=4), dry_run=True).files
    assert result.action == "updated" and sidecar.read_bytes() == before
    assert result.changes == (
        "xmp:Rating: 0 -> 4",
        "dc:subject + photorank, Alice, rank 007, single",
        "lr:hierarchicalSubject + photorank|Alice|rank 007, photorank|Alice|single",
        "digiKam:TagsList + photorank/Alice/rank 007, photorank/Alice/single, family/trip, People/Alice",
        "face region + Alice",
        "photorank data + Alice",
    )
    xw.write_rating(image, make_rating(stars=4))
    [result] = xw.undo(image, dry_run=True).files
    assert result.action == "updated" and "photorank data - Alice" in result.changes
    assert "xmp:Rating: 4 -> 0" in result.changes and "face region - Alice" in result.changes
