"""A rating, title or keywords stored inside the photo are the user's: a sidecar we create starts
from them, the rating policy keeps the rating, and undo leaves the photo as it was."""

from __future__ import annotations

import os

import pytest
from lxml import etree
from xmp_helpers import camera_packet, exiftool_json, jpeg_with_packet, make_rating, needs_exiftool

import xmp_writer as xw
from xmp_writer import embedded

pytest.importorskip("PIL")


def sidecar_of(photo) -> str:
    return str(photo) + ".xmp"


@needs_exiftool
def test_a_new_sidecar_carries_the_photos_rating_title_description_and_keywords(tmp_path):
    photo = tmp_path / "IMG_0001.jpg"
    jpeg_with_packet(photo, camera_packet(rating="3"))
    outcome = xw.write_rating(photo, make_rating(stars=5))
    assert outcome.paths("created") == [sidecar_of(photo)]
    assert "rating kept: set by user (3)" in outcome.files[0].notes
    tags = exiftool_json(sidecar_of(photo))
    assert tags["XMP-xmp:Rating"] == 3
    assert tags["XMP-dc:Title"] == "Harbour at dawn"
    assert tags["XMP-dc:Description"] == "Boats leaving"
    assert {"holiday", "sea", "photorank", "Alice", "rank 007"} <= set(tags["XMP-dc:Subject"])
    # darktable and digiKam read these lists before dc:subject: the photo's keywords are in them too
    assert {"holiday", "sea", "photorank|Alice|rank 007"} <= set(tags["XMP-lr:HierarchicalSubject"])
    assert {"holiday", "sea", "photorank/Alice/rank 007"} <= set(tags["XMP-digiKam:TagsList"])
    assert "XMP-xmp:CreatorTool" not in tags  # not the user's: not copied


def test_undo_gives_back_the_photos_rating_and_removes_the_sidecar(tmp_path):
    photo = tmp_path / "IMG_0001.jpg"
    original = jpeg_with_packet(photo, camera_packet(rating="3"))
    xw.write_rating(photo, make_rating(stars=5), overwrite_ratings=True)
    assert "<xmp:Rating>5</xmp:Rating>" in open(sidecar_of(photo)).read()
    assert "<photorank:RatingBefore>3</photorank:RatingBefore>" in open(sidecar_of(photo)).read()
    assert xw.undo(photo).paths("removed") == [sidecar_of(photo)]
    assert not os.path.exists(sidecar_of(photo))
    assert photo.read_bytes() == original


def test_a_sidecar_the_user_added_to_since_is_kept_by_undo(tmp_path):
    photo = tmp_path / "IMG_0001.jpg"
    jpeg_with_packet(photo, camera_packet(rating="3"))
    xw.write_rating(photo, make_rating(stars=5))
    sidecar = sidecar_of(photo)
    with open(sidecar) as handle:
        text = handle.read().replace("<xmp:Rating>3</xmp:Rating>", "<xmp:Rating>4</xmp:Rating>")
    with open(sidecar, "w") as handle:
        handle.write(text)
    outcome = xw.undo(photo)
    assert outcome.paths("updated") == [sidecar]
    assert "<xmp:Rating>4</xmp:Rating>" in open(sidecar).read()


def test_an_exif_rating_counts_as_the_users(tmp_path):
    photo = tmp_path / "IMG_0002.jpg"
    original = jpeg_with_packet(photo, None, exif_rating=2)
    outcome = xw.write_rating(photo, make_rating(stars=5), embed=True)
    assert [result.notes for result in outcome.files] == [("rating kept: set by user (2)",)] * 2
    assert "<xmp:Rating>2</xmp:Rating>" in open(sidecar_of(photo)).read()
    assert xw.undo(photo, embed=True).ok
    assert photo.read_bytes() == original and not os.path.exists(sidecar_of(photo))


def test_an_exporters_edit_history_is_not_copied(tmp_path):
    """darktable embeds its history in the JPEGs it exports: in a sidecar it would edit them again."""
    photo = tmp_path / "exported.jpg"
    history = '   <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq></darktable:history>\n'
    jpeg_with_packet(photo, camera_packet(extra=history))
    xw.write_rating(photo, make_rating())
    text = open(sidecar_of(photo)).read()
    assert "darktable" not in text and "Harbour at dawn" in text


def test_a_png_packet_is_found_by_its_xpacket_wrapper(tmp_path):
    from PIL import Image, PngImagePlugin

    photo = tmp_path / "scan.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", camera_packet(rating="4").decode("utf-8"))
    Image.new("RGB", (32, 32)).save(photo, pnginfo=info)
    packet, rating = embedded.photo_metadata(str(photo))
    assert packet is not None and rating is None
    xw.write_rating(photo, make_rating(stars=1))
    doc = etree.parse(sidecar_of(photo))
    ratings = doc.findall(".//{http://ns.adobe.com/xap/1.0/}Rating")
    assert [element.text for element in ratings] == ["4"]


def test_a_broken_photo_gives_an_empty_sidecar_not_an_error(tmp_path):
    photo = tmp_path / "broken.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe1\x00")  # a truncated segment
    outcome = xw.write_rating(photo, make_rating(stars=4))
    assert outcome.ok and "<xmp:Rating>4</xmp:Rating>" in open(sidecar_of(photo)).read()
