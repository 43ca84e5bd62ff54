"""Reading named face regions: MWG, Microsoft and digiKam tags, from sidecars and embedded XMP
(written by exiftool, as photo managers write them), orientation, and photorank's own regions."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from programs import run

import imagefactory as factory
import xmp_writer
from photorank.regions import NamedRegion, TagReader, photo_tags, pixel_box

OBAMA, BIDEN = "Barack Obama", "Joe Biden"

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed (it writes the tags)")


def exiftool(*arguments: str) -> None:
    done = run(["exiftool", "-q", "-q", *arguments])
    assert done.returncode == 0, done.stderr


def mwg_info(regions: list[tuple[str, tuple[float, float, float, float]]], width: int, height: int) -> str:
    """exiftool's structure for mwg-rs:Regions: areas as normalised centre x, y and w, h."""
    items = ",".join(
        f"{{Area={{X={x + w / 2:.4f},Y={y + h / 2:.4f},W={w:.4f},H={h:.4f},Unit=normalized}},Name={name},Type=Face}}"
        for name, (x, y, w, h) in regions
    )
    return f"-XMP-mwg-rs:RegionInfo={{AppliedToDimensions={{W={width},H={height},Unit=pixel}},RegionList=[{items}]}}"


def microsoft_info(name: str, area: tuple[float, float, float, float]) -> str:
    rectangle = "|, ".join(f"{value:.4f}" for value in area)  # exiftool escapes a comma in a structure with |
    return f"-XMP-MP:RegionInfoMP={{Regions=[{{PersonDisplayName={name},Rectangle={rectangle}}}]}}"


@pytest.fixture
def photo(tmp_path):
    return str(factory.write_jpeg(tmp_path / "IMG_1.jpg", factory.synthetic_scene(200, 100)))


def areas(tags) -> list[tuple[str, tuple | None, str]]:
    return [(region.name, region.area and tuple(round(v, 3) for v in region.area), region.source) for region in tags.regions]


@needs_exiftool
def test_digikam_writes_mwg_and_microsoft_regions_of_one_face_and_its_people_tags(photo):
    exiftool("-o", photo + ".xmp", mwg_info([(OBAMA, (0.1, 0.2, 0.3, 0.4))], 200, 100),
             microsoft_info(OBAMA, (0.1, 0.2, 0.3, 0.4)), f"-XMP-digiKam:TagsList=People/Family/{OBAMA}",
             "-XMP-digiKam:TagsList+=People/Unknown", "-XMP-digiKam:TagsList+=Places/Paris", photo)
    tags = photo_tags(photo, [photo + ".xmp"])
    assert areas(tags) == [(OBAMA, (0.1, 0.2, 0.3, 0.4), "mwg"), (OBAMA, None, "digikam tag")]  # one face, once
    assert tags.regions[0].applied_to == (200, 100)


@needs_exiftool
def test_a_lightroom_region_inside_the_jpeg_and_a_picasa_one_in_name_xmp(photo, tmp_path):
    exiftool("-o", str(tmp_path / "IMG_1.xmp"), mwg_info([(BIDEN, (0.0, 0.5, 0.25, 0.5))], 200, 100), photo)
    exiftool("-overwrite_original", mwg_info([(OBAMA, (0.5, 0.1, 0.2, 0.2))], 200, 100), photo)
    tags = TagReader().read([photo])[photo]
    assert sorted(areas(tags)) == [(OBAMA, (0.5, 0.1, 0.2, 0.2), "mwg"), (BIDEN, (0.0, 0.5, 0.25, 0.5), "mwg")]


@needs_exiftool
def test_a_jpeg_xl_carries_its_regions(tmp_path):
    path = str(factory.write_jxl(tmp_path / "export.jxl", factory.synthetic_scene(120, 80)))
    exiftool("-overwrite_original", mwg_info([(OBAMA, (0.25, 0.25, 0.5, 0.5))], 120, 80), path)
    assert areas(TagReader().read([path])[path]) == [(OBAMA, (0.25, 0.25, 0.5, 0.5), "mwg")]


def test_our_own_region_is_no_tag_but_the_users_beside_it_is(photo):
    ours = xmp_writer.PersonRating(
        person=OBAMA, rank=1, score=80.0, stars=4, kind="single",
        region=xmp_writer.FaceRegion(cx=0.3, cy=0.4, w=0.2, h=0.2, image_width=200, image_height=100),
        engine="test", version="0", run_time="2025-01-01T00:00:00+00:00")
    xmp_writer.write_rating(photo, ours)
    assert TagReader().read([photo])[photo].regions == []
    sidecar = photo + ".xmp"
    with open(sidecar, encoding="utf-8") as handle:
        text = handle.read()
    user_region = ("<rdf:li rdf:parseType=\"Resource\"><mwg-rs:Name>Joe Biden</mwg-rs:Name><mwg-rs:Type>Face</mwg-rs:Type>"
                   "<mwg-rs:Area stArea:x=\"0.8\" stArea:y=\"0.5\" stArea:w=\"0.1\" stArea:h=\"0.2\"/></rdf:li>")
    with open(sidecar, "w", encoding="utf-8") as handle:
        handle.write(text.replace("</rdf:Bag>\n    </mwg-rs:RegionList>", user_region + "</rdf:Bag>\n    </mwg-rs:RegionList>", 1))
    assert [region.name for region in TagReader().read([photo])[photo].regions] == [BIDEN]


def test_a_broken_sidecar_is_said_and_the_photo_still_read(photo):
    with open(photo + ".xmp", "w", encoding="utf-8") as handle:
        handle.write("<x:xmpmeta><rdf:RDF")
    tags = TagReader().read([photo])[photo]
    assert tags.regions == [] and len(tags.errors) == 1 and "IMG_1.jpg.xmp" in tags.errors[0]


def test_the_reader_reads_a_sidecar_again_when_it_changes(photo):
    reader = TagReader()
    assert reader.read([photo])[photo].regions == []
    with open(photo + ".xmp", "w", encoding="utf-8") as handle:
        handle.write('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                     '<rdf:Description rdf:about="" xmlns:MP="http://ns.microsoft.com/photo/1.2/" '
                     'xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">'
                     '<MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag><rdf:li MPReg:PersonDisplayName="Joe Biden" '
                     'MPReg:Rectangle="0.1, 0.1, 0.2, 0.3"/></rdf:Bag></MPRI:Regions></MP:RegionInfo></rdf:Description></rdf:RDF></x:xmpmeta>')
    assert areas(reader.read([photo])[photo]) == [(BIDEN, (0.1, 0.1, 0.2, 0.3), "microsoft")]
    os.remove(photo + ".xmp")
    assert reader.read([photo])[photo].regions == []


@pytest.mark.parametrize("orientation", range(1, 9))
def test_stored_areas_land_on_the_displayed_face(orientation):
    displayed = np.zeros((40, 60, 1), np.uint8)
    displayed[10:20, 30:45] = 1  # the face, in displayed pixels: x 30, y 10, 15 x 10
    stored = factory.stored_for_orientation(displayed, orientation)[..., 0]
    rows, columns = np.nonzero(stored)
    height, width = stored.shape
    area = (columns.min() / width, rows.min() / height, (columns.max() + 1 - columns.min()) / width,
            (rows.max() + 1 - rows.min()) / height)
    assert pixel_box(NamedRegion(OBAMA, area, (width, height)), 60, 40, orientation) == (30, 10, 15, 10)


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_an_area_drawn_on_the_displayed_image_is_taken_as_it_is(orientation):
    # its applied-to size is the displayed (rotated) one, not the stored one
    drawn = NamedRegion(OBAMA, (0.5, 0.25, 0.25, 0.25), (60, 40))
    assert pixel_box(drawn, 60, 40, orientation) == (30, 10, 15, 10)
