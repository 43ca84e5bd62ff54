"""Which sidecar files belong to an image.

darktable and digiKam use NAME.EXT.xmp (darktable duplicates: NAME_01.EXT.xmp),
Lightroom and digiKam's compatibility mode use NAME.xmp.
"""

from __future__ import annotations

import os
import re

from .model import NAMINGS


def _with_ext(image_path: str) -> str:
    return image_path + ".xmp"


def _without_ext(image_path: str) -> str:
    return os.path.splitext(image_path)[0] + ".xmp"


def _existing(path: str, names: set[str]) -> str | None:
    """path if it exists, also when its .xmp suffix has another case."""
    base = os.path.basename(path)[:-4]
    for suffix in (".xmp", ".XMP", ".Xmp"):
        if base + suffix in names:
            return os.path.join(os.path.dirname(path), base + suffix)
    return None


def _darktable_duplicates(image_path: str, names: set[str]) -> list[str]:
    folder, filename = os.path.split(image_path)
    stem, ext = os.path.splitext(filename)
    pattern = re.compile(re.escape(stem) + r"_(\d{2,})" + re.escape(ext) + r"\.xmp", re.IGNORECASE)
    found = []
    for name in sorted(names):
        match = pattern.fullmatch(name)
        # NAME_01.EXT may be an image of its own; then the sidecar is its.
        if match and name[:-4] not in names:
            found.append(os.path.join(folder, name))
    return found


def sidecar_paths(image_path: str, naming: str = "auto") -> list[str]:
    """Existing sidecars of image_path for this naming, or the one to create."""
    if naming not in NAMINGS:
        raise ValueError(f"naming must be one of {NAMINGS}, got {naming!r}")
    image_path = os.fspath(image_path)
    folder = os.path.dirname(image_path) or "."
    try:
        names = set(os.listdir(folder))
    except FileNotFoundError:
        names = set()
    found: list[str] = []
    if naming in ("auto", "name.ext.xmp"):
        primary = _existing(_with_ext(image_path), names)
        found += [primary] if primary else []
        found += _darktable_duplicates(image_path, names)
    if naming in ("auto", "name.xmp"):
        short = _existing(_without_ext(image_path), names)
        found += [short] if short else []
    if found:
        return found
    return [_without_ext(image_path) if naming == "name.xmp" else _with_ext(image_path)]
