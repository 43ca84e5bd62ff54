"""Stage 1, images.py: every format photographers' folders hold, orientation, reduced decode,
capture time, and a clear ImageError for every file that cannot be read.

All test images are derived here (imagefactory), from shipped photos where content matters."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

import imagefactory as factory
from photorank.images import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    ImageError,
    LoadedImage,
    is_image_path,
    load_image,
    parse_exif_datetime,
)

COLOURS = factory.QUADRANT_COLOURS


def naive_ts(text: str) -> float:
    return (datetime.strptime(text, "%Y:%m:%d %H:%M:%S") - datetime(1970, 1, 1)).total_seconds()


def assert_quadrants(pixels: np.ndarray, tolerance: int = 40) -> None:
    """The displayed image must show QUADRANT_COLOURS where quadrants() drew them."""
    height, width = pixels.shape[:2]
    for name, (y, x) in {
        "top_left": (height // 4, width // 4),
        "top_right": (height // 4, 3 * width // 4),
        "bottom_left": (3 * height // 4, width // 4),
        "bottom_right": (3 * height // 4, 3 * width // 4),
    }.items():
        got = pixels[y, x].astype(int)
        assert np.abs(got - COLOURS[name]).max() <= tolerance, f"{name}: got {got}, want {COLOURS[name]}"


def assert_rgb8(loaded: LoadedImage) -> None:
    assert isinstance(loaded, LoadedImage)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.ndim == 3 and loaded.pixels.shape[2] == 3
    assert loaded.pixels.flags["C_CONTIGUOUS"]


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The insightface group photo (1280x886), the real content for round trips."""
    return factory.sample_photo("t1.jpg")


@pytest.fixture(scope="module")
def small_photo(photo) -> np.ndarray:
    """The group photo at 640x443, for round trips through slow encoders."""
    return factory.resized(photo, 640, 443)


@pytest.fixture
def decoded_jpeg_sizes(monkeypatch):
    """Records the size each JPEG was actually decoded at (after any DCT-scaling draft)."""
    sizes: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        result = original(self)
        if not getattr(self, "_decode_recorded", False):  # load() is called again by convert()...
            self._decode_recorded = True
            sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    return sizes


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("max_side", [None, 60])
def test_every_exif_orientation_lands_pixels_upright(tmp_path, orientation, max_side):
    displayed = factory.quadrants(480, 320)  # landscape as the viewer should show it
    stored = factory.stored_for_orientation(displayed, orientation)
    path = factory.write_jpeg(tmp_path / "o.jpg", stored, exif_orientation=orientation, quality=95)

    loaded = load_image(path, max_side=max_side)

    assert_rgb8(loaded)
    assert loaded.orientation == orientation
    assert (loaded.full_width, loaded.full_height) == (480, 320)
    expected_shape = (320, 480) if max_side is None else (40, 60)
    assert loaded.pixels.shape[:2] == expected_shape
    assert loaded.scale == pytest.approx(expected_shape[1] / 480)
    assert_quadrants(loaded.pixels)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_gives_exactly_the_displayed_pixels(tmp_path, orientation):
    """Lossless and of odd size: each pixel lands exactly where EXIF says, none lost or repeated."""
    displayed = factory.synthetic_scene(37, 23)
    stored = factory.stored_for_orientation(displayed, orientation)
    loaded = load_image(factory.write_png(tmp_path / "o.png", stored, exif_orientation=orientation))
    assert loaded.orientation == orientation
    assert np.array_equal(loaded.pixels, displayed)


@pytest.mark.parametrize("orientation", [3, 6, 7])
def test_orientation_on_a_real_photo_matches_the_upright_original(tmp_path, photo, orientation):
    upright = factory.resized(photo, 320, 221)
    path = factory.write_jpeg(tmp_path / "p.jpg", factory.stored_for_orientation(upright, orientation),
                              exif_orientation=orientation, quality=95)
    loaded = load_image(path)
    assert loaded.pixels.shape == upright.shape
    assert mean_abs_diff(loaded.pixels, upright) < 4


def test_orientation_in_png_tiff_and_webp_exif(tmp_path):
    displayed = factory.quadrants(60, 40)
    stored = factory.stored_for_orientation(displayed, 6)
    for path in (
        factory.write_png(tmp_path / "o.png", stored, exif_orientation=6),
        factory.write_tiff(tmp_path / "o.tif", stored, exif_orientation=6),
        factory.write_webp(tmp_path / "o.webp", stored, lossless=True, exif_orientation=6),
    ):
        loaded = load_image(path)
        assert loaded.orientation == 6, path.name
        assert (loaded.full_width, loaded.full_height) == (60, 40), path.name
        assert_quadrants(loaded.pixels, tolerance=2)


def test_invalid_orientation_value_is_ignored(tmp_path):
    path = factory.write_jpeg(tmp_path / "bad.jpg", factory.quadrants(60, 40), exif_orientation=42)
    loaded = load_image(path)
    assert loaded.orientation == 1
    assert_quadrants(loaded.pixels)


# ---------------------------------------------------------------- reduced JPEG decode


@pytest.fixture(scope="module")
def large_jpeg(tmp_path_factory, photo):
    """A 6000x4000 camera-sized JPEG derived by upscaling the shipped group photo."""
    big = factory.resized(photo, 6000, 4000)
    return factory.write_jpeg(tmp_path_factory.mktemp("large") / "big.jpg", big, quality=85,
                              datetime_original="2022:07:01 10:11:12"), big


def test_large_jpeg_is_decoded_by_dct_scaling(large_jpeg, decoded_jpeg_sizes):
    path, big = large_jpeg
    reduced = load_image(path, max_side=2048)
    # libjpeg decoded 1/2 size (3000x2000 >= 2048), never the 24 MP original.
    assert decoded_jpeg_sizes == [(3000, 2000)]

    assert reduced.pixels.shape == (1365, 2048, 3)
    assert (reduced.full_width, reduced.full_height) == (6000, 4000)
    assert reduced.scale == pytest.approx(2048 / 6000)
    assert reduced.captured_at == naive_ts("2022:07:01 10:11:12")
    # Same picture as a full decode resized the slow way.
    reference = factory.resized(big, 2048, 1365)
    assert mean_abs_diff(reduced.pixels, reference) < 4

    decoded_jpeg_sizes.clear()
    full = load_image(path)
    assert decoded_jpeg_sizes == [(6000, 4000)]
    assert full.pixels.shape == (4000, 6000, 3) and full.scale == 1.0


def test_smallest_dct_scale_that_still_covers_max_side(large_jpeg, decoded_jpeg_sizes):
    path, _ = large_jpeg
    for max_side, decoded in [(750, (750, 500)), (751, (1500, 1000)), (1500, (1500, 1000)),
                              (3000, (3000, 2000)), (3001, (6000, 4000)), (9000, (6000, 4000))]:
        decoded_jpeg_sizes.clear()
        loaded = load_image(path, max_side=max_side)
        assert decoded_jpeg_sizes == [decoded], max_side
        assert max(loaded.pixels.shape[:2]) == min(max_side, 6000)


@pytest.mark.parametrize("width,height,max_side", [(1001, 667, 125), (667, 1001, 100), (999, 11, 100), (17, 3, 2)])
def test_reduced_decode_of_odd_sizes(tmp_path, width, height, max_side, decoded_jpeg_sizes):
    path = factory.write_jpeg(tmp_path / "odd.jpg", factory.synthetic_scene(width, height))
    loaded = load_image(path, max_side=max_side)
    assert max(loaded.pixels.shape[:2]) == max_side
    assert max(decoded_jpeg_sizes[0]) >= max_side  # never decoded smaller than asked
    thumbnail = Image.new("L", decoded_jpeg_sizes[0])
    thumbnail.thumbnail((max_side, max_side))
    assert loaded.pixels.shape[1::-1] == thumbnail.size  # the decode's short side rounded as Pillow rounds it
    assert (loaded.full_width, loaded.full_height) == (width, height)


def test_progressive_grey_cmyk_and_mpo_jpegs_are_drafted_too(tmp_path, photo, decoded_jpeg_sizes):
    big = factory.resized(photo, 1600, 1106)
    paths = [
        factory.write_jpeg(tmp_path / "prog.jpg", big, progressive=True),
        factory.write_jpeg(tmp_path / "grey.jpg", big, mode="L"),
        factory.write_jpeg(tmp_path / "cmyk.jpg", big, mode="CMYK"),
        factory.write_mpo(tmp_path / "camera.jpg", [big, factory.resized(photo, 320, 221)]),
    ]
    for path in paths:
        decoded_jpeg_sizes.clear()
        loaded = load_image(path, max_side=200)
        assert decoded_jpeg_sizes == [(200, 139)], path.name
        assert loaded.pixels.shape == (139, 200, 3), path.name  # the 1/8 decode already fits
        assert (loaded.full_width, loaded.full_height) == (1600, 1106)


# ---------------------------------------------------------------- JPEG colour modes


def test_greyscale_jpeg_becomes_grey_rgb(tmp_path, photo):
    path = factory.write_jpeg(tmp_path / "g.jpg", photo, mode="L")
    loaded = load_image(path)
    assert_rgb8(loaded)
    assert loaded.pixels.shape == photo.shape
    assert np.array_equal(loaded.pixels[..., 0], loaded.pixels[..., 1])
    expected = np.asarray(Image.fromarray(photo).convert("L"))
    assert mean_abs_diff(loaded.pixels[..., 0], expected) < 3


def test_cmyk_jpeg_keeps_its_colours(tmp_path):
    rgb = factory.quadrants(64, 48)
    path = factory.write_jpeg(tmp_path / "c.jpg", rgb, mode="CMYK", quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    loaded = load_image(path)
    assert_quadrants(loaded.pixels, tolerance=12)


def test_jpeg_round_trip_of_a_real_photo(tmp_path, photo):
    loaded = load_image(factory.write_jpeg(tmp_path / "p.jpg", photo, quality=95))
    assert loaded.pixels.shape == photo.shape
    assert mean_abs_diff(loaded.pixels, photo) < 3
    assert loaded.orientation == 1 and loaded.captured_at is None


# ---------------------------------------------------------------- PNG


def test_png_8bit_grey_rgb_rgba_and_grey_alpha(tmp_path, small_photo):
    grey = np.asarray(Image.fromarray(small_photo).convert("L"))
    loaded = load_image(factory.write_png(tmp_path / "g.png", grey))
    assert np.array_equal(loaded.pixels, np.repeat(grey[..., None], 3, axis=2))

    loaded = load_image(factory.write_png(tmp_path / "rgb.png", small_photo))
    assert np.array_equal(loaded.pixels, small_photo)

    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:100, :100, 3] = 0  # fully transparent: white
    rgba[200:300, 200:300, 3] = 128  # half transparent: halfway to white
    loaded = load_image(factory.write_png(tmp_path / "rgba.png", rgba))
    assert (loaded.pixels[:100, :100] == 255).all()
    half = small_photo[200:300, 200:300].astype(int)
    assert np.abs(loaded.pixels[200:300, 200:300].astype(int) - (half * 128 + 255 * 127) / 255).max() <= 2
    assert np.array_equal(loaded.pixels[400:, 400:], small_photo[400:, 400:])

    grey_alpha = np.dstack([grey, np.where(np.arange(grey.shape[1]) < 50, 0, 255).astype(np.uint8)[None, :].repeat(grey.shape[0], 0)])
    loaded = load_image(factory.write_png(tmp_path / "la.png", grey_alpha))
    assert (loaded.pixels[:, :50] == 255).all()
    assert np.array_equal(loaded.pixels[:, 60:, 1], grey[:, 60:])


def test_png_16bit_is_scaled_not_clipped(tmp_path, small_photo):
    small_photo16 = small_photo.astype(np.uint16) * 257  # 8-bit value v is 16-bit v*257
    grey16 = np.asarray(Image.fromarray(small_photo).convert("L")).astype(np.uint16) * 257

    loaded = load_image(factory.write_png16(tmp_path / "g16.png", grey16))
    assert np.abs(loaded.pixels[..., 0].astype(int) - grey16 // 257).max() <= 1

    loaded = load_image(factory.write_png16(tmp_path / "rgb16.png", small_photo16))
    assert np.abs(loaded.pixels.astype(int) - small_photo).max() <= 1

    rgba16 = np.dstack([small_photo16, np.full(small_photo.shape[:2], 65535, np.uint16)])
    rgba16[:10, :10, 3] = 0
    loaded = load_image(factory.write_png16(tmp_path / "rgba16.png", rgba16))
    assert (loaded.pixels[:10, :10] == 255).all()
    assert np.abs(loaded.pixels[20:, 20:].astype(int) - small_photo[20:, 20:]).max() <= 1

    dark = np.full((20, 30), 200, np.uint16)  # a dark 16-bit image stays dark
    assert load_image(factory.write_png16(tmp_path / "dark16.png", dark)).pixels.max() <= 1
    mid = np.full((20, 30), 40000, np.uint16)
    assert (load_image(factory.write_png16(tmp_path / "mid16.png", mid)).pixels == 156).all()


def test_palette_png_and_palette_transparency(tmp_path):
    rgb = factory.quadrants(40, 30)
    loaded = load_image(factory.write_palette_png(tmp_path / "p.png", rgb, colours=4))
    assert_quadrants(loaded.pixels, tolerance=0)

    path = factory.write_palette_png(tmp_path / "pt.png", rgb, colours=4,
                                     transparent_index=Image.open(tmp_path / "p.png").getpixel((0, 0)))
    loaded = load_image(path)
    assert (loaded.pixels[:15, :20] == 255).all()  # the top-left colour is transparent: white
    assert np.array_equal(loaded.pixels[25, 35], COLOURS["bottom_right"])  # the rest is opaque
    assert np.array_equal(loaded.pixels[5, 35], COLOURS["top_right"])


# ---------------------------------------------------------------- TIFF, WebP, HEIC


def test_tiff_8_and_16_bit(tmp_path, small_photo):
    loaded = load_image(factory.write_tiff(tmp_path / "rgb.tif", small_photo))
    assert np.array_equal(loaded.pixels, small_photo)

    grey = np.asarray(Image.fromarray(small_photo).convert("L"))
    assert np.array_equal(load_image(factory.write_tiff(tmp_path / "g.tiff", grey)).pixels[..., 2], grey)

    loaded = load_image(factory.write_tiff(tmp_path / "rgb16.tif", small_photo.astype(np.uint16) * 257))
    assert np.abs(loaded.pixels.astype(int) - small_photo).max() <= 1

    loaded = load_image(factory.write_tiff(tmp_path / "g16.tif", grey.astype(np.uint16) * 257), max_side=320)
    assert loaded.pixels.shape == (222, 320, 3)
    assert mean_abs_diff(loaded.pixels[..., 0], factory.resized(np.dstack([grey] * 3), 320, 222)[..., 0]) < 3


def test_16bit_tiff_orientation_tag(tmp_path):
    displayed = factory.quadrants(60, 40).astype(np.uint16) * 257
    path = factory.write_tiff(tmp_path / "o16.tif", factory.stored_for_orientation(displayed, 8), exif_orientation=8)
    loaded = load_image(path)
    assert loaded.orientation == 8 and loaded.pixels.shape == (40, 60, 3)
    assert_quadrants(loaded.pixels, tolerance=1)


def test_webp_lossy_lossless_and_alpha(tmp_path, small_photo):
    loaded = load_image(factory.write_webp(tmp_path / "p.webp", small_photo, quality=95,
                                           datetime_original="2020:01:02 03:04:05"))
    assert loaded.pixels.shape == small_photo.shape and mean_abs_diff(loaded.pixels, small_photo) < 4
    assert loaded.captured_at == naive_ts("2020:01:02 03:04:05")

    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:, :30, 3] = 0
    loaded = load_image(factory.write_webp(tmp_path / "a.webp", rgba, lossless=True))
    assert (loaded.pixels[:, :30] == 255).all()
    assert np.array_equal(loaded.pixels[:, 40:], small_photo[:, 40:])


def test_heic_round_trip_with_capture_time(tmp_path, small_photo):
    path = factory.write_heic(tmp_path / "IMG_0001.HEIC", small_photo, datetime_original="2023:05:06 07:08:09")
    assert path.read_bytes()[4:12] in (b"ftypheic", b"ftypmif1")
    loaded = load_image(path)
    assert_rgb8(loaded)
    assert loaded.pixels.shape == small_photo.shape
    assert mean_abs_diff(loaded.pixels, small_photo) < 5
    assert loaded.captured_at == naive_ts("2023:05:06 07:08:09")

    reduced = load_image(path, max_side=256)
    assert reduced.pixels.shape == (177, 256, 3)
    assert (reduced.full_width, reduced.full_height) == (640, 443)


def test_heic_orientation_is_applied_once(tmp_path):
    displayed = factory.quadrants(96, 64)
    path = factory.write_heic(tmp_path / "rot.heic", factory.stored_for_orientation(displayed, 6),
                              exif_orientation=6, quality=95)
    loaded = load_image(path)
    assert loaded.pixels.shape == (64, 96, 3)
    assert (loaded.full_width, loaded.full_height) == (96, 64)
    assert loaded.orientation == 6  # applied by libheif while decoding (irot)
    assert_quadrants(loaded.pixels)


def test_jxl_8bit_with_orientation_and_capture_time(tmp_path, small_photo):
    path = factory.write_jxl(tmp_path / "export.jxl", small_photo, datetime_original="2024:02:03 04:05:06")
    loaded = load_image(path)
    assert_rgb8(loaded)
    assert loaded.pixels.shape == small_photo.shape
    assert mean_abs_diff(loaded.pixels, small_photo) < 5
    assert loaded.captured_at == naive_ts("2024:02:03 04:05:06")

    displayed = factory.quadrants(60, 40)
    rotated = load_image(factory.write_jxl(tmp_path / "rot.jxl", factory.stored_for_orientation(displayed, 6),
                                           exif_orientation=6, lossless=True))
    assert rotated.orientation == 6
    assert (rotated.full_width, rotated.full_height) == (60, 40)
    assert_quadrants(rotated.pixels, tolerance=2)


def test_jxl_16bit_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    loaded = load_image(factory.write_jxl(tmp_path / "hdr16.jxl", ramp, lossless=True))
    assert_rgb8(loaded)
    row = loaded.pixels[0, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253  # the whole 16-bit range maps onto 0-255
    assert np.all(np.diff(row) >= 0) and len(set(row)) > 50  # a ramp, not two clipped levels


def jxl_codestream_start(height_minus_1: int, ratio: int, orientation: int | None) -> bytes:
    """The first bytes of a JPEG XL codestream: signature, SizeHeader (30-bit height, a ratio for
    the width), and ImageMetadata's first fields, written least significant bit first."""
    fields = [(0, 1), (3, 2), (height_minus_1, 30), (ratio, 3)]
    fields += [(1, 1)] if orientation is None else [(0, 1), (1, 1), (orientation - 1, 3)]
    bits = [(value >> number) & 1 for value, count in fields for number in range(count)]
    bits += [0] * (-len(bits) % 8)
    return b"\xff\x0a" + bytes(sum(bit << n for n, bit in enumerate(bits[i:i + 8])) for i in range(0, len(bits), 8))


def test_jxl_header_gives_size_and_codestream_orientation(tmp_path):
    from photorank.images import jxl_header

    header = jxl_header(jxl_codestream_start(3999, 4, None))  # ratio 4: 3:2
    assert (header.width, header.height, header.orientation) == (6000, 4000, 1)
    turned = jxl_header(jxl_codestream_start(99, 7, 6))
    assert (turned.width, turned.height, turned.orientation) == (200, 100, 6)
    made = factory.write_jxl(tmp_path / "c.jxl", factory.synthetic_scene(301, 199))
    assert jxl_header(made.read_bytes()[:4096]) == type(header)(301, 199, 1)  # in its container


def test_broken_jxl_files_are_said_plainly(tmp_path, small_photo):
    data = factory.write_jxl(tmp_path / "ok.jxl", small_photo).read_bytes()
    for name, broken in (("half.jxl", data[: len(data) // 2]), ("head.jxl", data[:12]), ("noise.jxl", data[:40] + b"x" * 500)):
        (tmp_path / name).write_bytes(broken)
        message = assert_image_error(tmp_path / name, "corrupt or truncated")
        assert "libjxl cannot decode it" in message and "debug" not in message


def test_jxl_bomb_is_refused_before_libjxl_decodes_it(tmp_path):
    path = tmp_path / "bomb.jxl"
    path.write_bytes(jxl_codestream_start(2**30 - 1, 1, None) + bytes(64))
    assert_image_error(path, "decompression bomb", "megapixel")


def test_jpeg_transcoded_losslessly_to_jxl_keeps_its_orientation(tmp_path):
    from photorank.images import jxl_header

    displayed = factory.quadrants(60, 40)
    jpeg = factory.write_jpeg(tmp_path / "q.jpg", factory.stored_for_orientation(displayed, 6), exif_orientation=6, quality=95)
    with Image.open(jpeg) as image:
        image.save(tmp_path / "q.jxl", "JXL", lossless_jpeg=True)
    assert jxl_header((tmp_path / "q.jxl").read_bytes()).orientation == 6  # libjxl copied it into the codestream
    loaded = load_image(tmp_path / "q.jxl")  # comes back as the JPEG, unturned, with its EXIF
    assert loaded.orientation == 6 and (loaded.full_width, loaded.full_height) == (60, 40)
    assert_quadrants(loaded.pixels)


def test_jxl_turned_by_its_codestream_is_not_turned_again_by_exif():
    from photorank.images import _from_pil

    displayed = factory.quadrants(60, 40)
    image = Image.fromarray(displayed)  # as libjxl hands it over: already turned
    exif = Image.Exif()
    exif[0x0112] = 6
    image.info["exif"] = exif.tobytes()
    loaded = _from_pil(image, None, oriented_by_decoder=6)
    assert loaded.orientation == 6 and (loaded.full_width, loaded.full_height) == (60, 40)
    assert_quadrants(loaded.pixels, tolerance=2)


def test_png_misnamed_as_jpg_still_loads(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    factory.write_png(tmp_path / "x.png", factory.quadrants(40, 30)).rename(path)
    assert_quadrants(load_image(path).pixels, tolerance=0)


# ---------------------------------------------------------------- RAW (DNG through libraw)


@pytest.fixture(scope="module")
def preview(photo) -> np.ndarray:
    return factory.resized(photo, 640, 443)


def test_dng_embedded_preview_is_read_with_capture_time(tmp_path, preview, decoded_jpeg_sizes):
    path = factory.write_dng_with_preview(tmp_path / "IMG_0001.DNG", preview, raw_scale=1.05,
                                          datetime_original="2021:02:03 04:05:06")
    import rawpy

    with rawpy.imread(str(path)) as raw:  # a real DNG, as libraw sees it
        assert raw.sizes.raw_width == 672
        assert raw.extract_thumb().format == rawpy.ThumbFormat.JPEG

    loaded = load_image(path)
    assert_rgb8(loaded)
    assert loaded.pixels.shape == preview.shape
    assert mean_abs_diff(loaded.pixels, preview) < 3
    assert (loaded.full_width, loaded.full_height) == (640, 443)
    assert loaded.captured_at == naive_ts("2021:02:03 04:05:06")

    decoded_jpeg_sizes.clear()
    reduced = load_image(path, max_side=160)
    assert decoded_jpeg_sizes == [(160, 111)]  # the preview went through DCT scaling (1/4)
    assert reduced.pixels.shape == (111, 160, 3)
    assert reduced.scale == pytest.approx(160 / 640)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_dng_container_orientation(tmp_path, orientation):
    displayed = factory.quadrants(96, 64)
    path = factory.write_dng_with_preview(tmp_path / "o.dng", factory.stored_for_orientation(displayed, orientation),
                                          orientation=orientation)
    loaded = load_image(path, max_side=48)
    assert loaded.orientation == orientation
    assert (loaded.full_width, loaded.full_height) == (96, 64)
    assert loaded.pixels.shape == (32, 48, 3)
    assert_quadrants(loaded.pixels)


def test_dng_preview_with_its_own_exif_orientation(tmp_path):
    displayed = factory.quadrants(96, 64)
    path = factory.write_dng_with_preview(tmp_path / "p.dng", factory.stored_for_orientation(displayed, 8),
                                          preview_exif_orientation=8)
    loaded = load_image(path)
    assert loaded.orientation == 8
    assert_quadrants(loaded.pixels)


def test_dng_without_preview_is_developed_at_half_size(tmp_path, preview):
    path = factory.write_dng(tmp_path / "nopreview.dng", factory.stored_for_orientation(preview, 6), None,
                             orientation=6, datetime_original="2019:12:31 23:59:58")
    loaded = load_image(path)
    assert loaded.orientation == 6
    assert (loaded.full_width, loaded.full_height) == (640, 442)  # oriented raw size (even-cropped)
    assert loaded.pixels.shape == (221, 320, 3)
    assert loaded.captured_at == naive_ts("2019:12:31 23:59:58")
    # Developed by libraw (demosaic, white balance, colour matrix, gamma): the same scene.
    expected = factory.resized(preview, 320, 221)
    assert np.abs(loaded.pixels.mean(axis=(0, 1)) - expected.mean(axis=(0, 1))).max() < 20
    assert np.corrcoef(loaded.pixels.mean(axis=2).ravel(), expected.mean(axis=2).ravel())[0, 1] > 0.9


def test_16_bit_raw_bitmap_preview_becomes_8_bit_rgb():
    """libraw hands some previews over as 16-bit bitmaps: scaled to 8 bits, shrunk and turned."""
    from photorank.images import _finish_bitmap

    stored = np.zeros((40, 60, 3), np.uint16)
    stored[:, :30] = 65535
    loaded = _finish_bitmap(stored, 30, 6, 6, (40, 60), None)
    assert_rgb8(loaded)
    assert loaded.pixels.shape == (30, 20, 3)
    assert loaded.pixels[:14].min() == 255 and loaded.pixels[16:].max() == 0  # the white half on top


def test_jpeg_misnamed_as_raw_loads_through_pillow(tmp_path, preview):
    path = factory.write_jpeg(tmp_path / "DSC_0001.NEF", preview)
    assert load_image(path).pixels.shape == preview.shape


# ---------------------------------------------------------------- capture time


def test_captured_at_from_datetime_original_then_datetime(tmp_path):
    rgb = factory.quadrants(16, 16)
    both = factory.write_jpeg(tmp_path / "a.jpg", rgb, datetime_original="2024:06:01 14:03:22",
                              datetime="2025:01:01 00:00:00")
    assert load_image(both).captured_at == naive_ts("2024:06:01 14:03:22")
    only_modified = factory.write_jpeg(tmp_path / "b.jpg", rgb, datetime="2025:01:01 00:00:00")
    assert load_image(only_modified).captured_at == naive_ts("2025:01:01 00:00:00")
    garbage = factory.write_jpeg(tmp_path / "c.jpg", rgb, datetime_original="0000:00:00 00:00:00")
    assert load_image(garbage).captured_at is None
    assert load_image(factory.write_png(tmp_path / "d.png", rgb)).captured_at is None


def test_parse_exif_datetime():
    assert parse_exif_datetime("2024:06:01 14:03:22") == naive_ts("2024:06:01 14:03:22")
    assert parse_exif_datetime("2024:06:01 14:03:22\x00") == naive_ts("2024:06:01 14:03:22")
    assert parse_exif_datetime(b"2024:06:01 14:03:22") == naive_ts("2024:06:01 14:03:22")
    assert parse_exif_datetime("2024:06:01 14:03:22.123+02:00") == naive_ts("2024:06:01 14:03:22")
    for bad in (None, "", "    :  :     :  :  ", "2024-13-45", 12345):
        assert parse_exif_datetime(bad) is None


# ---------------------------------------------------------------- files that cannot be read


def assert_image_error(path, *words):
    with pytest.raises(ImageError) as caught:
        load_image(path)
    message = str(caught.value)
    assert message and "\n" not in message
    assert any(word in message.lower() for word in words), message
    return message


def test_empty_files(tmp_path):
    for name in ("empty.jpg", "empty.nef", "empty.png"):
        (tmp_path / name).write_bytes(b"")
        assert_image_error(tmp_path / name, "empty file")


def test_truncated_files(tmp_path, photo, preview):
    small = factory.resized(photo, 320, 221)
    cases = [
        factory.write_jpeg(tmp_path / "t.jpg", small),
        factory.write_png(tmp_path / "t.png", small),
        factory.write_webp(tmp_path / "t.webp", small),
        factory.write_heic(tmp_path / "t.heic", small),
        factory.write_tiff(tmp_path / "t.tif", small),
        factory.write_dng_with_preview(tmp_path / "t.dng", preview),
    ]
    for path in cases:
        factory.truncate(path, 0.5)
        assert_image_error(path, "truncated", "corrupt", "not an image")
    # a JPEG cut right after its header, and reduced decode of a cut JPEG
    path = factory.truncate(factory.write_jpeg(tmp_path / "h.jpg", small), 700)
    assert_image_error(path, "truncated", "corrupt")
    path = factory.truncate(factory.write_jpeg(tmp_path / "r.jpg", factory.resized(photo, 1600, 1106)), 0.4)
    with pytest.raises(ImageError, match="truncated"):
        load_image(path, max_side=200)


def test_not_images(tmp_path):
    assert_image_error(factory.write_text(tmp_path / "notes.jpg"), "not an image")
    assert_image_error(factory.write_random_bytes(tmp_path / "noise.jpg"), "not an image")
    assert_image_error(factory.write_random_bytes(tmp_path / "DSC_0001.nef"), "not a raw file")
    assert_image_error(factory.write_text(tmp_path / "IMG_0001.CR2", "hello"), "not a raw file", "truncated")
    eps = tmp_path / "vector.jpg"  # a format Pillow knows but photorank never decodes
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert_image_error(eps, "not an image")


def test_decompression_bomb_is_refused_from_its_header(tmp_path):
    bomb = factory.write_png_bomb(tmp_path / "bomb.png", 40_000, 40_000)
    assert os.path.getsize(bomb) < 10_000
    assert_image_error(bomb, "decompression bomb")  # said from the header: its 1.6 gigapixels are never decoded

    over = factory.write_png_bomb(tmp_path / "over.png", 20_000, MAX_PIXELS // 20_000 + 1)
    assert_image_error(over, "decompression bomb")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_big_but_real_image_size_is_not_refused_as_a_bomb(tmp_path):
    # 150 MP (a medium-format camera) is under the limit: this header-only file is decoded and
    # fails as truncated, not as a bomb.
    big = factory.write_png_bomb(tmp_path / "mf.png", 15_000, 10_000)
    message = assert_image_error(big, "truncated", "corrupt")
    assert "bomb" not in message


def test_directory_fifo_and_missing_file(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    assert_image_error(tmp_path / "folder.jpg", "directory")
    os.mkfifo(tmp_path / "pipe.jpg")  # opening a FIFO for reading would block forever
    assert_image_error(tmp_path / "pipe.jpg", "not a regular file")
    assert_image_error(tmp_path / "missing.jpg", "not found")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "dangling.jpg")
    assert_image_error(tmp_path / "dangling.jpg", "not found")


def test_unreadable_file(tmp_path):
    """chmod 000 does not stop root: as root, drop the effective uid to 'nobody' for the read
    (the kernel checks the effective uid), which is exactly how another user's file looks."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="photorank-perm-")
    try:
        os.chmod(folder, 0o755)
        path = factory.write_jpeg(os.path.join(folder, "locked.jpg"), factory.quadrants(16, 16))
        os.chmod(path, 0o000)
        if os.geteuid() == 0:
            os.seteuid(65534)
            try:
                with pytest.raises(ImageError, match="permission denied"):
                    load_image(path)
            finally:
                os.seteuid(0)
        else:
            assert_image_error(path, "permission denied")
    finally:
        os.chmod(os.path.join(folder, "locked.jpg"), 0o644)
        os.remove(os.path.join(folder, "locked.jpg"))
        os.rmdir(folder)


def test_a_batch_goes_on_past_bad_files(tmp_path, photo):
    small = factory.resized(photo, 160, 111)
    good = [factory.write_jpeg(tmp_path / "a.jpg", small), factory.write_png(tmp_path / "b.png", small),
            factory.write_heic(tmp_path / "c.heic", small),
            factory.write_dng_with_preview(tmp_path / "d.dng", small)]
    bad = [factory.write_text(tmp_path / "e.jpg"), factory.truncate(factory.write_jpeg(tmp_path / "f.jpg", small), 0.3),
           factory.write_random_bytes(tmp_path / "g.arw", 4096), factory.write_png_bomb(tmp_path / "h.png")]
    loaded, errors = [], []
    for path in sorted(good + bad):
        try:
            loaded.append(load_image(path, max_side=128))
        except ImageError as error:
            errors.append((path, str(error)))
    assert len(loaded) == 4 and {p for p, _ in errors} == set(bad)
    assert all(image.pixels.shape == (89, 128, 3) for image in loaded)


# ---------------------------------------------------------------- names


def test_is_image_path():
    for name in ("a.jpg", "A.JPEG", "x/y/IMG_1.HEIC", "DSC.NEF", "b.cr3", "c.ArW", "d.dng", "e.raf", "f.orf",
                 "g.rw2", "h.tif", "i.webp", "j.png"):
        assert is_image_path(name), name
    for name in ("notes.txt", "a.xmp", "jpg", "x.jpg.xmp", "._IMG_0001.JPG", "/photos/._DSC_1.NEF"):
        assert not is_image_path(name), name
    from pathlib import Path

    assert is_image_path(Path("p/a.jpg"))
    assert {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".heic", ".heif"} <= IMAGE_EXTENSIONS
