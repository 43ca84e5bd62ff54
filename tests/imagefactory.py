"""Derive real test images in any format photorank reads, from arrays or from shipped photos.

Everything here writes files the way cameras and editors do, with no fixture files in the repo:
JPEG (EXIF orientation, capture time, CMYK, greyscale, progressive, MPO), PNG (8/16-bit, grey,
RGB, RGBA, palette, and a decompression bomb), TIFF (8/16-bit), WebP, HEIC (pillow-heif) and DNG
(a real TIFF/EP raw file with a Bayer mosaic and an embedded JPEG preview that libraw reads).
16-bit PNG/TIFF and DNG are written by the small encoders below because Pillow cannot write them.

Real photo content comes from the insightface wheel's sample images, located without importing it.
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

EXIF_IFD = 0x8769
TAG_ORIENTATION = 0x0112
TAG_DATETIME_ORIGINAL = 0x9003

# ---------------------------------------------------------------- source pictures


def sample_photo_path(name: str = "t1.jpg") -> Path | None:
    """A photo shipped in the insightface wheel ('t1.jpg': group photo, 'Tom_Hanks_54745.png':
    portrait), or None when insightface is not installed. The package is located, not imported."""
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "images" / name
        if candidate.is_file():
            return candidate
    return None


def sample_photo(name: str = "t1.jpg") -> np.ndarray:
    """The shipped photo as (H, W, 3) uint8 RGB; a smooth synthetic scene when it is missing."""
    path = sample_photo_path(name)
    if path is None:
        return synthetic_scene(640, 427)
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def synthetic_scene(width: int, height: int) -> np.ndarray:
    """Smooth gradients with a disc: compresses like a photo, every region distinguishable."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 255 * x / max(width - 1, 1)
    green = 255 * y / max(height - 1, 1)
    blue = 128 + 127 * np.sin(x / 23.0) * np.cos(y / 31.0)
    disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (min(width, height) * 0.2) ** 2
    rgb = np.stack([red, green, blue], axis=-1)
    rgb[disc] = (250, 230, 40)
    return rgb.clip(0, 255).astype(np.uint8)


def resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample an RGB array to (height, width) with Lanczos (used to derive large photos)."""
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))


QUADRANT_COLOURS = {
    "top_left": (230, 30, 30),
    "top_right": (30, 200, 30),
    "bottom_left": (30, 30, 230),
    "bottom_right": (240, 240, 40),
}


def quadrants(width: int, height: int) -> np.ndarray:
    """Four flat colour quadrants (QUADRANT_COLOURS): where each lands shows any rotation/flip."""
    rgb = np.empty((height, width, 3), np.uint8)
    half_h, half_w = height // 2, width // 2
    rgb[:half_h, :half_w] = QUADRANT_COLOURS["top_left"]
    rgb[:half_h, half_w:] = QUADRANT_COLOURS["top_right"]
    rgb[half_h:, :half_w] = QUADRANT_COLOURS["bottom_left"]
    rgb[half_h:, half_w:] = QUADRANT_COLOURS["bottom_right"]
    return rgb


def stored_for_orientation(displayed: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that applying EXIF `orientation` shows `displayed`.

    Written from the EXIF definition of where row 0 / column 0 of the stored image go, not from
    the loader's transpose table, so the test checks the loader against the standard."""
    d = displayed
    return {
        1: lambda: d,
        2: lambda: d[:, ::-1],  # stored row 0 is the top, column 0 is the right side
        3: lambda: d[::-1, ::-1],  # row 0 is the bottom, column 0 the right
        4: lambda: d[::-1, :],  # row 0 is the bottom, column 0 the left
        5: lambda: d.transpose(1, 0, 2),  # row 0 is the left side, column 0 the top
        6: lambda: d.transpose(1, 0, 2)[::-1, :],  # row 0 is the right side, column 0 the top
        7: lambda: d.transpose(1, 0, 2)[::-1, ::-1],  # row 0 is the right, column 0 the bottom
        8: lambda: d.transpose(1, 0, 2)[:, ::-1],  # row 0 is the left, column 0 the bottom
    }[orientation]().copy()


# ---------------------------------------------------------------- EXIF


def exif_bytes(orientation: int | None = None, datetime_original: str | None = None,
               datetime: str | None = None) -> bytes:
    """An EXIF block (TIFF structure, as Pillow's `exif=` and pillow-heif take it)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[TAG_ORIENTATION] = orientation
    if datetime is not None:
        exif[0x0132] = datetime
    if datetime_original is not None:
        exif.get_ifd(EXIF_IFD)[TAG_DATETIME_ORIGINAL] = datetime_original
    return exif.tobytes()


def _exif_kwargs(orientation, datetime_original, datetime=None) -> dict:
    if orientation is None and datetime_original is None and datetime is None:
        return {}
    return {"exif": exif_bytes(orientation, datetime_original, datetime)}


# ---------------------------------------------------------------- raster formats


def write_jpeg(path, rgb: np.ndarray, exif_orientation: int | None = None,
               datetime_original: str | None = None, quality: int = 90, mode: str | None = None,
               progressive: bool = False, datetime: str | None = None) -> Path:
    """JPEG from an RGB (or greyscale 2-D) array; `mode='L'` or `'CMYK'` converts before saving."""
    image = Image.fromarray(rgb)
    if mode is not None:
        image = image.convert(mode)
    image.save(path, "JPEG", quality=quality, progressive=progressive,
               **_exif_kwargs(exif_orientation, datetime_original, datetime))
    return Path(path)


def camera_jpeg(jpeg: bytes) -> bytes:
    """Drop the JFIF APP0 segment Pillow writes: camera JPEGs and RAW previews start with SOI
    then APP1 Exif (libraw only keeps a preview's own EXIF when it comes first)."""
    if jpeg[2:4] == b"\xff\xe0":
        length = struct.unpack(">H", jpeg[4:6])[0]
        return jpeg[:2] + jpeg[4 + length:]
    return jpeg


def write_mpo(path, frames: list[np.ndarray], quality: int = 90) -> Path:
    """A multi-picture JPEG (what many cameras write as .JPG: main image plus a preview)."""
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, "MPO", save_all=True, append_images=images[1:], quality=quality)
    return Path(path)


def write_png(path, array: np.ndarray, exif_orientation: int | None = None) -> Path:
    """8-bit PNG from (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA."""
    Image.fromarray(array).save(path, "PNG", **_exif_kwargs(exif_orientation, None))
    return Path(path)


def write_palette_png(path, rgb: np.ndarray, colours: int = 16, transparent_index: int | None = None) -> Path:
    """Palette (mode P) PNG, optionally with one palette entry transparent (tRNS)."""
    image = Image.fromarray(rgb).quantize(colours)
    extra = {} if transparent_index is None else {"transparency": transparent_index}
    image.save(path, "PNG", **extra)
    return Path(path)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes for uint8 or uint16 arrays of 1-4 channels (Pillow cannot write 16-bit colour)."""
    if array.ndim == 2:
        array = array[..., None]
    height, width, channels = array.shape
    depth = 16 if array.dtype == np.uint16 else 8
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    samples = array.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), samples.view(np.uint8).reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _png_chunk(b"IEND", b""))


def write_png16(path, array: np.ndarray) -> Path:
    """16-bit PNG: (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB, (H, W, 4) RGBA uint16."""
    Path(path).write_bytes(encode_png(np.asarray(array, dtype=np.uint16)))
    return Path(path)


def write_png_bomb(path, width: int = 40_000, height: int = 40_000) -> Path:
    """A PNG of a few hundred bytes whose header claims `width` x `height` pixels (a
    decompression bomb: its IDAT is a zlib stream of zero rows that would inflate to gigabytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    body = compressor.compress(row * 8) + compressor.flush(zlib.Z_SYNC_FLUSH)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                           + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b""))
    return Path(path)


def write_tiff(path, array: np.ndarray, exif_orientation: int | None = None) -> Path:
    """TIFF: uint8 arrays through Pillow; uint16 (grey or RGB) through the TIFF encoder below."""
    if array.dtype == np.uint16:
        Path(path).write_bytes(encode_tiff16(array, orientation=exif_orientation or 1))
        return Path(path)
    extra = {} if exif_orientation is None else {"exif": exif_bytes(exif_orientation)}
    Image.fromarray(array).save(path, "TIFF", compression="tiff_deflate", **extra)
    return Path(path)


def write_webp(path, rgb: np.ndarray, quality: int = 90, lossless: bool = False,
               exif_orientation: int | None = None, datetime_original: str | None = None) -> Path:
    """WebP from RGB or RGBA."""
    Image.fromarray(rgb).save(path, "WEBP", quality=quality, lossless=lossless,
                              **_exif_kwargs(exif_orientation, datetime_original))
    return Path(path)


def write_heic(path, rgb: np.ndarray, exif_orientation: int | None = None,
               datetime_original: str | None = None, quality: int = 90) -> Path:
    """HEIC through pillow-heif's encoder (x265). An EXIF orientation is stored as the HEIF
    'irot'/'imir' transform by pillow-heif, as phones do."""
    import pillow_heif

    heif = pillow_heif.from_pillow(Image.fromarray(rgb))
    heif.save(path, quality=quality, **_exif_kwargs(exif_orientation, datetime_original))
    return Path(path)


def write_jxl(path, array: np.ndarray, exif_orientation: int | None = None, datetime_original: str | None = None,
              xmp: bytes | None = None, lossless: bool = False, quality: int = 90) -> Path:
    """JPEG XL through pillow-jxl-plugin (libjxl): RGB/RGBA uint8, or (H, W) uint16 grey (16-bit);
    EXIF in its 'Exif' box, XMP in its 'xml ' box (both in the ISO BMFF container)."""
    import pillow_jxl  # noqa: F401 - registers the JXL encoder

    image = Image.fromarray(np.asarray(array, np.uint8 if array.ndim == 3 else np.uint16))
    image.save(path, "JXL", lossless=lossless, quality=quality, use_container=True, xmp=xmp,
               **_exif_kwargs(exif_orientation, datetime_original))
    return Path(path)


# ---------------------------------------------------------------- TIFF / DNG encoder

_TIFF_TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 7: ("B", 1),
               9: ("i", 4), 10: ("ii", 8), 12: ("d", 8)}
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10


class _Ref:
    """An offset not known until layout: of a data blob or of an IFD."""

    def __init__(self, kind: str, index: int):
        self.kind, self.index = kind, index


def _entry_bytes(kind: int, values, resolve) -> tuple[int, bytes]:
    if kind == ASCII:
        data = values.encode("ascii") + b"\x00"
        return len(data), data
    if kind == UNDEFINED and isinstance(values, bytes):
        return len(values), values
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    values = [resolve(v) if isinstance(v, _Ref) else v for v in values]
    code, size = _TIFF_TYPES[kind]
    if kind in (RATIONAL, SRATIONAL):
        flat = []
        for value in values:
            denominator = 10000
            flat += [int(round(value * denominator)), denominator]
        return len(values), struct.pack("<" + code[0] * len(flat), *flat)
    return len(values), struct.pack("<" + code * len(values), *values)


def encode_tiff(ifds: list[dict], blobs: list[bytes]) -> bytes:
    """Little-endian TIFF: `ifds[0]` is IFD0 (the others are reached through SubIFDs/ExifIFD
    tags holding _Ref('ifd', i)); each IFD is {tag: (type, values)}; strips are `blobs`
    referenced as _Ref('blob', i)."""
    # Sizes first (they do not depend on offsets), then offsets, then bytes.
    def ifd_size(ifd):
        extra = 0
        for kind, values in ifd.values():
            _, data = _entry_bytes(kind, values, lambda ref: 0)
            if len(data) > 4:
                extra += len(data) + (len(data) & 1)
        return 2 + 12 * len(ifd) + 4 + extra

    position = 8
    blob_offsets = []
    for blob in blobs:
        blob_offsets.append(position)
        position += len(blob) + (len(blob) & 1)
    ifd_offsets = []
    for ifd in ifds:
        ifd_offsets.append(position)
        position += ifd_size(ifd)

    def resolve(ref: _Ref) -> int:
        return blob_offsets[ref.index] if ref.kind == "blob" else ifd_offsets[ref.index]

    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offsets[0]))
    for blob in blobs:
        out += blob + b"\x00" * (len(blob) & 1)
    for ifd, offset in zip(ifds, ifd_offsets):
        assert len(out) == offset
        entries = sorted(ifd.items())
        extra_at = offset + 2 + 12 * len(entries) + 4
        head, tail = bytearray(struct.pack("<H", len(entries))), bytearray()
        for tag, (kind, values) in entries:
            count, data = _entry_bytes(kind, values, resolve)
            if len(data) <= 4:
                field = data.ljust(4, b"\x00")
            else:
                field = struct.pack("<I", extra_at + len(tail))
                tail += data + b"\x00" * (len(data) & 1)
            head += struct.pack("<HHI", tag, kind, count) + field
        out += head + struct.pack("<I", 0) + tail
    return bytes(out)


def encode_tiff16(array: np.ndarray, orientation: int = 1) -> bytes:
    """Uncompressed 16-bit TIFF, grey (H, W) or RGB (H, W, 3)."""
    array = np.asarray(array, dtype="<u2")
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    ifd = {
        256: (LONG, width), 257: (LONG, height), 258: (SHORT, [16] * channels), 259: (SHORT, 1),
        262: (SHORT, 2 if channels == 3 else 1), 273: (LONG, _Ref("blob", 0)), 274: (SHORT, orientation),
        277: (SHORT, channels), 278: (LONG, height), 279: (LONG, array.nbytes), 284: (SHORT, 1),
    }
    return encode_tiff([ifd], [array.tobytes()])


# XYZ(D65) -> linear sRGB: the 'camera' of our DNG sees sRGB primaries.
_XYZ_TO_SRGB = [3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570]


def write_dng(path, scene_rgb: np.ndarray, preview_rgb: np.ndarray | None = None,
              orientation: int = 1, datetime_original: str | None = None,
              preview_exif_orientation: int | None = None, make: str = "Photorank",
              model: str = "Test Camera") -> Path:
    """A DNG 1.4 file as cameras and converters write it: IFD0 holds the embedded JPEG preview
    (NewSubFileType=1, `preview_rgb`, omitted when None) and the camera metadata, a SubIFD holds
    the raw RGGB Bayer mosaic (12-bit linear, made from `scene_rgb`), the Exif IFD holds
    DateTimeOriginal. `orientation` is the container's TIFF Orientation tag (libraw's 'flip');
    `preview_exif_orientation` puts an EXIF orientation inside the preview JPEG itself."""
    scene = np.asarray(scene_rgb, dtype=np.float32) / 255.0
    height, width = (scene.shape[0] // 2) * 2, (scene.shape[1] // 2) * 2
    linear = np.where(scene <= 0.04045, scene / 12.92, ((scene + 0.055) / 1.055) ** 2.4)[:height, :width]
    mosaic = np.empty((height, width), np.float32)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    black, white = 64, 4095
    raw = (black + mosaic * (white - black)).round().astype("<u2")

    blobs = [raw.tobytes()]
    ifd0 = {
        50706: (BYTE, [1, 4, 0, 0]),  # DNGVersion
        50707: (BYTE, [1, 1, 0, 0]),  # DNGBackwardVersion
        271: (ASCII, make), 272: (ASCII, model), 305: (ASCII, "photorank imagefactory"),
        50708: (ASCII, f"{make} {model}"),  # UniqueCameraModel
        274: (SHORT, orientation),
        50721: (SRATIONAL, _XYZ_TO_SRGB),  # ColorMatrix1
        50778: (SHORT, 21),  # CalibrationIlluminant1 = D65
        50728: (RATIONAL, [1.0, 1.0, 1.0]),  # AsShotNeutral
        330: (LONG, _Ref("ifd", 1)),  # SubIFDs -> the raw image
        EXIF_IFD: (LONG, _Ref("ifd", 2)),
    }
    if preview_rgb is not None:
        buffer = io.BytesIO()
        Image.fromarray(preview_rgb).save(buffer, "JPEG", quality=90,
                                          **_exif_kwargs(preview_exif_orientation, None))
        blobs.append(camera_jpeg(buffer.getvalue()))
        p_height, p_width = preview_rgb.shape[:2]
        ifd0.update({
            254: (LONG, 1),  # NewSubFileType: reduced-resolution preview
            256: (LONG, p_width), 257: (LONG, p_height), 258: (SHORT, [8, 8, 8]),
            259: (SHORT, 7),  # JPEG
            262: (SHORT, 6),  # YCbCr
            273: (LONG, _Ref("blob", 1)), 277: (SHORT, 3), 278: (LONG, p_height),
            279: (LONG, len(blobs[1])), 284: (SHORT, 1),
        })
    else:  # IFD0 without an image of its own is not allowed: a tiny uncompressed RGB thumbnail
        ifd0.update({
            254: (LONG, 1), 256: (LONG, 2), 257: (LONG, 2), 258: (SHORT, [8, 8, 8]), 259: (SHORT, 1),
            262: (SHORT, 2), 273: (LONG, _Ref("blob", 1)), 277: (SHORT, 3), 278: (LONG, 2),
            279: (LONG, 12), 284: (SHORT, 1),
        })
        blobs.append(bytes(12))
    raw_ifd = {
        254: (LONG, 0), 256: (LONG, width), 257: (LONG, height), 258: (SHORT, 16), 259: (SHORT, 1),
        262: (SHORT, 32803),  # CFA
        273: (LONG, _Ref("blob", 0)), 277: (SHORT, 1), 278: (LONG, height), 279: (LONG, raw.nbytes),
        284: (SHORT, 1),
        33421: (SHORT, [2, 2]),  # CFARepeatPatternDim
        33422: (BYTE, [0, 1, 1, 2]),  # CFAPattern: RGGB
        50714: (SHORT, black),  # BlackLevel
        50717: (SHORT, white),  # WhiteLevel
    }
    exif_ifd = {36864: (UNDEFINED, b"0231")}
    if datetime_original is not None:
        exif_ifd[TAG_DATETIME_ORIGINAL] = (ASCII, datetime_original)
    Path(path).write_bytes(encode_tiff([ifd0, raw_ifd, exif_ifd], blobs))
    return Path(path)


def write_dng_with_preview(path, preview_rgb: np.ndarray, orientation: int = 1,
                           datetime_original: str | None = None, raw_scale: float = 1.0,
                           preview_exif_orientation: int | None = None) -> Path:
    """DNG whose embedded JPEG preview is `preview_rgb`; the raw mosaic is the same scene at
    `raw_scale` times the preview size."""
    height, width = preview_rgb.shape[:2]
    scene = preview_rgb if raw_scale == 1.0 else resized(preview_rgb, round(width * raw_scale), round(height * raw_scale))
    return write_dng(path, scene, preview_rgb, orientation=orientation, datetime_original=datetime_original,
                     preview_exif_orientation=preview_exif_orientation)


# ---------------------------------------------------------------- broken files


def truncate(path, keep: float | int = 0.5) -> Path:
    """Cut a file in place: keep a fraction (float < 1) or a number of bytes (int)."""
    data = Path(path).read_bytes()
    length = int(len(data) * keep) if isinstance(keep, float) else int(keep)
    Path(path).write_bytes(data[:length])
    return Path(path)


def write_random_bytes(path, size: int = 64 * 1024, seed: int = 0) -> Path:
    Path(path).write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return Path(path)


def write_text(path, text: str = "this is not an image\n") -> Path:
    Path(path).write_text(text)
    return Path(path)


def file_size(path) -> int:
    return os.path.getsize(path)
