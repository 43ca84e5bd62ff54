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
    fine = float(np.mean(np.square(g - g1)[margin:-margin, margin:-margin]))
    coarse = float(np.mean(np.square(g1 - g2)[margin:-margin, margin:-margin]))
    if fine + coarse < 1e-6:  # a flat patch: nothing to judge
        return 0.0
    return fine / (fine + coarse)


def face_sharpness(pixels: np.ndarray, box, landmarks) -> float | None:
    left, top, w, h = _face_square(box, landmarks, pixels.shape, scale=0.9)
    if w < 8 or h < 8:
        return None
    return band_sharpness(luma(pixels[top:top + h, left:left + w]))


def image_sharpness(pixels: np.ndarray) -> float | None:
    """The sharpest part of the whole image (90th percentile of tile sharpness, tiles of 1/8 the short side)."""
    grey = luma(pixels)
    height, width = grey.shape[:2]
    tile = max(16, min(height, width) // 8)
    values = []
    for top in range(0, height - tile + 1, tile):
        for left in range(0, width - tile + 1, tile):
            patch = grey[top:top + tile, left:left + tile]
            if float(patch.std()) < 4.0:  # sky, walls: no detail to judge
                continue
            value = band_sharpness(patch, size=64)
            if value is not None:
                values.append(value)
    if not values:
        return None
    return float(np.percentile(values, 90))


def _srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.float32) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def skin_region(pixels: np.ndarray, box, landmarks) -> np.ndarray:
    """RGB pixels of the central face (cheeks, nose, forehead), as (N, 3)."""
    height, width = pixels.shape[:2]
    if landmarks is not None and len(landmarks) == 68:
        pts = np.asarray(landmarks, dtype=np.int32)
        hull = cv2.convexHull(np.vstack([pts[1:16], pts[17:27]]))
        mask = np.zeros((height, width), dtype=np.uint8)
        cv2.fillConvexPoly(mask, hull, 1)
        # Leave out eyes and mouth: they are darker/brighter than skin by nature.
        for group in (slice(36, 42), slice(42, 48), slice(48, 60)):
            cv2.fillConvexPoly(mask, cv2.convexHull(pts[group]), 0)
        region = pixels[mask.astype(bool)]
        if len(region) >= 16:
            return region.reshape(-1, 3) if pixels.ndim == 3 else region.reshape(-1, 1)
    left, top, w, h = _face_square(box, landmarks, pixels.shape, scale=0.6)
    region = pixels[top:top + h, left:left + w]
    return region.reshape(-1, 3) if pixels.ndim == 3 else region.reshape(-1, 1)


def face_exposure(pixels: np.ndarray, box, landmarks) -> dict[str, float | None]:
    region = skin_region(pixels, box, landmarks)
    if len(region) < 16:
        return {"exposure": None, "highlights_clipped": None, "shadows_crushed": None}
    if region.shape[1] == 3:
        y = region @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        clipped = float(np.mean(region.max(axis=1) >= 250))
    else:
        y = region[:, 0].astype(np.float32)
        clipped = float(np.mean(y >= 250))
    linear = float(np.median(_srgb_to_linear(y)))
    exposure = math.log2(max(linear, 1e-4) / SKIN_TARGET_LINEAR)
    return {
        "exposure": max(-10.0, min(4.0, exposure)),
        "highlights_clipped": clipped,
        "shadows_crushed": float(np.mean(y <= 8)),
    }


def framing(shape, box, landmarks, margin_px: float = 2.0) -> dict[str, float | None]:
    """edge_cut: share of the face outside the frame or touching its edge; face_size: face width / short side."""
    height, width = shape[:2]
    x, y, w, h = box
    face_size = float(w) / float(min(height, width))
    if landmarks is not None and len(landmarks) == 68:
        pts = np.asarray(landmarks, dtype=np.float64)
        outside = ((pts[:, 0] < margin_px) | (pts[:, 1] < margin_px)
                   | (pts[:, 0] > width - 1 - margin_px) | (pts[:, 1] > height - 1 - margin_px))
        cut = float(np.mean(outside))
        # Landmark ellipse of the whole head is bigger: add the share of the face box beyond the frame.
        x0, y0 = pts[:, 0].min(), pts[17:27, 1].min() - 0.25 * (pts[:, 1].max() - pts[17:27, 1].min())
        x1, y1 = pts[:, 0].max(), pts[:, 1].max()
    elif landmarks is not None and len(landmarks) == 5:
        # A 5-point engine clips its box to the frame, but its keypoints (eyes, nose, mouth
        # corners) are regressed and may lie outside: the face's extent follows from them.
        pts = np.asarray(landmarks, dtype=np.float64)
        eye_distance = max(float(np.linalg.norm(pts[1] - pts[0])), 1.0)
        cut = 0.0
        x0, x1 = pts[:, 0].min() - 0.6 * eye_distance, pts[:, 0].max() + 0.6 * eye_distance
        y0, y1 = pts[:2, 1].min() - 0.9 * eye_distance, pts[3:, 1].max() + 0.7 * eye_distance
    else:
        cut = 0.0
        x0, y0, x1, y1 = x, y, x + w, y + h
    area = max((x1 - x0) * (y1 - y0), 1e-6)
    inside = max(0.0, min(x1, width) - max(x0, 0)) * max(0.0, min(y1, height) - max(y0, 0))
    box_cut = 1.0 - inside / area
    touching = (x0 <= margin_px or y0 <= margin_px or x1 >= width - 1 - margin_px or y1 >= height - 1 - margin_px)
    edge_cut = max(cut, box_cut)
    if touching and edge_cut == 0.0:
        edge_cut = 0.01  # touching the edge, nothing missing yet
    return {"edge_cut": float(min(1.0, edge_cut)), "face_size": face_size}
