"""Stage 1: load an image file as oriented RGB pixels, decoding no more than the analysis needs.

Photographers' folders hold JPEG, PNG (8/16-bit, RGBA), TIFF, WebP, HEIC/HEIF, JPEG XL and RAW files.
RAW files are read through the JPEG preview the camera embedded (rawpy), which is what every
culling tool shows and is orders of magnitude faster than demosaicing.
JPEGs (also camera MPO JPEGs and RAW previews) are decoded at 1/2, 1/4 or 1/8 size by libjpeg's
DCT scaling when the full size is not needed: decoding is most of the time spent on a cold index.

Every failure to read one file is an ImageError with a readable message, so a batch goes on.
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from PIL import Image, JpegImagePlugin

try:  # HEIC/HEIF support registers itself as a Pillow plugin
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

try:  # JPEG XL (libjxl, through a Rust binding) also registers itself as a Pillow plugin, "JXL"
    import pillow_jxl  # noqa: F401
except ImportError:  # pragma: no cover - pillow-jxl-plugin is a declared dependency
    pass

RAW_EXTENSIONS = frozenset(
    {".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf", ".rw2",
     ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".rwl", ".erf", ".kdc", ".mrw"}
)
RASTER_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif", ".avif",
     ".bmp", ".gif", ".jxl"}
)
IMAGE_EXTENSIONS = RAW_EXTENSIONS | RASTER_EXTENSIONS

# Only these Pillow decoders are tried, whatever the extension says: a ".jpg" that is really a PNG
# loads, while EPS/PDF/PSD and other plugins (EPS would run Ghostscript) are never reached.
# Camera MPO files open through the JPEG plugin. Formats this Pillow build lacks are left out.
Image.init()
PIL_FORMATS = tuple(f for f in ("JPEG", "PNG", "TIFF", "WEBP", "HEIF", "AVIF", "JXL", "BMP", "GIF") if f in Image.OPEN)

# A 200 MP panorama is real, a 1-gigapixel PNG of a few kB is an attack. Allow real cameras and
# stitched panoramas, refuse the rest with a clear error before any pixel memory is allocated.
# Pillow refuses at open above 2 * MAX_IMAGE_PIXELS (and only warns above it): aligned on ours,
# and its warning silenced since everything it would warn about is checked here.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

EXIF_ORIENTATION = 0x0112
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_DATETIME = 0x0132
EXIF_IFD = 0x8769

# File signatures of raster formats, to read a JPEG or PNG misnamed as RAW through Pillow.
_RASTER_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
# JPEG XL: a bare codestream, or the ISO BMFF container holding it in 'jxlc' or 'jxlp' boxes.
JXL_CODESTREAM = b"\xff\x0a"
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
# Enough of a JPEG XL file to hold its container's first boxes and the codestream's size header.
JXL_HEAD_BYTES = 64 * 1024


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


def is_image_path(path: str | os.PathLike) -> bool:
    """True for names with an image extension; macOS AppleDouble companions ("._IMG_1.JPG", left
    by Finder on exFAT/network drives) are metadata, never images."""
    name = os.path.basename(os.fspath(path))
    if name.startswith("._"):
        return False
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def load_image(path: str | os.PathLike, max_side: int | None = None) -> LoadedImage:
    """Load `path` as oriented RGB, no larger than `max_side` on its long side when given.

    Raises ImageError with a readable reason for anything that is not a readable image.
    """
    path = os.fspath(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError("is a directory, not an image file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the reader forever
            raise ImageError("not a regular file (device, pipe or socket)")
        if info.st_size == 0:
            raise ImageError("empty file (0 bytes)")
        with open(path, "rb") as handle:  # permission and I/O errors surface here, plainly
            head = handle.read(16)
            is_raw = os.path.splitext(path)[1].lower() in RAW_EXTENSIONS and not head.startswith(_RASTER_MAGIC)
            if not is_raw:
                handle.seek(0)
                if head.startswith((JXL_CODESTREAM, JXL_CONTAINER)):
                    return _load_jxl(handle, max_side)
                with Image.open(handle, formats=PIL_FORMATS) as image:
                    return _from_pil(image, max_side)
        return _load_raw(path, max_side)  # libraw opens the file itself and reads only what it needs
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageError(f"refused as a possible decompression bomb: {_detail(error)}") from error
    except FileNotFoundError as error:
        raise ImageError("file not found") from error
    except PermissionError as error:
        raise ImageError("permission denied: the file cannot be read") from error
    except Image.UnidentifiedImageError as error:
        raise ImageError("not an image, or an image format that cannot be read") from error
    except MemoryError as error:
        raise ImageError("not enough memory to decode this image") from error
    except OSError as error:
        if error.errno is not None:  # a system error (EIO on a failing disk, ...)
            raise ImageError(f"cannot read the file: {error.strerror or error}") from error
        raise ImageError(f"corrupt or truncated image data: {error}") from error
    except Exception as error:  # noqa: BLE001 - a malformed file must never stop the batch
        raise ImageError(f"corrupt or truncated image data: {_detail(error)}") from error


def _detail(error: BaseException) -> str:
    """A decoder's message on one line (libheif's end with a newline), or the exception's name."""
    return " ".join(str(error).split()) or type(error).__name__


def _jpeg_draft_scale(width: int, height: int, max_side: int) -> int:
    """Largest libjpeg DCT scale (8, 4, 2) whose output long side is still >= max_side."""
    long_side = max(width, height)
    for scale in (8, 4, 2):
        if -(-long_side // scale) >= max_side:  # libjpeg rounds the scaled size up
            return scale
    return 1


def _load_jxl(handle, max_side: int | None) -> LoadedImage:
    """JPEG XL through pillow-jxl-plugin, which has libjxl decode the whole image as it opens it:
    its size is checked from the header first. libjxl applies the codestream's orientation."""
    header = jxl_header(handle.read(JXL_HEAD_BYTES))
    if header is not None:
        _check_pixels(header.width, header.height)
    handle.seek(0)
    try:
        image = Image.open(handle, formats=("JXL",))
    except RuntimeError as error:  # libjxl's own message asks to rebuild it in debug mode: not for users
        raise ImageError("corrupt or truncated JPEG XL data (libjxl cannot decode it)") from error
    # A JPEG kept losslessly inside (cjxl's default for JPEG input) comes back as that JPEG, unturned,
    # with its own EXIF orientation.
    turned = header.orientation if header and not getattr(image, "jpeg", False) else 1
    with image:
        return _from_pil(image, max_side, oriented_by_decoder=turned)


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"refused as a possible decompression bomb: {width}x{height} pixels is over "
            f"the {MAX_PIXELS // 1_000_000}-megapixel limit"
        )


def _from_pil(image: Image.Image, max_side: int | None, orientation: int | None = None,
              oriented_by_decoder: int = 1) -> LoadedImage:
    """Decode an opened Pillow image. `orientation` (RAW container's) wins over the image's EXIF;
    `oriented_by_decoder`: the orientation the decoder applied itself (JPEG XL's codestream's)."""
    declared_width, declared_height = image.size
    _check_pixels(declared_width, declared_height)
    exif_before = _orientation(image)
    if max_side and isinstance(image, JpegImagePlugin.JpegImageFile):  # JPEG and camera MPO
        scale = _jpeg_draft_scale(declared_width, declared_height, max_side)
        if scale > 1:
            # draft() picks the largest scale with output >= the requested size: request exactly
            # 1/scale so libjpeg decodes only that many pixels (IDCT scaling, no full decode).
            image.draft(image.mode, (max(1, declared_width // scale), max(1, declared_height // scale)))
    image.load()  # a truncated file raises here (LOAD_TRUNCATED_IMAGES stays False)
    exif_after = _orientation(image)
    captured_at = _captured_at(image)

    if orientation is not None and orientation != 1:
        rotate = orientation
    elif oriented_by_decoder != 1:
        rotate = 1  # libjxl turned the pixels; an EXIF orientation beside it must not turn them again
    elif exif_before != 1 and exif_after == 1:
        # The decoder oriented the pixels itself and dropped the tag (Pillow >= 12 does so for
        # TIFF); the size it declared is already the oriented one.
        rotate = 1
    else:
        rotate = exif_after
    pixels = _upright(_shrunk(np.asarray(_to_rgb8(image)), max_side), rotate)
    swapped = rotate in (5, 6, 7, 8)
    full_width, full_height = (declared_height, declared_width) if swapped else (declared_width, declared_height)

    applied = rotate
    if oriented_by_decoder != 1:
        applied = oriented_by_decoder
    elif applied == 1 and exif_before != 1:
        applied = exif_before  # applied while decoding
    elif applied == 1 and image.info.get("original_orientation") in range(2, 9):
        # pillow-heif decodes HEIF with its irot/imir transform applied and resets EXIF to 1.
        applied = int(image.info["original_orientation"])
    return LoadedImage(pixels, full_width, full_height, applied, captured_at)


def _to_rgb8(image: Image.Image) -> Image.Image:
    """Any mode (16-bit, RGBA, LA, P, CMYK, I;16, I, F, 1) to 8-bit RGB."""
    mode = image.mode
    if mode.startswith("I;16"):
        # 16-bit greyscale: Pillow's convert("L") clips instead of scaling.
        return Image.fromarray(_from_16_bit(np.asarray(image))).convert("RGB")
    if mode in ("I", "F"):
        # 32-bit integer (older Pillow's 16-bit PNG) or float: scale by the range actually used.
        values = np.asarray(image, dtype=np.float32)
        peak = float(values.max(initial=0))
        peak = 65535.0 if mode == "I" and peak > 255 else 255.0 if mode == "I" else max(peak, 1e-6)
        return Image.fromarray((values * (255.0 / peak)).clip(0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Transparent areas become white, as a viewer shows them, rather than black noise.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # Already RGB: the image itself, not a copy (a JPEG's pixels are resized, then handed out once).
    return image if mode == "RGB" else image.convert("RGB")


def _from_16_bit(values: np.ndarray) -> np.ndarray:
    """16-bit samples scaled to 8 bits, not clipped."""
    return (values.astype(np.float32) * (255.0 / 65535.0) + 0.5).clip(0, 255).astype(np.uint8)


def _shrunk(pixels: np.ndarray, max_side: int | None) -> np.ndarray:
    """`pixels` with their long side brought down to `max_side` (the size Pillow's thumbnail gives),
    by an area average: OpenCV's INTER_AREA, antialiased like Lanczos and about 2.5x as fast on the
    3000 px of a 24 MP JPEG decoded at 1/2 DCT scale. Resized before turning: fewer pixels to move."""
    height, width = pixels.shape[:2]
    if not max_side or max(width, height) <= max_side:
        return pixels
    return cv2.resize(pixels, _reduced_size(width, height, max_side), interpolation=cv2.INTER_AREA)


def _reduced_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) with the long side `max_side` and the short one the integer next to it
    that keeps the aspect ratio closest (as Pillow's thumbnail rounds)."""
    aspect = width / height
    if width > height:
        return max_side, _nearest(max_side / aspect, lambda n: abs(aspect - max_side / n) if n else 0)
    return _nearest(max_side * aspect, lambda n: abs(aspect - n / max_side)), max_side


def _nearest(number: float, error) -> int:
    return max(1, min(math.floor(number), math.ceil(number), key=error))


# The EXIF orientation (2-8) as the OpenCV operations that turn the stored pixels upright.
_TURN = {
    2: lambda p: cv2.flip(p, 1),
    3: lambda p: cv2.rotate(p, cv2.ROTATE_180),
    4: lambda p: cv2.flip(p, 0),
    5: cv2.transpose,
    6: lambda p: cv2.rotate(p, cv2.ROTATE_90_CLOCKWISE),
    7: lambda p: cv2.flip(cv2.transpose(p), -1),
    8: lambda p: cv2.rotate(p, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels turned by their EXIF orientation, C-contiguous (OpenCV: about 4x as fast as
    Pillow's transpose and the copy out of Pillow together)."""
    turn = _TURN.get(orientation)
    return turn(np.ascontiguousarray(pixels)) if turn is not None else np.ascontiguousarray(pixels)


def _orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - malformed EXIF never makes a photo unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _captured_at(image: Image.Image) -> float | None:
    try:
        exif = image.getexif()
        text = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    except Exception:  # noqa: BLE001 - malformed EXIF never makes a photo unreadable
        return None
    return parse_exif_datetime(text)


def parse_exif_datetime(text: object) -> float | None:
    """'2024:06:01 14:03:22' -> naive POSIX timestamp; None when absent or malformed."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return _naive_timestamp(moment)


def _naive_timestamp(moment: datetime) -> float:
    return (moment.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()


# libraw reports the container's orientation as dcraw's 'flip' bits (1 = mirror left-right,
# 2 = mirror top-bottom, 4 = transpose), not as the EXIF value.
_LIBRAW_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


def _load_raw(path: str, max_side: int | None) -> LoadedImage:
    import rawpy

    try:
        with rawpy.imread(path) as raw:
            flip_orientation = _LIBRAW_FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)
            raw_captured_at = _raw_timestamp(raw)
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                thumb = None
                # No usable preview: develop at half size (libraw's fast mode). libraw applies
                # the flip itself, so the pixels come out oriented. Sizes are read before
                # developing, which halves them.
                sizes = raw.sizes
                full = (sizes.height, sizes.width) if sizes.flip & 4 else (sizes.width, sizes.height)
                pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    except rawpy.LibRawFileUnsupportedError as error:
        raise ImageError("not a RAW file that libraw can read (unsupported camera or corrupt file)") from error
    except (rawpy.LibRawIOError, rawpy.LibRawDataError) as error:
        raise ImageError("corrupt or truncated RAW file") from error
    except rawpy.LibRawError as error:
        raise ImageError(f"cannot read RAW file: {type(error).__name__}") from error

    if thumb is None:
        return _finish_bitmap(pixels, max_side, 1, flip_orientation, full, raw_captured_at)
    if thumb.format == rawpy.ThumbFormat.JPEG:
        with Image.open(io.BytesIO(thumb.data), formats=("JPEG",)) as preview:
            loaded = _from_pil(preview, max_side, orientation=flip_orientation)
        # The RAW's own capture time first: libraw gives previews without EXIF a generated header
        # whose date is 1970 when the RAW has none.
        if raw_captured_at is not None:
            loaded.captured_at = raw_captured_at
        elif loaded.captured_at is not None and loaded.captured_at < 366 * 86400:
            loaded.captured_at = None
        return loaded
    bitmap = np.asarray(thumb.data)
    height, width = bitmap.shape[:2]
    full = (height, width) if flip_orientation in (5, 6, 7, 8) else (width, height)
    return _finish_bitmap(bitmap, max_side, flip_orientation, flip_orientation, full, raw_captured_at)


def _finish_bitmap(pixels: np.ndarray, max_side: int | None, rotate: int, orientation: int,
                   full: tuple[int, int], captured_at: float | None) -> LoadedImage:
    if pixels.dtype == np.uint16:  # libraw's 16-bit bitmap previews
        pixels = _from_16_bit(pixels)
    upright = _upright(_shrunk(np.ascontiguousarray(pixels[..., :3]), max_side), rotate)
    return LoadedImage(upright, full[0], full[1], orientation, captured_at)


def _raw_timestamp(raw) -> float | None:
    """libraw's capture time (parsed from the RAW's EXIF as local wall-clock time)."""
    try:
        value = raw.other.timestamp
    except Exception:  # noqa: BLE001 - older rawpy without `other`
        return None
    if isinstance(value, datetime):
        return _naive_timestamp(value) if value.year > 1970 else None
    if isinstance(value, (int, float)) and value > 0:
        return _naive_timestamp(datetime.fromtimestamp(value))
    return None


@dataclass(frozen=True)
class JxlHeader:
    width: int  # as stored, before the orientation
    height: int
    orientation: int  # the codestream's own (1-8), which libjxl applies while decoding


# JPEG XL SizeHeader: the width as a ratio of the height, by its 3-bit code (1-7).
_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def jxl_header(data: bytes) -> JxlHeader | None:
    """Size and orientation from the start of a JPEG XL file (ISO/IEC 18181-1 SizeHeader and the
    start of ImageMetadata); None when `data` is not JPEG XL or too short to tell."""
    codestream = _jxl_codestream(data)
    if codestream is None:
        return None
    bits = _Bits(codestream[2:])
    try:
        small = bits.read(1)
        height = _jxl_dimension(bits, small)
        ratio = bits.read(3)
        if ratio:
            numerator, denominator = _JXL_RATIOS[ratio]
            width = height * numerator // denominator
        else:
            width = _jxl_dimension(bits, small)
        orientation = 1
        if not bits.read(1) and bits.read(1):  # not all_default, and extra_fields
            orientation = 1 + bits.read(3)
    except IndexError:
        return None
    return JxlHeader(width, height, orientation)


def _jxl_dimension(bits: _Bits, small: int) -> int:
    if small:
        return (1 + bits.read(5)) * 8
    return 1 + bits.read((9, 13, 18, 30)[bits.read(2)])


def _jxl_codestream(data: bytes) -> bytes | None:
    """The codestream's first bytes: the file itself, or the payload of its first jxlc/jxlp box."""
    if data.startswith(JXL_CODESTREAM):
        return data
    offset = 0
    while data.startswith(JXL_CONTAINER) and offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8]
        header = 16 if size == 1 else 8
        if kind == b"jxlc":
            return data[offset + header:]
        if kind == b"jxlp":
            return data[offset + header + 4:]  # after the part's index
        if size < 8 and size != 1:
            return None
        offset += int.from_bytes(data[offset + 8:offset + 16], "big") if size == 1 else size
    return None


class _Bits:
    """Reads JPEG XL's bit fields: least significant bit of each byte first."""

    def __init__(self, data: bytes):
        self.data = data
        self.position = 0

    def read(self, count: int) -> int:
        value = 0
        for number in range(count):
            byte = self.data[(self.position + number) >> 3]  # IndexError past the end
            value |= ((byte >> ((self.position + number) & 7)) & 1) << number
        self.position += count
        return value
