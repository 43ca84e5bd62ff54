"""Where the tests find ../shared/data and the bench scripts; a plain module (not conftest.py,
whose name tests/xmp/conftest.py shares), imported by conftest and by test files alike."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_folder(name: str) -> pathlib.Path:
    """A folder of ../shared/data, or a clean skip when the shared data is not beside the checkout."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"shared test data not found at {folder}")
    return folder


def load_bench(name: str):
    """A script of bench/ as a module (the tests share its derived copies, data splits and figures)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module
