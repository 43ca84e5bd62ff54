"""Starting the analysis workers: the forkserver loads once what every worker needs, and stays
safe to fork from."""

from __future__ import annotations

import os
import pathlib
from concurrent.futures import ProcessPoolExecutor

from programs import children_of, forkservers_under, loads, python, wait_for
from photorank import lifeline
from photorank.faces.dlib_engine import hog_detector
from photorank.faces.dlib_models import landmark_predictor
from photorank.library import Library


def forkserver_pid() -> int:
    """This process's forkserver: its one child whose command line names multiprocessing's forkserver."""
    found = forkservers_under(os.getpid())
    assert len(found) == 1, found
    return found[0]


def in_the_worker() -> tuple[int, int, str | None]:
    """What a new worker has in memory before it has loaded anything itself."""
    return landmark_predictor.cache_info().currsize, hog_detector.cache_info().currsize, os.environ.get("OPENBLAS_NUM_THREADS")


def test_a_worker_starts_with_dlibs_models_loaded_by_a_forkserver_without_threads():
    with ProcessPoolExecutor(1, mp_context=lifeline.forkserver_context(), initializer=lifeline.die_with_parent) as pool:
        # Loaded before the worker was forked: the worker finds them in memory, loaded by no call of its own.
        assert pool.submit(in_the_worker).result() == (1, 1, "1")
        # One thread: forking it copies no other thread's half-held lock.
        assert os.listdir(f"/proc/{forkserver_pid()}/task") == [str(forkserver_pid())]


def test_a_forkserver_for_insightface_workers_loads_no_dlib_model():
    """insightface finds, aligns and embeds faces with its own models: dlib's stay out of memory.
    In a fresh process: this one's forkserver is started already, for the default engine."""
    code = f"""
import sys
sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
from concurrent.futures import ProcessPoolExecutor
from photorank import lifeline
from test_workers import in_the_worker
lifeline.start_forkserver("insightface")
with ProcessPoolExecutor(1, mp_context=lifeline.forkserver_context()) as pool:
    print(pool.submit(in_the_worker).result())
"""
    done = python(code)
    assert done.stdout.strip() == "(0, 0, '1')", done.stderr


def test_started_workers_load_their_own_models_before_any_photo(tmp_path):
    with Library(cache_path=str(tmp_path / "faces.sqlite"), workers=1) as library:
        library.analyser.start()
        assert wait_for(lambda: children_of().get(forkserver_pid()), 60)
        worker = max(children_of()[forkserver_pid()])
        # Only a worker's ResNet session loads onnxruntime (the forkserver must not: it starts a thread).
        assert wait_for(lambda: loads(worker, "onnxruntime"), 60)
        assert library.analyser.started == 0  # no photo was given to it
