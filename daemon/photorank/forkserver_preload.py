"""Imported only inside multiprocessing's forkserver (see lifeline.py), when it starts: it ends
with its parent, then loads once what every analysis worker of the engine named by its parent
needs (analysis.preload_for_workers), so that the workers it forks start with it in memory."""

import os

from .lifeline import WORKER_ENGINE_ENV, die_with_parent

die_with_parent()
# Before numpy and OpenCV are imported: their OpenBLAS would start a thread pool, and a process
# with threads is not safe to fork. The workers it forks run one per core on one thread anyway.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

from .analysis import preload_for_workers  # noqa: E402 - after the environment is set
from .faces import DEFAULT_ENGINE  # noqa: E402

# Not named when a pool started this forkserver itself (lifeline.start_forkserver was not called).
preload_for_workers(os.environ.pop(WORKER_ENGINE_ENV, DEFAULT_ENGINE))
