"""tests/darktable_session.py itself: a darktable that does not reach the test's Lua script is
stopped and started again in a fresh config dir, and then reported; the suite never hangs."""

from __future__ import annotations

import shutil

import pytest
from darktable_session import run_lua
from programs import environment

pytestmark = pytest.mark.skipif(shutil.which("darktable") is None or shutil.which("Xvfb") is None,
                                reason="darktable and Xvfb (Debian xvfb) are needed")


def test_a_start_that_does_not_reach_the_script_in_time_is_retried_in_a_fresh_config_then_reported(tmp_path):
    script = tmp_path / "never.lua"
    # no time at all to start (so never a race with a fast start), and should it get there, it quits
    script.write_text('require("darktable").gui.action("global/quit", 0, "", "", 1.0)\n')
    with pytest.raises(AssertionError, match="never reached the Lua script in 2 starts"):
        run_lua(tmp_path / "work", script, environment(), start_timeout=0, attempts=2)
    assert sorted(path.name for path in (tmp_path / "work").iterdir()) == ["darktable-1", "darktable-2"]
