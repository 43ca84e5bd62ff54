"""The darktable plugin's busted unit tests (plugin_lua/spec/), run from pytest so CI runs them."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from shared_data import REPO

pytestmark = pytest.mark.skipif(
    shutil.which("busted") is None or shutil.which("lua5.4") is None,
    reason="busted and lua5.4 (Debian lua-busted, lua5.4) run the plugin's unit tests",
)


def test_plugin_unit_tests_pass(tmp_path):
    env = dict(os.environ)
    if shutil.which("photorank"):  # the specs that run the real photorank, on a photo without a face
        from PIL import Image

        faceless = tmp_path / "blue sky.jpg"
        for photo in (faceless, tmp_path / "other photo.jpg"):  # the spec's reference and collection
            Image.new("RGB", (200, 150), (90, 140, 200)).save(photo)
        runtime = tmp_path / "runtime"  # no daemon of the user's
        runtime.mkdir(mode=0o700)
        env.update(PHOTORANK_COMMAND=shutil.which("photorank"), PHOTORANK_FACELESS_PHOTO=str(faceless),
                   XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "cache"))
    run = subprocess.run(["busted", "--lua=lua5.4", "--output=TAP"], cwd=REPO / "plugin_lua",
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert not [line for line in lines if line.startswith("not ok")], run.stdout[-4000:]
    assert sum(line.startswith("ok ") for line in lines) >= 30, run.stdout[-2000:]
    if "PHOTORANK_COMMAND" in env:
        assert any(line.endswith("with the real photorank shows its message when the reference has no face")
                   for line in lines), run.stdout[-2000:]
