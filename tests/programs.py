"""Every program the tests run, run one way: photorank and photorankd as a user runs them, the
system programs (exiftool, darktable, digiKam, Xvfb), and Python children; in the test environment,
so a child imports this checkout's photorank whatever its working directory."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import grpc

from photorank.v1 import photorank_pb2 as pb
from photorank.v1 import photorank_pb2_grpc as pb_grpc

REPO = pathlib.Path(__file__).resolve().parent.parent
# The `photorank` command `pip install -e .` put beside this Python (None when not installed).
INSTALLED_PHOTORANK = shutil.which("photorank", path=os.path.dirname(sys.executable))
PHOTORANK = [sys.executable, "-m", "photorank.cli"]
PHOTORANKD = [sys.executable, "-m", "photorank.server"]


def environment(**changes: str | None) -> dict[str, str]:
    """This process's environment with this checkout first on PYTHONPATH and this Python's scripts
    first on PATH; `changes` set variables (None removes one)."""
    inherited = os.environ.get("PYTHONPATH")
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "daemon"), str(REPO), inherited])),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(command: Sequence[str], *, env: dict | None = None, timeout: float = 600, text: bool = True,
        **options) -> subprocess.CompletedProcess:
    """Runs a program to its end; its output captured unless `options` send stdout or stderr
    elsewhere, as text unless `text=False` (bytes that are not UTF-8, e.g. a Latin-1 file name,
    kept as surrogates). `options` go to subprocess.run (cwd, check, input...)."""
    if not {"stdout", "stderr"} & options.keys():
        options["capture_output"] = True
    if text:
        options.setdefault("errors", "surrogateescape")
    return subprocess.run(list(command), env=env or environment(), timeout=timeout, text=text, **options)


def photorank(*arguments: str, installed: bool = False, **options) -> subprocess.CompletedProcess:
    """The photorank command line; `installed`: through the script `pip install` made, as a user
    types it (the test must skip when INSTALLED_PHOTORANK is None)."""
    command = [INSTALLED_PHOTORANK] if installed else PHOTORANK
    return run([*command, *arguments], **options)


def photorankd(*arguments: str, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    """A photorankd expected to refuse to start: its exit code and output."""
    return run([*PHOTORANKD, *arguments], timeout=timeout, **options)


def python(code: str, *arguments: str, **options) -> subprocess.CompletedProcess:
    """`code` run by a fresh Python of this environment."""
    return run([sys.executable, "-c", code, *arguments], **options)


def start(command: Sequence[str], *, env: dict | None = None, **options) -> subprocess.Popen:
    """Starts a program in the background, in a session of its own (so `stop` ends it and everything
    it started). `options` go to subprocess.Popen (stdout, stderr, pass_fds...)."""
    return subprocess.Popen(list(command), env=env or environment(), start_new_session=True, **options)


def stop(process: subprocess.Popen, grace: float = 20) -> int:
    """SIGTERM to the process's session, SIGKILL to what is left after `grace` s; its exit code."""
    for how, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, how)
        except ProcessLookupError:
            break
        try:
            return process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return process.wait()


def wait_for(condition: Callable[[], bool], timeout: float, process: subprocess.Popen | None = None,
             every: float = 0.2) -> bool:
    """Whether `condition` came true within `timeout` s (a guard against hanging, not a measure:
    generous on a loaded machine); stops waiting early when `process` has ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline or (process is not None and process.poll() is not None):
            return condition()
        time.sleep(every)
    return True


# ---- photorankd ------------------------------------------------------------------------------

START_SECONDS = 120
# How long the processes a killed daemon started may take to notice and end.
ORPHAN_SECONDS = 30


def children_of() -> dict[int, list[int]]:
    """pid -> its child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(name))
    return children


def proc_text(pid: int, name: str) -> str:
    """A process's /proc/PID/NAME (cmdline, maps...), '' once it has ended."""
    try:
        with open(f"/proc/{pid}/{name}") as handle:
            return handle.read()
    except OSError:
        return ""


def forkservers_under(pid: int) -> list[int]:
    """The children of `pid` that are multiprocessing's forkserver (the workers' parent)."""
    return [child for child in children_of().get(pid, []) if "forkserver" in proc_text(child, "cmdline")]


def loads(pid: int, library: str) -> bool:
    """The process has a shared library (or model file) of that name mapped into its memory."""
    return library in proc_text(pid, "maps")


def descendants(pid: int) -> set[int]:
    tree = children_of()
    found, todo = set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie has ended)."""
    running = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    running.add(pid)
        except OSError:
            pass
    return running


class Daemon:
    """A photorankd process with its own socket and cache. `stop` (any signal) checks that no
    process it started is left running.

    Its workers start at the first photo ([daemon] warm_workers = false in a --config of its own,
    unless `extra` names another): a test daemon rarely needs them before, and warming them costs
    each start seconds of CPU. `warm=True` keeps the default, workers warm from the start."""

    def __init__(self, folder, *extra: str, env: dict | None = None, wait: bool = True, warm: bool = False):
        self.folder = folder
        self.socket = str(folder / "run" / "photorankd.sock")
        self.cache = str(folder / "faces.sqlite")
        if not warm and "--config" not in extra:
            config = folder / "photorankd-cold-workers.toml"
            config.write_text("[daemon]\nwarm_workers = false\n")
            extra = ("--config", str(config), *extra)
        self.log = open(folder / "photorankd.log", "a+")
        self.process = start([*PHOTORANKD, "--socket", self.socket, "--cache", self.cache, "--workers", "2", *extra],
                             stderr=self.log, env=env)
        self.channel = grpc.insecure_channel(f"unix:{self.socket}")
        self.stub = pb_grpc.PhotorankStub(self.channel)
        self.started: set[int] = set()
        if not wait:
            return
        if not wait_for(lambda: os.path.exists(self.socket), START_SECONDS, self.process, every=0.05):
            raise AssertionError(f"photorankd did not start: {self.text_log()}")
        grpc.channel_ready_future(self.channel).result(timeout=START_SECONDS)

    def text_log(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def status(self) -> pb.StatusReport:
        return self.stub.Status(pb.StatusRequest())

    def rank(self, request: pb.RankRequest) -> tuple[list[pb.Progress], pb.RankReport]:
        """A Rank call: its progress events, then the report that ends the stream."""
        events = list(self.stub.Rank(request))
        assert events[-1].HasField("report")
        assert all(event.HasField("progress") for event in events[:-1])
        return [event.progress for event in events[:-1]], events[-1].report

    def wait_until(self, condition: Callable[[], bool], timeout: float = 120) -> None:
        """Waits for `condition` while the daemon runs; its log as the failure otherwise."""
        if not wait_for(condition, timeout, self.process):
            raise AssertionError(self.text_log())

    def analysis_workers(self) -> list[int]:
        """The pids of the workers its forkserver forked."""
        tree = children_of()
        return [worker for forkserver in forkservers_under(self.process.pid) for worker in tree.get(forkserver, [])]

    def note_children(self) -> set[int]:
        """Remember the processes the daemon runs now (call while it works): `stop` checks them."""
        self.started |= descendants(self.process.pid)
        return self.started

    def stop(self, how: int = signal.SIGTERM) -> int:
        self.channel.close()
        if self.process.poll() is None:
            self.note_children()
            self.process.send_signal(how)
        code = self.process.wait(timeout=60)
        self.log.close()
        if not wait_for(lambda: not alive(self.started), ORPHAN_SECONDS, every=0.1):
            raise AssertionError(f"photorankd (pid {self.process.pid}) left processes running: {sorted(alive(self.started))}")
        return code
