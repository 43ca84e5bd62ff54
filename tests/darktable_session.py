"""Runs the darktable plugin in a real darktable 4.2, headless on an Xvfb of its own, through the driver
tests/lua/darktable_driver.lua. Used by tests/test_plugin_darktable.py and
bench/bench_plugin_darktable.py."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import time

DRIVER = pathlib.Path(__file__).resolve().parent / "lua" / "darktable_driver.lua"
SCREEN = "1600x1000x24"
# Moves the X pointer to the screen's corner, off every thumbnail: with no window manager it
# starts in the middle, over a thumbnail, and darktable's actions would then act on that image.
POINTER_AWAY = """import ctypes
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XWarpPointer.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong] + [ctypes.c_int] * 2 + [ctypes.c_uint] * 2 + [ctypes.c_int] * 2
x.XFlush.argtypes = [ctypes.c_void_p]
display = x.XOpenDisplay(None)
x.XWarpPointer(display, 0, x.XDefaultRootWindow(display), 0, 0, 0, 0, 1599, 999)
x.XFlush(display)
"""
# darktable's window fills the virtual screen (no window manager to maximise it); thumbnails
# always show their stars; the lighttable sorts by rating, best first. darktable's own luarc
# does not build its "lua scripts installer" panel: building it at start-up sometimes deadlocks
# darktable 4.2 against the --luacmd script (seen under load: both threads wait on the Lua lock).
DARKTABLERC = """lua/_scripts_install/initialized=TRUE
lua/_scripts_install/dont_show=TRUE
ui_last/maximized=false
ui_last/window_x=0
ui_last/window_y=0
ui_last/window_w=1600
ui_last/window_h=1000
plugins/lighttable/filtering/sort0=6
plugins/lighttable/filtering/sortorder0=1
""" + "".join(f"plugins/lighttable/overlays/{layout}/{zoom}=4\n" for layout in range(3) for zoom in range(3))


def private_env(tmp_path) -> dict:
    """No daemon and no face cache of the user's: a runtime and a cache dir of this test's own."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return dict(os.environ, XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """An X server of our own and its display. Xvfb picks a free display itself (-displayfd):
    `xvfb-run -a` races other Xvfb started at the same moment, and a darktable given a display
    another test's X server holds never starts."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    os.close(write_end)
    with os.fdopen(read_end) as displays:
        display = displays.readline().strip()
    if not display:
        xvfb.kill()
        raise AssertionError("Xvfb did not start")
    return xvfb, f":{display}"


def run_darktable(tmp_path, env: dict, timeout: float = 900) -> dict[str, dict[str, tuple]]:
    """Runs the driver in darktable; {step: {file name: (rating, photorank tags)}}, and for the
    steps done, timeout, screenshot and time: {first field: the other fields}."""
    report = tmp_path / "report.tsv"
    (tmp_path / "pointer_away.py").write_text(POINTER_AWAY)
    xvfb, display = start_xvfb()
    env = dict(env, PR_REPORT=str(report), DISPLAY=display,
               PR_POINTER_AWAY=f"{shutil.which('python3') or 'python3'} '{tmp_path / 'pointer_away.py'}'")
    command = ["darktable", "--configdir", str(tmp_path / "dt" / "cfg"), "--cachedir", str(tmp_path / "dt" / "cache"),
               "--library", ":memory:", "--luacmd", f'dofile("{DRIVER}")']
    (tmp_path / "dt" / "cfg").mkdir(parents=True)
    (tmp_path / "dt" / "cfg" / "darktablerc").write_text(DARKTABLERC)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        started = time.monotonic()
        while not report.exists() and process.poll() is None and time.monotonic() - started < 180:
            time.sleep(1)
        if not report.exists():
            raise subprocess.TimeoutExpired(command, 180, "darktable never ran the driver script")
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        os.killpg(process.pid, signal.SIGKILL)  # darktable and photorank with it
        _, stderr = process.communicate()
        raise AssertionError(f"darktable did not finish: {expired.output or f'over {timeout:.0f} s'}\n"
                             f"{stderr.decode(errors='replace')[-2000:]}") from None
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=30)
    steps: dict[str, dict[str, tuple]] = {}
    for row in report.read_text("utf-8").splitlines():
        step, *fields = row.split("\t")
        if step in ("done", "timeout", "screenshot", "time"):
            steps.setdefault(step, {})[fields[0]] = tuple(fields[1:])
        else:
            steps.setdefault(step, {})[fields[0]] = (int(fields[1]), sorted(fields[2:]))
    assert steps.get("done", {}).get("true") is not None, (steps.get("done"), stderr.decode(errors="replace")[-2000:])
    assert "timeout" not in steps, steps["timeout"]
    return steps
