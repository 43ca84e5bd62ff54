"""Analysis processes end with the process that started them, however it ends (kill -9 too).

The workers are forked by multiprocessing's forkserver, which the Library's process starts (it
also loads once what every worker needs: forkserver_preload.py). Linux's parent-death signal
(prctl PR_SET_PDEATHSIG) kills the forkserver when that process dies, and each worker when the
forkserver dies: nothing is left running under PID 1 holding models in memory. Elsewhere than
Linux this is a no-op.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
# Imported by the forkserver when it starts (multiprocessing's preload): it then ends with its parent.
FORKSERVER_MODULE = "photorank.forkserver_preload"
# Names, to the forkserver as it starts, the engine its workers run: it loads what they share.
WORKER_ENGINE_ENV = "PHOTORANK_WORKER_ENGINE"


def die_with_parent() -> None:
    """SIGKILL this process when its parent ends (the signal is tied to the thread that forked it)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the call: the signal will not come
        os._exit(1)


def forkserver_context() -> multiprocessing.context.BaseContext:
    """The forkserver context, its server tied to this process. Start it (`start_forkserver`)
    from a thread that lives as long as the process: the main thread."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([FORKSERVER_MODULE])
    return context


def start_forkserver(engine: str) -> None:
    """Start the forkserver unless it runs already, for workers of the engine named `engine`.
    The daemon calls it from its main thread rather than leaving it to the first request's
    thread: the parent-death signal fires when the forking thread ends."""
    forkserver_context()
    from multiprocessing import forkserver

    os.environ[WORKER_ENGINE_ENV] = engine  # for the forkserver only, not for other programs started later
    try:
        forkserver.ensure_running()
    finally:
        del os.environ[WORKER_ENGINE_ENV]


def start_child(initializer: Callable, *args) -> None:
    """A pool's initializer: end with the forkserver, then run `initializer(*args)`."""
    die_with_parent()
    initializer(*args)
