"""The face photorank uses from each reference, as a picture the user can look at.

`photorank rank --save-reference-crop FILE` writes the chosen face of every reference side by
side, with some of its surroundings, so a wrong choice (another person in the reference) shows.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .images import load_image

CROP_MARGIN = 0.4  # of the face box's size, on each side: hair, chin and who is next to the face
CROP_HEIGHT = 320  # pixels; every crop is scaled to it so they line up


def face_crop(pixels: np.ndarray, box: tuple[int, int, int, int], margin: float = CROP_MARGIN) -> Image.Image:
    """The box widened by `margin` on each side, clipped to the frame."""
    x, y, w, h = box
    height, width = pixels.shape[:2]
    left, top = max(0, round(x - margin * w)), max(0, round(y - margin * h))
    right, bottom = min(width, round(x + w + margin * w)), min(height, round(y + h + margin * h))
    return Image.fromarray(pixels[top:bottom, left:right])


def reference_sheet(references: list[tuple[str, list[int]]]) -> Image.Image:
    """Every reference's chosen face ((path, box) pairs, in the order given), scaled to one
    height and put side by side."""
    crops = []
    for path, box in references:
        image = load_image(path)  # full size: the box is in the original's pixels
        crop = face_crop(image.pixels, tuple(box))
        crops.append(crop.resize((max(1, round(crop.width * CROP_HEIGHT / crop.height)), CROP_HEIGHT)))
    sheet = Image.new("RGB", (sum(crop.width for crop in crops), CROP_HEIGHT))
    left = 0
    for crop in crops:
        sheet.paste(crop, (left, 0))
        left += crop.width
    return sheet
