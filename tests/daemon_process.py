"""A photorankd process for the daemon tests: its own socket and cache, and every process it
started (forkserver, resource tracker, workers) gone when it is stopped, however it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc

from photorank.v1 import photorank_pb2 as pb
from photorank.v1 import photorank_pb2_grpc as pb_grpc

START_SECONDS = 60
# How long the processes a killed daemon started may take to notice and end.
ORPHAN_SECONDS = 15


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
    process it started is left running."""

    def __init__(self, folder, *extra: str, env: dict | None = None, wait: bool = True):
        self.folder = folder
        self.socket = str(folder / "run" / "photorankd.sock")
        self.cache = str(folder / "faces.sqlite")
        self.log = open(folder / "photorankd.log", "a+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "photorank.server", "--socket", self.socket, "--cache", self.cache, "--workers", "2", *extra],
            stderr=self.log, env=env,
        )
        self.channel = grpc.insecure_channel(f"unix:{self.socket}")
        self.stub = pb_grpc.PhotorankStub(self.channel)
        self.started: set[int] = set()
        if not wait:
            return
        deadline = time.monotonic() + START_SECONDS
        while not os.path.exists(self.socket):
            assert self.process.poll() is None, self.text_log()
            assert time.monotonic() < deadline, "photorankd did not start"
            time.sleep(0.05)
        grpc.channel_ready_future(self.channel).result(timeout=START_SECONDS)

    def text_log(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def status(self) -> pb.StatusReport:
        return self.stub.Status(pb.StatusRequest())

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
        deadline = time.monotonic() + ORPHAN_SECONDS
        while alive(self.started):
            assert time.monotonic() < deadline, f"photorankd (pid {self.process.pid}) left processes running: {sorted(alive(self.started))}"
            time.sleep(0.1)
        return code
