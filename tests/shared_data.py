"""Where the tests and bench scripts find ../shared/data, and who is in its photos; a plain module
(not conftest.py, whose name tests/xmp/conftest.py shares), imported by conftest and test files alike."""

from __future__ import annotations

import os
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_folder(name: str) -> pathlib.Path:
    """A folder of ../shared/data, or a clean skip when the shared data is not beside the checkout."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"shared test data not found at {folder}")
    return folder


# The people of ../shared/data/people who are nobody's reference: strangers to every query.
DISTRACTORS = {"lin_manuel_miranda", "jeff_bezos", "marissa_mayer", "sundar_pichai"}


def identity(filename: str) -> str:
    """Who a photo of ../shared/data/people shows, by its file name ("obama_3.jpg": "obama")."""
    return re.sub(r"_\d.*$", "", os.path.splitext(filename)[0])


def largest(faces):
    """The largest of a photo's faces (the one a single-person photo is about), or None."""
    return max(faces, key=lambda face: face.box[2] * face.box[3]) if faces else None
