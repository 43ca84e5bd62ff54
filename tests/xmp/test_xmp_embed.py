"""Embedding into JPEG files (embed=True): segment surgery checked with
exiftool, exiv2 and Pillow."""

from __future__ import annotations

import os
import stat

import pytest
from programs import run
from xmp_helpers import exiftool_json, exiv2_lines, make_rating, needs_exiftool, needs_exiv2

import xmp_writer as xw

pytest.importorskip("PIL")
from PIL import Image, ImageCms  # noqa: E402

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"


def _segments(data: bytes) -> list[bytes]:
    """The whole marker segments before SOS (written independently of xmp_writer.jpeg)."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while data[pos + 1] != 0xDA:
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        found.append(data[pos:pos + 2 + length])
        pos += 2 + length
    return found


def _image_data(data: bytes) -> bytes:
    """Everything from SOS on: the entropy-coded data and what follows EOI."""
    return data[2 + sum(map(len, _segments(data))):]


def _xmp_segments(data: bytes) -> list[bytes]:
    return [s for s in _segments(data) if s[:2] == b"\xff\xe1" and s[4:].startswith(XMP_HEADER)]


def _other_segments(data: bytes) -> list[bytes]:
    return [s for s in _segments(data) if not (s[:2] == b"\xff\xe1" and s[4:].startswith(XMP_HEADER))]


def _pixels(path) -> bytes:
    with Image.open(path) as img:
        return img.tobytes()


@pytest.fixture
def photo(tmp_path):
    """A real JPEG with Exif (Make) and an ICC profile."""
    path = tmp_path / "DSC_0042.jpg"
    img = Image.new("RGB", (96, 64))
    img.putdata([(x * 2, y * 3, (x * y) % 256) for y in range(64) for x in range(96)])
    exif = img.getexif()
    exif[0x010F] = "TestMake"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img.save(path, quality=90, exif=exif.tobytes(), icc_profile=icc)
    return path


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _insert_after_soi(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


@needs_exiftool
@needs_exiv2
def test_embedded_packet_is_read_by_exiftool_and_exiv2(photo):
    original = photo.read_bytes()
    pixels = _pixels(photo)
    outcome = xw.write_rating(photo, make_rating(kind="group"), embed=True)
    assert outcome.ok and outcome.paths("updated") == [str(photo)]

    data = exiftool_json(photo)
    assert data["XMP-xmp:Rating"] == 3
    assert data["XMP-lr:HierarchicalSubject"] == ["photorank|Alice|rank 007", "photorank|Alice|group"]
    assert data["XMP-dc:Subject"] == ["photorank", "Alice", "rank 007", "group"]
    assert data["XMP-digiKam:TagsList"] == ["photorank/Alice/rank 007", "photorank/Alice/group", "People/Alice"]
    assert data["XMP-mwg-rs:RegionInfo"]["RegionList"][0]["Name"] == "Alice"
    assert data["XMP-photorank:Persons"][0]["Rank"] == 7
    assert data["IFD0:Make"] == "TestMake"
    assert "ICC_Profile:ProfileDescription" in data or "ICC-header:ProfileClass" in data
    lines = exiv2_lines(photo)
    assert any(line.startswith("Xmp.xmp.Rating ") and line.endswith(" 3") for line in lines)
    assert any(line.startswith("Xmp.lr.hierarchicalSubject ") and "photorank|Alice|group" in line
               for line in lines)
    assert any(line.startswith("Xmp.photorank.Persons") for line in lines)

    new = photo.read_bytes()
    assert _pixels(photo) == pixels
    assert _image_data(new) == _image_data(original)
    assert _other_segments(new) == _segments(original)  # Exif, ICC, DQT, ... byte-identical
    assert len(_xmp_segments(new)) == 1
    assert [s[:2] for s in _segments(new)][:3] == [b"\xff\xe0", b"\xff\xe1", b"\xff\xe1"]  # after Exif

    again = xw.write_rating(photo, make_rating(kind="group"), embed=True)
    assert again.paths("unchanged") == [str(photo) + ".xmp", str(photo)]
    assert photo.read_bytes() == new

    assert xw.undo(photo, embed=True).paths("updated") == [str(photo)]
    assert photo.read_bytes() == original  # the segment we created is gone again


@needs_exiftool
@needs_exiv2
def test_packet_written_by_exiftool_keeps_its_data(photo):
    run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=foo", "-XMP-xmp:Rating=2",
         "-XMP-dc:Title=Holiday", "-XMP-iptcExt:PersonInImage=Carol", str(photo)], check=True)
    original = photo.read_bytes()
    before = {k: v for k, v in exiftool_json(photo).items() if k.startswith("XMP")}
    before_exiv2 = exiv2_lines(photo)

    outcome = xw.write_rating(photo, make_rating(stars=5), embed=True)
    assert outcome.files[-1].action == "updated"
    assert "rating kept: set by user (2)" in outcome.files[-1].notes
    data = exiftool_json(photo)
    assert data["XMP-xmp:Rating"] == 2
    assert data["XMP-dc:Subject"] == ["foo", "photorank", "Alice", "rank 007", "single"]
    assert data["XMP-dc:Title"] == "Holiday"
    assert data["XMP-iptcExt:PersonInImage"] == ["Carol"]
    assert _other_segments(photo.read_bytes()) == _other_segments(original)
    assert _image_data(photo.read_bytes()) == _image_data(original)

    once = photo.read_bytes()
    xw.write_rating(photo, make_rating(stars=5), embed=True)
    assert photo.read_bytes() == once

    assert xw.undo(photo, embed=True).ok
    after = {k: v for k, v in exiftool_json(photo).items() if k.startswith("XMP")}
    assert after == before
    assert exiv2_lines(photo) == before_exiv2
    assert _other_segments(photo.read_bytes()) == _other_segments(original)
    assert len(_xmp_segments(photo.read_bytes())) == 1  # not ours: kept


def test_darktable_rating_in_embedded_packet(photo):
    data = photo.read_bytes()
    packet = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="1"/>'
              b'</rdf:RDF></x:xmpmeta>' + b" " * 2000 + b'<?xpacket end="w"?>')
    photo.write_bytes(_insert_after_soi(data, _app1(XMP_HEADER + packet)))
    xw.write_rating(photo, make_rating(stars=4), embed=True, unrated=(0, 1))
    assert b'xmp:Rating="4"' in _xmp_segments(photo.read_bytes())[0]
    xw.undo(photo, embed=True)
    (segment,) = _xmp_segments(photo.read_bytes())
    assert b'xmp:Rating="1"' in segment and b"photorank" not in segment


def test_only_jpeg_is_embedded_into(tmp_path):
    png = tmp_path / "scan.png"
    Image.new("RGB", (8, 8)).save(png)
    original = png.read_bytes()
    outcome = xw.write_rating(png, make_rating(), embed=True)
    assert outcome.ok
    assert outcome.files[-1].path == str(png) and "embedding is only for JPEG" in outcome.files[-1].notes
    assert png.read_bytes() == original
    assert xw.undo(png, embed=True).ok and png.read_bytes() == original


def test_extended_xmp_is_left_alone(photo):
    extended = _app1(EXT_HEADER + b"0" * 32 + (5).to_bytes(4, "big") + (0).to_bytes(4, "big") + b"<x/>\n")
    data = photo.read_bytes()
    photo.write_bytes(data[:2] + extended + data[2:])
    outcome = xw.write_rating(photo, make_rating(), embed=True)
    result = outcome.files[-1]
    assert result.action == "updated"
    assert any("Extended XMP" in note and "left alone" in note for note in result.notes)
    assert extended in _segments(photo.read_bytes())


def test_packet_over_the_segment_limit_is_refused(photo):
    big = b"x" * 65000
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
              b"<dc:source>" + big + b"</dc:source></rdf:Description></rdf:RDF></x:xmpmeta>")
    data = _insert_after_soi(photo.read_bytes(), _app1(XMP_HEADER + packet))
    photo.write_bytes(data)
    outcome = xw.write_rating(photo, make_rating(), embed=True)
    result = outcome.files[-1]
    assert not outcome.ok and result.action == "error" and "65502" in result.notes[0]
    assert photo.read_bytes() == data
    assert outcome.files[0].action == "created"  # the sidecar is still written


def test_xmp_after_mpf_is_not_resized(photo):
    mpf = b"\xff\xe2" + (10).to_bytes(2, "big") + b"MPF\x00MM\x00*"
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
              b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
    data = photo.read_bytes()
    # the usual order (MPF after where we insert) is fine and MPF stays as it is
    photo.write_bytes(_insert_after_soi(data, mpf))
    assert xw.write_rating(photo, make_rating(), embed=True).ok
    assert mpf in _segments(photo.read_bytes())
    # an existing XMP segment after MPF would move the other pictures: refused
    odd = _insert_after_soi(data, mpf, _app1(XMP_HEADER + packet))
    photo.write_bytes(odd)
    outcome = xw.write_rating(photo, make_rating(), embed=True)
    assert outcome.files[-1].action == "error" and "MPF" in outcome.files[-1].notes[0]
    assert photo.read_bytes() == odd


def test_broken_jpeg_is_reported_and_untouched(photo):
    data = photo.read_bytes()
    broken = data[:2] + b"\xff\xe1\xff\xf0" + b"x" * 10  # a segment longer than the file
    photo.write_bytes(broken)
    outcome = xw.write_rating(photo, make_rating(), embed=True)
    assert outcome.files[-1].action == "error" and "not a valid JPEG" in outcome.files[-1].notes[0]
    assert photo.read_bytes() == broken


def test_embedding_keeps_mode_and_leaves_no_temp_file(photo):
    os.chmod(photo, 0o640)
    xw.write_rating(photo, make_rating(), embed=True)
    assert stat.S_IMODE(os.stat(photo).st_mode) == 0o640
    assert sorted(os.listdir(photo.parent)) == [photo.name, photo.name + ".xmp"]


def test_jpeg_changed_while_we_merge_is_merged_again(photo, monkeypatch):
    from xmp_writer import merge
    real_apply, calls = merge.apply, []

    def apply_while_someone_writes(data, *args, **kwargs):
        if kwargs.get("empty") is not None and not calls:
            calls.append(1)  # another program adds an XMP packet meanwhile
            other = _app1(XMP_HEADER + b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
                          b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
                          b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/>'
                          b"</rdf:RDF></x:xmpmeta>")
            photo.write_bytes(_insert_after_soi(photo.read_bytes(), other))
        return real_apply(data, *args, **kwargs)

    monkeypatch.setattr(merge, "apply", apply_while_someone_writes)
    outcome = xw.write_rating(photo, make_rating(), embed=True)
    assert outcome.files[-1].action == "updated"
    (segment,) = _xmp_segments(photo.read_bytes())
    assert b'dc:format="image/jpeg"' in segment and b"photorank|Alice|rank 007" in segment


def test_missing_image_is_reported(tmp_path):
    outcome = xw.write_rating(tmp_path / "gone.jpg", make_rating(), embed=True)
    assert outcome.files[-1].notes == ("no such file",)
