"""The darktable plugin's busted unit tests (plugin_lua/spec/), run from pytest so CI runs them."""

from __future__ import annotations

import shutil

import pytest
from programs import INSTALLED_PHOTORANK, REPO, environment, run

pytestmark = pytest.mark.skipif(
    shutil.which("busted") is None or shutil.which("lua5.4") is None,
    reason="busted and lua5.4 (Debian lua-busted, lua5.4) run the plugin's unit tests",
)


def test_plugin_unit_tests_pass(tmp_path):
    env = environment()
    if INSTALLED_PHOTORANK:  # the specs that run the real photorank, on a photo without a face
        from PIL import Image

        faceless = tmp_path / "blue sky.jpg"
        for photo in (faceless, tmp_path / "other photo.jpg"):  # the spec's reference and collection
            Image.new("RGB", (200, 150), (90, 140, 200)).save(photo)
        runtime = tmp_path / "runtime"  # no daemon of the user's
        runtime.mkdir(mode=0o700)
        env.update(PHOTORANK_COMMAND=INSTALLED_PHOTORANK, PHOTORANK_FACELESS_PHOTO=str(faceless),
                   XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "cache"))
    busted = run(["busted", "--lua=lua5.4", "--output=TAP"], cwd=REPO / "plugin_lua", timeout=300, env=env)
    assert busted.returncode == 0, busted.stdout[-4000:] + busted.stderr[-2000:]
    lines = busted.stdout.splitlines()
    assert not [line for line in lines if line.startswith("not ok")], busted.stdout[-4000:]
    assert sum(line.startswith("ok ") for line in lines) >= 30, busted.stdout[-2000:]
    if "PHOTORANK_COMMAND" in env:
        assert any(line.endswith("with the real photorank shows its message when the reference has no face")
                   for line in lines), busted.stdout[-2000:]
