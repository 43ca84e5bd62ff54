"""What the user named, checked before any work: every path exists, and photos were found.

A mistake in the command (a folder that is not there, a folder without photos) is told in one
sentence at once, instead of after an analysis or as a silent "0 photos".
"""

from __future__ import annotations

import os

from .errors import PathNotFound, PhotorankError, UsageError


class NoPhotos(PhotorankError):
    """Nothing to work on: the folders named hold no photo (where to look instead is in the message)."""


def check_paths(paths: list[str], what: str = "photo or folder") -> None:
    """A named path that does not exist is the user's mistake: say so before any work."""
    if not paths:
        raise UsageError(f"no {what} given")
    for path in paths:
        if not os.path.lexists(path):
            raise PathNotFound(f"{path}: no such {what}")
        if not os.access(path, os.R_OK):
            raise PathNotFound(f"{path}: cannot read this {what} (permission denied)")


def check_output_file(path: str | None, option: str) -> None:
    """Raise UsageError when `path` (given with `option`) could not be written: said before the work."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: cannot write there (not a file in an existing, writable folder)")


def require_photos(files: list[str], folders: list[str], recursive: bool) -> None:
    """Raise NoPhotos, saying where photos are, when `files` is empty."""
    if files:
        return
    places = ", ".join(folders)
    if recursive:
        raise NoPhotos(f"no photos in {places} or its sub-folders")
    holding = [sub for folder in folders for sub in sub_folders(folder) if holds_photos(sub)]
    if holding:
        raise NoPhotos(f"no photos in {places}; {len(holding)} sub-folder(s) hold photos: add -r to look through them")
    raise NoPhotos(f"no photos in {places}")


def sub_folders(folder: str) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(entry.path for entry in entries if not entry.name.startswith(".") and is_folder(entry))


def holds_photos(folder: str) -> bool:
    """Whether the folder or any folder below it holds a photo (stops at the first one)."""
    from .images import is_image_path  # here: checking paths needs no image decoder

    for _, dirnames, filenames in os.walk(folder):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        if any(is_image_path(name) for name in filenames):
            return True
    return False


def is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symbolic link loop: not a folder to look through
        return False
