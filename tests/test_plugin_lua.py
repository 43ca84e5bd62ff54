"""The darktable plugin's busted unit tests (plugin_lua/spec/), run from pytest so CI runs them."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(
    shutil.which("busted") is None or shutil.which("lua5.4") is None,
    reason="busted and lua5.4 (Debian lua-busted, lua5.4) run the plugin's unit tests",
)


def test_plugin_unit_tests_pass():
    run = subprocess.run(["busted", "--lua=lua5.4", "--output=plainTerminal"], cwd=REPO / "plugin_lua",
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " 0 failures / 0 errors" in run.stdout, run.stdout[-2000:]
