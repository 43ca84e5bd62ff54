"""Fixtures for the xmp_writer tests; helpers live in xmp_helpers."""

import pytest


@pytest.fixture
def image(tmp_path):
    """Path of an image (content irrelevant: only its sidecar is touched)."""
    path = tmp_path / "IMG_0001.jpg"
    path.write_bytes(b"\xff\xd8\xff\xd9")
    return path
