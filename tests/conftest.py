"""Fixtures shared by the pipeline tests: real photos from installed packages and ../shared/data."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest
from shared_data import shared_folder

@pytest.fixture(scope="session")
def people_dir() -> pathlib.Path:
    return shared_folder("people")


@pytest.fixture(scope="session")
def demo_collection(tmp_path_factory) -> tuple[str, str]:
    """(collection folder, reference photo) derived from the photos in the insightface wheel."""
    from photorank.demo import make_demo_collection

    return make_demo_collection(str(tmp_path_factory.mktemp("demo")))


@pytest.fixture
def collection(demo_collection, tmp_path) -> tuple[str, str]:
    """(a copy of the demo collection that a test may change, the reference photo)."""
    source, reference = demo_collection
    folder = tmp_path / "photos"
    shutil.copytree(source, folder)
    return str(folder), reference


@pytest.fixture(scope="session")
def dlib_engine():
    from photorank.faces import load_engine

    return load_engine("dlib")


@pytest.fixture
def cache_file(tmp_path) -> str:
    return os.path.join(tmp_path, "cache", "faces.sqlite")


@pytest.fixture(scope="session")
def people_cache(tmp_path_factory) -> str:
    """One face cache for every test over ../shared/data/people: each photo is analysed once a run."""
    return str(tmp_path_factory.mktemp("people-cache") / "faces.sqlite")
