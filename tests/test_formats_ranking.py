"""The person is found whatever the file: RAW, HEIC, JPEG XL, 16-bit PNG, RGBA, TIFF, WebP, EXIF-rotated.

Every copy shows the same portrait as displayed; the face box must land at the same place in
displayed coordinates, whatever the stored orientation.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import imagefactory as factory
from photorank.demo import package_image, portrait_from_crop
from oneshot import rank_collection
from photorank.api import RankRequest


@pytest.fixture(scope="module")
def formats_folder(tmp_path_factory):
    portrait = np.asarray(portrait_from_crop(Image.open(package_image("Tom_Hanks_54745.png"))))
    # an off-centre layout, so a wrong orientation moves the face box
    displayed = np.full((600, 480, 3), 128, np.uint8)
    displayed[40:520, 0:480] = portrait
    folder = tmp_path_factory.mktemp("formats")
    for orientation in range(1, 9):
        factory.write_jpeg(folder / f"exif_{orientation}.jpg", factory.stored_for_orientation(displayed, orientation),
                           exif_orientation=orientation)
    factory.write_dng_with_preview(folder / "camera.dng", factory.stored_for_orientation(displayed, 6), orientation=6)
    factory.write_heic(folder / "phone.heic", displayed)
    factory.write_png16(folder / "scan16.png", displayed.astype(np.uint16) * 257)
    factory.write_png(folder / "with_alpha.png", np.dstack([displayed, np.full(displayed.shape[:2], 255, np.uint8)]))
    factory.write_tiff(folder / "export.tif", displayed)
    factory.write_webp(folder / "web.webp", displayed)
    factory.write_jxl(folder / "export.jxl", displayed)
    factory.write_jxl(folder / "rotated.jxl", factory.stored_for_orientation(displayed, 6), exif_orientation=6)
    factory.write_jpeg(folder / "grey.jpg", displayed, mode="L")
    factory.write_jpeg(folder / "print.jpg", displayed, mode="CMYK")
    reference = tmp_path_factory.mktemp("reference") / "ref.jpg"
    Image.fromarray(portrait[:, ::-1]).save(reference)
    return folder, reference


@pytest.fixture(scope="module")
def formats_report(formats_folder):
    folder, reference = formats_folder
    return rank_collection(RankRequest(references=[str(reference)], paths=[str(folder)]), cache_path=":memory:", workers=2)


def test_every_format_and_orientation_is_found_at_the_same_place(formats_folder, formats_report):
    folder, _ = formats_folder
    report = formats_report
    assert report.errors == []
    found = {os.path.basename(r.path): r for r in report.results}
    assert set(found) == set(os.listdir(folder))
    boxes = {name: np.array(result.target_face.box) for name, result in found.items()}
    expected = boxes["exif_1.jpg"]
    for name, box in boxes.items():
        assert np.abs(box - expected).max() <= 0.06 * expected[2], f"{name}: face at {box}, expected near {expected}"
        assert (found[name].width, found[name].height) == (480, 600), name


def test_a_jpeg_xl_ranks_like_its_jpeg_twin(formats_report):
    found = {os.path.basename(r.path): r for r in formats_report.results}
    twin = found["exif_1.jpg"]
    for name in ("export.jxl", "rotated.jxl"):
        assert found[name].kind == twin.kind == "single", name
        assert abs(found[name].similarity - twin.similarity) < 0.03, name
        assert abs(found[name].score - twin.score) < 5, (name, found[name].score, twin.score)
