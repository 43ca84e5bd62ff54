"""Technical quality of a face: sharpness, exposure, framing.

Sharpness is measured on the face itself, resampled to a fixed size, so that a sharp face on a
blurred background scores high, a blurred face on a sharp background scores low, and a 60 px face
and a 600 px face are on one scale.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SHARPNESS_PX = 128  # faces are resampled to this square before the band energies are measured
# Well-exposed skin: linear luminance (0-1) of the face's median. Skin reflects roughly 15-45 %
# (darker to lighter complexions); 0.25 is a middle value, so 0 EV means "a typical skin tone".
SKIN_TARGET_LINEAR = 0.25
# JPEG blocks smaller than this (px, after a reduced decode) are not measured: at 2 px a grid
# cannot be told from fine texture, and blocking that small is not visible at that size either.
MIN_BLOCK_PX = 3.0
# Frequencies, in multiples of the grid's, where no blocking lies: the texture's own level.
OFF_GRID_FACTORS = (0.7, 0.8, 0.9, 1.1, 1.2, 1.3)


def _face_square(box, landmarks, shape, scale: float = 1.0) -> tuple[int, int, int, int]:
    """A square region centred on the face (landmarks if present, else the box), clipped to the image."""
    height, width = shape[:2]
    if landmarks is not None and len(landmarks) == 68:
        pts = np.asarray(landmarks, dtype=np.float64)
        # Inner face: brows to chin and cheek to cheek, without the background past the jaw.
        x0, y0 = pts[:, 0].min(), pts[17:27, 1].min()
        x1, y1 = pts[:, 0].max(), pts[:, 1].max()
    else:
        x, y, w, h = box
        x0, y0, x1, y1 = x, y, x + w, y + h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0) * scale
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    right, bottom = int(round(cx + side / 2)), int(round(cy + side / 2))
    left, top = max(0, left), max(0, top)
    right, bottom = min(width, right), min(height, bottom)
    return left, top, max(0, right - left), max(0, bottom - top)


def luma(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def band_sharpness(grey: np.ndarray, size: int = SHARPNESS_PX) -> float | None:
    """Share of the finest band in the image's detail energy, in [0, 1] (higher is sharper).

    The region is resampled to `size` px, then split into difference-of-Gaussians bands:
    fine = g - G(1), coarse = G(1) - G(2), where G(s) is a Gaussian blur of sigma s px. Their
    ratio fine / (fine + coarse) depends on how much detail survives at the finest scale, not on
    contrast or exposure. A light pre-blur (sigma 0.5 px) keeps JPEG blocking and grain from
    passing as detail. Typical values: about 0.30-0.45 for a sharp face, below 0.15 for a face
    blurred by a few pixels at 128 px.
    """
    if grey.size == 0 or min(grey.shape[:2]) < 8:
        return None
    interpolation = cv2.INTER_AREA if min(grey.shape[:2]) >= size else cv2.INTER_CUBIC
    g = cv2.resize(grey, (size, size), interpolation=interpolation).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 0.5)
    g1 = cv2.GaussianBlur(g, (0, 0), 1.0)
    g2 = cv2.GaussianBlur(g, (0, 0), 2.0)
    margin = 4  # borders hold padding effects
    fine = _mean(np.square(g - g1)[margin:-margin, margin:-margin])
    coarse = _mean(np.square(g1 - g2)[margin:-margin, margin:-margin])
    if fine + coarse < 1e-6:  # a flat patch: nothing to judge
        return 0.0
    return fine / (fine + coarse)


def _mean(values: np.ndarray) -> float:
    """np.mean(values) for float32 values, without its Python wrapper (which costs more than the
    sum on an image tile): numpy's own steps, the float32 sum divided by the count as float64,
    rounded to float32."""
    return float(np.float32(np.add.reduce(values, axis=None) / np.intp(values.size)))


def face_sharpness(pixels: np.ndarray, box, landmarks) -> float | None:
    left, top, w, h = _face_square(box, landmarks, pixels.shape, scale=0.9)
    if w < 8 or h < 8:
        return None
    return band_sharpness(luma(pixels[top:top + h, left:left + w]))


def _grid_share(profile: np.ndarray, period: float) -> float:
    """How much of a gradient profile follows a grid of `period` px (any phase, any real period):
    the magnitude of its Fourier component at 1/period over its sum, less the same measure at
    frequencies off the grid (what texture alone gives)."""
    x = np.arange(len(profile), dtype=np.float64)
    total = max(float(profile.sum()), 1e-6)

    def share(frequency: float) -> float:
        return float(abs(np.sum(profile * np.exp(-2j * np.pi * frequency * x)))) / total

    on_grid = share(1.0 / period)
    off_grid = [share(factor / period) for factor in OFF_GRID_FACTORS]
    return max(0.0, on_grid - float(np.median(off_grid)))


def face_blockiness(pixels: np.ndarray, box, landmarks, block_px: float = 8.0) -> float | None:
    """JPEG blocking on the face: how much of the skin's small steps line up on the 8x8 grid.

    `block_px` is the size of the file's 8 px blocks in `pixels` (a reduced decode shrinks them:
    8 x the decode scale). Each column's (row's) step is the median over the face's rows (columns)
    of the absolute difference to the next one, so smooth skin speaks and the few strong edges do
    not; the score is the share of that profile at the grid frequency (phase-free, so a grid
    shifted by cropping or orientation, or resampled to a fractional size, is still seen), from
    both directions. About 0 for a clean face; 0.1-0.5 for visibly blocky ones. None when the
    blocks are too fine to see at this size (under MIN_BLOCK_PX) or the face is too small.
    """
    if block_px < MIN_BLOCK_PX:
        return None
    left, top, w, h = _face_square(box, landmarks, pixels.shape, scale=0.9)
    if min(w, h) < 4 * block_px:
        return None
    grey = luma(pixels[top:top + h, left:left + w])
    # 8-bit levels step by whole numbers: 16-bit integers sort faster than float32, to the same values.
    grey = grey.astype(np.int16 if grey.dtype == np.uint8 else np.float32)
    columns = _row_medians(np.abs(np.diff(np.ascontiguousarray(grey.T), axis=0)))
    rows = _row_medians(np.abs(np.diff(grey, axis=0)))
    return (_grid_share(columns, block_px) + _grid_share(rows, block_px)) / 2


def _row_medians(values: np.ndarray) -> np.ndarray:
    """np.median(values, axis=1), from each row sorted (numpy sorts 16-bit integers along a row
    several times faster than it partitions them): the mean of the one or two middle values."""
    count = values.shape[1]
    return np.mean(np.sort(values, axis=1)[:, (count - 1) // 2:count // 2 + 1], axis=1)


def image_sharpness(pixels: np.ndarray) -> float | None:
    """The sharpest part of the whole image (90th percentile of tile sharpness, tiles of 1/8 the short side)."""
    grey = luma(pixels)
    height, width = grey.shape[:2]
    tile = max(16, min(height, width) // 8)
    values = []
    for top in range(0, height - tile + 1, tile):
        for left in range(0, width - tile + 1, tile):
            patch = grey[top:top + tile, left:left + tile]
            if _flat(patch):
                continue
            value = band_sharpness(patch, size=64)
            if value is not None:
                values.append(value)
    if not values:
        return None
    return float(np.percentile(values, 90))


# Tiles whose luminance varies less than this (standard deviation, 8-bit levels) are left out.
FLAT_TILE_STD = 4.0


def _flat(patch: np.ndarray) -> bool:
    """Sky, walls: no detail to judge. OpenCV's deviation costs a sixth of numpy's; it is within
    1e-9 of it, so numpy decides only the rare patch that close to the threshold (the same tiles)."""
    deviation = float(cv2.meanStdDev(patch)[1][0, 0])
    if abs(deviation - FLAT_TILE_STD) < 1e-6:
        deviation = float(patch.std())
    return deviation < FLAT_TILE_STD


def _srgb_decode(v: np.ndarray) -> np.ndarray:
    """sRGB's transfer curve: 0-1 encoded values (float32) to linear light."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


# The curve for every 8-bit value: a whole photo's luminance is decoded by lookup, not by a power.
SRGB_TO_LINEAR_8BIT = _srgb_decode(np.arange(256, dtype=np.float32) / 255.0)


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Linear light (float32, 0-1) of 0-255 sRGB values: 8-bit ones by table, others by the curve."""
    if values.dtype == np.uint8:
        return SRGB_TO_LINEAR_8BIT[values]
    return _srgb_decode(values.astype(np.float32) / 255.0)


# The brightest tones that are not speculars: a lamp, a glint or a small window cover less than
# this share of a frame, so the percentile below it is where the scene's own highlights sit.
HIGHLIGHT_PERCENTILE = 99.0


FLOAT32_EXACT_COUNT = 2**24  # float32 holds every whole number below this


def tone_levels(grey: np.ndarray) -> tuple[float, float, float]:
    """Median and HIGHLIGHT_PERCENTILE of the linear luminance of 8-bit `grey` (what np.median and
    np.percentile give on srgb_to_linear(grey)), and the share of values >= 250, all read from its
    256-bin histogram: sRGB's curve rises, so each order statistic is the curve at the 8-bit one,
    and no float copy of the frame is made or partially sorted."""
    if grey.size < FLOAT32_EXACT_COUNT:  # OpenCV counts in float32, and 3x as fast as numpy
        counts = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    else:
        counts = np.bincount(grey.ravel(), minlength=256)
    ranks = np.cumsum(counts)
    total = int(ranks[-1])

    def ranked(*positions: int) -> np.ndarray:  # the linear values at these 0-based sorted positions
        return SRGB_TO_LINEAR_8BIT[np.searchsorted(ranks, positions, side="right")]

    # the mean of the two middle values (the same one twice for an odd count), as numpy takes it
    median = float(np.median(ranked((total - 1) // 2, total // 2)))
    # numpy's 'linear' percentile: between the two values around (n - 1) q, in float32
    position = (total - 1) * (HIGHLIGHT_PERCENTILE / 100)
    below = math.floor(position)
    low, high = ranked(below, min(below + 1, total - 1))
    fraction = position - below
    step = high - low
    level = high - step * (1 - fraction) if fraction >= 0.5 else low + step * fraction
    return median, float(level), float(counts[250:].sum()) / total


def highlight_level(level: float) -> float:
    """EV of the frame's highlights (HIGHLIGHT_PERCENTILE of linear luminance, tone_levels) below
    white: about 0 when a photo uses its whole tonal range, -1 for the same photo one stop under.
    A photo's own measure of its exposure, whatever the skin tone of the people in it."""
    return max(-10.0, min(0.0, math.log2(max(level, 1e-4))))


def skin_region(pixels: np.ndarray, box, landmarks) -> np.ndarray:
    """RGB pixels of the central face (cheeks, nose, forehead), as (N, 3)."""
    height, width = pixels.shape[:2]
    if landmarks is not None and len(landmarks) == 68:
        pts = np.asarray(landmarks, dtype=np.int32)
        hull = cv2.convexHull(np.vstack([pts[1:16], pts[17:27]]))
        # The mask covers only the hull's bounds within the image: the same pixels, in the same order.
        left, top = max(0, int(hull[:, 0, 0].min())), max(0, int(hull[:, 0, 1].min()))
        right, bottom = min(width, int(hull[:, 0, 0].max()) + 1), min(height, int(hull[:, 0, 1].max()) + 1)
        region = pixels[:0]
        if right > left and bottom > top:
            mask = np.zeros((bottom - top, right - left), dtype=np.uint8)
            offset = np.array([left, top], dtype=np.int32)
            cv2.fillConvexPoly(mask, hull - offset, 1)
            # Leave out eyes and mouth: they are darker/brighter than skin by nature.
            for group in (slice(36, 42), slice(42, 48), slice(48, 60)):
                cv2.fillConvexPoly(mask, cv2.convexHull(pts[group]) - offset, 0)
            region = _masked(pixels[top:bottom, left:right], mask.astype(bool))
        if len(region) >= 16:
            return region.reshape(-1, 3) if pixels.ndim == 3 else region.reshape(-1, 1)
    left, top, w, h = _face_square(box, landmarks, pixels.shape, scale=0.6)
    region = pixels[top:top + h, left:left + w]
    return region.reshape(-1, 3) if pixels.ndim == 3 else region.reshape(-1, 1)


def _masked(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """pixels[mask]: each pixel's channels taken as one item (numpy selects 3-byte items more
    than ten times as fast as it selects rows of 3 bytes), the same values in the same order."""
    if pixels.ndim == 2:
        return pixels[mask]
    channels = pixels.shape[2]
    items = np.ascontiguousarray(pixels).view(np.dtype((np.void, channels * pixels.itemsize)))
    return items.reshape(mask.shape)[mask].view(pixels.dtype).reshape(-1, channels)


def _middle_values(values: np.ndarray) -> np.ndarray:
    """The two middle values of `values` in sorted order (the middle one twice for an odd count):
    one rank selected by numpy, the other the largest below it (numpy selects one rank about ten
    times as fast as two)."""
    upper = len(values) // 2
    ranked = np.partition(values, upper)
    lower = ranked[upper] if len(values) % 2 else ranked[:upper].max()
    return np.array([lower, ranked[upper]], dtype=values.dtype)


def face_exposure(pixels: np.ndarray, box, landmarks) -> dict[str, float | None]:
    region = skin_region(pixels, box, landmarks)
    if len(region) < 16:
        return {"exposure": None, "highlights_clipped": None, "shadows_crushed": None}
    if region.shape[1] == 3:
        y = region @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        # A channel's max by two pairwise maxima: far faster than a reduction along a 3-wide axis.
        clipped = float(np.mean(np.maximum(np.maximum(region[:, 0], region[:, 1]), region[:, 2]) >= 250))
    else:
        y = region[:, 0].astype(np.float32)
        clipped = float(np.mean(y >= 250))
    # The median of the linear values: the sRGB curve rises, so only the middle one or two luma
    # values need decoding, not every pixel (np.median's result exactly).
    linear = float(np.mean(srgb_to_linear(_middle_values(y))))
    exposure = math.log2(max(linear, 1e-4) / SKIN_TARGET_LINEAR)
    return {
        "exposure": max(-10.0, min(4.0, exposure)),
        "highlights_clipped": clipped,
        "shadows_crushed": float(np.mean(y <= 8)),
    }


# Where a face's outline lies relative to its eyes and mouth, in eye distances (the eye centres'
# separation): a face is about 2.2 eye distances wide (cheekbones), its forehead rises about 0.9
# above the eyes and its chin lies about 0.7 below the mouth. A face cut by the frame still
# shows where these parts should be from the features that are in (or just past) the frame.
FACE_SIDE_PAST_EYE = 0.6
FOREHEAD_ABOVE_EYES = 0.9
CHIN_BELOW_MOUTH = 0.7


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners, from 68 points or as a 5-point engine gives them."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if len(pts) == 5:
        return pts
    return np.array([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]])


def face_extent(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the whole face, forehead to chin and cheek to cheek, from its
    landmarks; for 68 points also no smaller than the points themselves."""
    five = five_points(landmarks)
    eyes, mouth = five[:2], five[3:]
    eye_distance = max(float(np.linalg.norm(eyes[1] - eyes[0])), 1.0)
    left = five[:, 0].min() - FACE_SIDE_PAST_EYE * eye_distance
    right = five[:, 0].max() + FACE_SIDE_PAST_EYE * eye_distance
    top = eyes[:, 1].min() - FOREHEAD_ABOVE_EYES * eye_distance
    bottom = mouth[:, 1].max() + CHIN_BELOW_MOUTH * eye_distance
    if len(landmarks) == 68:
        pts = np.asarray(landmarks, dtype=np.float64)
        left, right = min(left, pts[:, 0].min()), max(right, pts[:, 0].max())
        bottom = max(bottom, pts[:, 1].max())
    return float(left), float(top), float(right), float(bottom)


def framing(shape, box, landmarks, margin_px: float = 2.0) -> dict[str, float | None]:
    """edge_cut: share of the face outside the frame (0.01 when it only touches the edge);
    face_size: face width / the image's short side.

    The face's extent comes from its landmarks (face_extent), which the engines place past the
    frame for a cut face (dlib predicts them there; insightface's keypoints are regressed beyond
    its box, which it clips to the frame)."""
    height, width = shape[:2]
    x, y, w, h = box
    face_size = float(w) / float(min(height, width))
    if landmarks is not None and len(landmarks) in (5, 68):
        x0, y0, x1, y1 = face_extent(landmarks)
    else:
        x0, y0, x1, y1 = x, y, x + w, y + h
    # Cut along each axis, not by area: a face missing a third of its width is a third cut.
    cut_x = (max(0.0, -x0) + max(0.0, x1 - width)) / max(x1 - x0, 1e-6)
    cut_y = (max(0.0, -y0) + max(0.0, y1 - height)) / max(y1 - y0, 1e-6)
    edge_cut = max(cut_x, cut_y)
    touching = (x0 <= margin_px or y0 <= margin_px or x1 >= width - 1 - margin_px or y1 >= height - 1 - margin_px)
    if touching and edge_cut == 0.0:
        edge_cut = 0.01  # touching the edge, nothing missing yet
    return {"edge_cut": float(min(1.0, edge_cut)), "face_size": face_size}
