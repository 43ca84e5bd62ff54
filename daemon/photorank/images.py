"""Stage 1: load an image file as oriented RGB pixels, decoding no more than the analysis needs.

Photographers' folders hold JPEG, PNG (8/16-bit, RGBA), TIFF, WebP, HEIC/HEIF and RAW files.
RAW files are read through the JPEG preview the camera embedded (rawpy), which is what every
culling tool shows and is orders of magnitude faster than demosaicing.
JPEGs are decoded at 1/2, 1/4 or 1/8 size by libjpeg's DCT scaling when the full size is not
needed: decoding is most of the time spent on a cold index.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image

try:  # HEIC/HEIF support registers itself as a Pillow plugin
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

RAW_EXTENSIONS = frozenset(
    {".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf", ".rw2",
     ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".rwl", ".erf", ".kdc", ".mrw"}
)
RASTER_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif", ".avif",
     ".bmp", ".gif"}
)
IMAGE_EXTENSIONS = RAW_EXTENSIONS | RASTER_EXTENSIONS

# Pillow warns above ~89 MP and raises above twice that; a 200 MP panorama is real, a 1-gigapixel
# PNG of a few kB is an attack. Allow real cameras and refuse the rest with a clear error.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

EXIF_ORIENTATION = 0x0112
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_DATETIME = 0x0132
EXIF_IFD = 0x8769


class ImageError(Exception):
    """A file that cannot be read as an image; the message is shown to the user as is."""


@dataclass
class LoadedImage:
    """Oriented RGB pixels, possibly reduced, and what is known of the full-size original."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, EXIF orientation applied
    full_width: int  # oriented size of the original (for RAW: of the embedded preview)
    full_height: int
    orientation: int  # the EXIF orientation tag that was applied (1 = none)
    captured_at: float | None  # EXIF DateTimeOriginal, as a naive POSIX timestamp

    @property
    def scale(self) -> float:
        """Size of `pixels` relative to the full-size image (1.0 = full size)."""
        return self.pixels.shape[1] / self.full_width


def is_image_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def load_image(path: str, max_side: int | None = None) -> LoadedImage:
    """Load `path` as oriented RGB, no larger than `max_side` on its long side when given.

    Raises ImageError with a readable reason for anything that is not a readable image.
    """
    try:
        if os.path.getsize(path) == 0:
            raise ImageError("empty file (0 bytes)")
        if os.path.splitext(path)[1].lower() in RAW_EXTENSIONS:
            return _load_raw(path, max_side)
        with Image.open(path) as image:
            return _from_pil(image, max_side)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageError(f"refused: too many pixels for an image ({error})") from error
    except FileNotFoundError as error:
        raise ImageError("file not found") from error
    except PermissionError as error:
        raise ImageError("permission denied") from error
    except Image.UnidentifiedImageError as error:
        raise ImageError("not an image, or a format that cannot be read") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"cannot decode: {error}") from error


def _from_pil(image: Image.Image, max_side: int | None) -> LoadedImage:
    orientation = _orientation(image)
    captured_at = _captured_at(image)
    stored_width, stored_height = image.size
    if max_side and image.format == "JPEG":
        # draft() picks the largest DCT scale (1/2..1/8) that stays >= the requested size.
        factor = max(stored_width, stored_height) / max_side
        if factor > 1:
            image.draft("RGB", (int(stored_width / factor), int(stored_height / factor)))
    image.load()  # a truncated file raises here (LOAD_TRUNCATED_IMAGES stays False)
    rgb = _to_rgb8(image)
    rgb = _apply_orientation(rgb, orientation)
    full_width, full_height = (stored_height, stored_width) if orientation in (5, 6, 7, 8) else (stored_width, stored_height)
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return LoadedImage(np.asarray(rgb), full_width, full_height, orientation, captured_at)


def _to_rgb8(image: Image.Image) -> Image.Image:
    """Any mode (16-bit, RGBA, LA, P, CMYK, I;16, F) to 8-bit RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: Pillow's convert("L") clips instead of scaling.
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if values.max(initial=0) > 255 else 255.0
        return Image.fromarray((values * (255.0 / peak)).clip(0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        peak = max(float(values.max(initial=0)), 1e-6)
        return Image.fromarray((values * (255.0 / peak)).clip(0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, as a viewer shows them, rather than black noise.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    transpose = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_270],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_90],
    }.get(orientation, [])
    for step in transpose:
        image = image.transpose(step)
    return image


def _orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except (ValueError, TypeError, SyntaxError, OSError):
        return 1
    return value if 1 <= value <= 8 else 1


def _captured_at(image: Image.Image) -> float | None:
    try:
        exif = image.getexif()
        text = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    except (ValueError, TypeError, SyntaxError, OSError, KeyError):
        return None
    return parse_exif_datetime(text)


def parse_exif_datetime(text: object) -> float | None:
    """'2024:06:01 14:03:22' -> naive POSIX timestamp; None when absent or malformed."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return (moment - datetime(1970, 1, 1)).total_seconds()


def _load_raw(path: str, max_side: int | None) -> LoadedImage:
    import rawpy

    try:
        with rawpy.imread(path) as raw:
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                # No usable preview: develop at half size (fast mode of libraw).
                pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
                raw_flip = raw.sizes.flip
                return _raw_from_pixels(pixels, _LIBRAW_FLIP_TO_ORIENTATION.get(raw_flip, 1), max_side)
            raw_flip = raw.sizes.flip
    except rawpy.LibRawError as error:
        raise ImageError(f"cannot read RAW file: {type(error).__name__}") from error
    if thumb.format == rawpy.ThumbFormat.JPEG:
        with Image.open(io.BytesIO(thumb.data)) as preview:
            loaded = _from_pil(preview, max_side)
        if loaded.orientation == 1 and raw_flip:
            # Many previews carry no EXIF of their own: the RAW container's flip applies.
            orientation = _LIBRAW_FLIP_TO_ORIENTATION.get(raw_flip, 1)
            return _raw_from_pixels(loaded.pixels, orientation, max_side, loaded)
        return loaded
    return _raw_from_pixels(np.asarray(thumb.data), _LIBRAW_FLIP_TO_ORIENTATION.get(raw_flip, 1), max_side)


# libraw reports the container's orientation as a 'flip' code, not as the EXIF tag.
_LIBRAW_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


def _raw_from_pixels(
    pixels: np.ndarray, orientation: int, max_side: int | None, base: LoadedImage | None = None
) -> LoadedImage:
    image = _apply_orientation(Image.fromarray(np.ascontiguousarray(pixels[..., :3])), orientation)
    if base is not None:
        width, height = (base.full_height, base.full_width) if orientation in (5, 6, 7, 8) else (base.full_width, base.full_height)
    else:
        width, height = image.size
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return LoadedImage(np.asarray(image.convert("RGB")), width, height, orientation, base.captured_at if base else None)
