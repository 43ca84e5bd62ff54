"""Runs the darktable plugin in a real darktable 4.2, headless on an Xvfb of its own, through the driver
tests/lua/darktable_driver.lua. Used by tests/test_plugin_darktable.py and
bench/bench_plugin_darktable.py."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

from programs import environment, start, stop, wait_for

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


PLUGIN = pathlib.Path(__file__).resolve().parent.parent / "plugin_lua" / "photorank.lua"


def plugin_darktablerc(person: str, command: str, people: dict[str, str] | None = None) -> str:
    """DARKTABLERC with the plugin's settings as a user leaves them: the person, the photorank
    command, no photorankd started by the plugin, and the references "set reference" keeps for
    a set of people ({name: path}, in the plugin's one-line form)."""
    kept = "\x1e".join(f"{name}\x1f{path}" for name, path in (people or {}).items())
    return DARKTABLERC + (f"lua/photorank/person={person}\nlua/photorank/command={command}\n"
                          f"lua/photorank/start_daemon=FALSE\nlua/photorank/people={kept}\n")


def private_env(tmp_path) -> dict:
    """No daemon and no face cache of the user's: a runtime and a cache dir of this test's own."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return environment(XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """An X server of our own and its display. Xvfb picks a free display itself (-displayfd):
    `xvfb-run -a` races other Xvfb started at the same moment, and a darktable given a display
    another test's X server holds never starts."""
    read_end, write_end = os.pipe()
    xvfb = start(["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                 pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as displays:
        display = displays.readline().strip()
    if not display:
        stop(xvfb)
        raise AssertionError("Xvfb did not start")
    return xvfb, f":{display}"


def write_config(config: pathlib.Path, darktablerc: str = DARKTABLERC, plugin: pathlib.Path | None = None) -> None:
    """A darktable config dir; with `plugin`, installed as the README says: linked into
    lua/contrib and loaded by `require "contrib/photorank"` in luarc."""
    config.mkdir(parents=True)
    (config / "darktablerc").write_text(darktablerc)
    if plugin is not None:
        (config / "lua" / "contrib").mkdir(parents=True)
        (config / "lua" / "contrib" / "photorank.lua").symlink_to(plugin)
        (config / "luarc").write_text('require "contrib/photorank"\n')


def run_lua(work: pathlib.Path, script: pathlib.Path, env: dict, *, timeout: float = 900, start_timeout: float = 120,
            attempts: int = 3, darktablerc: str = DARKTABLERC, plugin: pathlib.Path | None = None) -> str:
    """Runs `script` in a darktable of its own (Xvfb, in-memory library) until darktable quits;
    returns darktable's stderr. darktable 4.2 sometimes never gets to the --luacmd script (a
    start-up race, more often on a loaded machine): a start that has not reached the script in
    `start_timeout` s is killed and tried again in a fresh config dir."""
    for attempt in range(1, attempts + 1):
        started = work / f"darktable-{attempt}.started"
        config = work / f"darktable-{attempt}"
        write_config(config / "cfg", darktablerc, plugin)
        xvfb, display = start_xvfb()
        command = ["darktable", "--configdir", str(config / "cfg"), "--cachedir", str(config / "cache"),
                   "--library", ":memory:", "--luacmd", f'io.open("{started}", "w"):close() dofile("{script}")']
        process = start(command, env=dict(env, DISPLAY=display), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if not wait_for(started.exists, start_timeout, process, every=1):
                stop(process, grace=0)
                process.communicate()
                continue
            return process.communicate(timeout=timeout)[1].decode(errors="replace")
        except subprocess.TimeoutExpired:
            stop(process, grace=0)  # darktable and photorank with it
            stderr = process.communicate()[1].decode(errors="replace")
            raise AssertionError(f"darktable did not finish in {timeout:.0f} s\n{stderr[-2000:]}") from None
        finally:
            stop(xvfb)
    raise AssertionError(f"darktable never reached the Lua script in {attempts} starts of {start_timeout:.0f} s")


def run_darktable(tmp_path, env: dict, timeout: float = 900, darktablerc: str = DARKTABLERC,
                  plugin: pathlib.Path | None = None) -> dict[str, dict[str, tuple]]:
    """Runs the driver in darktable; {step: {file name: (rating, photorank tags)}}, and for the
    steps done, timeout, screenshot and time: {first field: the other fields}."""
    report = tmp_path / "report.tsv"
    (tmp_path / "pointer_away.py").write_text(POINTER_AWAY)
    env = dict(env, PR_REPORT=str(report),
               PR_POINTER_AWAY=f"{shutil.which('python3') or 'python3'} '{tmp_path / 'pointer_away.py'}'")
    stderr = run_lua(tmp_path / "dt", DRIVER, env, timeout=timeout, darktablerc=darktablerc, plugin=plugin)
    steps: dict[str, dict[str, tuple]] = {}
    for row in report.read_text("utf-8").splitlines():
        step, *fields = row.split("\t")
        if step in ("done", "timeout", "screenshot", "time", "panel", "toast"):
            steps.setdefault(step, {})[fields[0]] = tuple(fields[1:])
        else:
            steps.setdefault(step, {})[fields[0]] = (int(fields[1]), sorted(fields[2:]))
    assert steps.get("done", {}).get("true") is not None, (steps.get("done"), stderr[-2000:])
    assert "timeout" not in steps, steps["timeout"]
    return steps
