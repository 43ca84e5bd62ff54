"""The worker processes that analyse photos, shared by every request of a Library.

    analyser = Analyser(engine_choice(None, settings), settings.measuring, workers=2, store=..., recall=...)
    for seen, record in analyse_all(analyser, pending, cancel):
        ...

Each photo in flight is analysed once, however many requests want it; results are stored as
each photo finishes, so what a cancelled or killed request had analysed is never lost.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from . import lifeline
from .analysis import EngineChoice, analyse_in_worker, start_worker
from .errors import Cancelled, stop_if_cancelled
from .records import ImageRecord, SeenFile
from .settings import MeasuringSettings

# Analyses one request keeps queued per worker: enough to keep every core busy, few enough that a
# cancelled request stops within a photo or two and other requests' photos are not stuck behind it.
QUEUED_PER_WORKER = 2
# How often a waiting request looks at whether its client has gone.
CANCEL_POLL_SECONDS = 0.2
SHUTTING_DOWN = "photorank is shutting down; what was analysed so far is kept"
WORKER_DIED = "analysis interrupted: a worker process died (out of memory?); run again to retry this photo"

Store = Callable[[SeenFile, ImageRecord, bool], None]  # (file, its record, whether it may be cached)
Recall = Callable[[SeenFile], ImageRecord | None]  # the stored record of a content analysed meanwhile


class Analyser:
    """The worker processes, shared by all requests; each photo in flight is analysed once.

    Results are stored in the cache (and the index) as each photo finishes, by the pool's
    callback thread, so what a cancelled or killed request had analysed is never lost. A worker
    that dies (out of memory, a crash in a decoder) fails only the photos it had in hand, as
    per-file errors that are not cached; the next photo gets a new pool.
    """

    def __init__(self, choice: EngineChoice, measuring: MeasuringSettings, workers: int, store: Store, recall: Recall):
        self.workers = workers
        self._start = (choice, measuring)
        self._store = store
        self._recall = recall
        self._pool: ProcessPoolExecutor | None = None
        self._warm = False  # whether a worker loads its models as it starts (start())
        self._closed = False
        self._lock = threading.Lock()
        # By path and content: a request that sees a newer version of a file never joins the
        # analysis of the older one.
        self._in_flight: dict[tuple[str, str], Future] = {}
        self.started = 0  # analyses handed to the workers since the library was made

    def submit(self, seen: SeenFile) -> Future:
        """A future of the photo's ImageRecord; joins the analysis already running for it."""
        key = (seen.path, seen.fingerprint)
        with self._lock:
            if self._closed:
                raise Cancelled(SHUTTING_DOWN)
            if key in self._in_flight:
                return self._in_flight[key]
            # Finished by another request since this one looked at the cache (stored before it
            # left _in_flight): answered from the cache, not analysed twice.
            stored = self._recall(seen)
            if stored is not None:
                done: Future = Future()
                done.set_result(stored)
                return done
            pool = self._running_pool()
            outcome: Future = Future()
            self._in_flight[key] = outcome
            self.started += 1
            task = pool.submit(analyse_in_worker, seen.path)
        task.add_done_callback(lambda task: self._finish(seen, task, outcome, pool))
        return outcome

    def start(self) -> None:
        """Start the workers now, in the background, each loading every model it uses, rather than
        at the first photo (the daemon: the first photo it is sent does not wait for them). Pools
        made later, after a worker died, start warm too."""
        with self._lock:
            if self._closed:
                return
            self._warm = True
            pool = self._running_pool()
        # In a thread: each fork waits for the forkserver, which may still be loading (forkserver_preload.py).
        threading.Thread(target=self._fork_workers, args=(pool,), name="photorank-workers-start", daemon=True).start()

    def start_forkserver(self) -> None:
        """Start the forkserver that forks the workers now, unless it runs already (the daemon:
        from its main thread, lifeline.start_forkserver); it loads what this engine's workers share."""
        lifeline.start_forkserver(self._start[0].name)

    def _fork_workers(self, pool: ProcessPoolExecutor) -> None:
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            for _ in range(self.workers):
                pool.submit(int)  # the pool forks a worker at each task it is given while none is idle

    def _running_pool(self) -> ProcessPoolExecutor:
        """The pool, made if there is none (called holding the lock)."""
        if self._pool is None:
            self.start_forkserver()
            # forkserver: workers never inherit the request threads or the open cache.
            # Tied to this process (lifeline): no worker outlives it, even after kill -9.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=lifeline.forkserver_context(),
                initializer=lifeline.start_child, initargs=(start_worker, *self._start, self._warm),
            )
        return self._pool

    def _finish(self, seen: SeenFile, task: Future, outcome: Future, pool: ProcessPoolExecutor) -> None:
        record: ImageRecord | None = None
        failure: BaseException | None = None
        try:
            try:
                record, lasting = task.result()
            except BrokenProcessPool:
                self._retire(pool)
                record, lasting = ImageRecord(path=seen.path, error=WORKER_DIED), False
            self._store(seen, record, lasting)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request
            failure = error
        with self._lock:
            self._in_flight.pop((seen.path, seen.fingerprint), None)
        try:
            if failure is None:
                outcome.set_result(record)
            else:
                outcome.set_exception(failure)
        except InvalidStateError:
            pass  # close() failed it already

    def _retire(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def close(self) -> None:
        """No new analyses; those queued are dropped, those running finish and are stored."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            abandoned, self._in_flight = list(self._in_flight.values()), {}
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for outcome in abandoned:  # a request still waiting on one learns why, instead of waiting forever
            try:
                outcome.set_exception(Cancelled(SHUTTING_DOWN))
            except InvalidStateError:
                pass


def analyse_all(analyser: Analyser, pending: list[SeenFile], cancel: threading.Event | None) -> Iterator[tuple[SeenFile, ImageRecord]]:
    """(file, record) as each photo is analysed, keeping a few per worker queued."""
    waiting = list(reversed(pending))
    running: dict[Future, SeenFile] = {}
    window = analyser.workers * QUEUED_PER_WORKER
    while waiting or running:
        stop_if_cancelled(cancel)
        while waiting and len(running) < window:
            seen = waiting.pop()
            running[analyser.submit(seen)] = seen
        finished, _ = wait(running, timeout=CANCEL_POLL_SECONDS, return_when=FIRST_COMPLETED)
        for future in finished:
            yield running.pop(future), future.result()
