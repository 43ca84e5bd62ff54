"""photorankd's background re-index: the cached photos analysed under another engine or settings
only, analysed again under the current ones while no client call is being answered.

After `photorankd --engine blazeface` (or a new photorank version, or changed signal settings)
every cached analysis belongs to the old analysis key; without this, the first ranking of each
folder would analyse it again while the user waits. The re-index walks those files one photo at
a time through the Library's own `index` (its worker pool, its cache and its in-memory index), so
a photo a ranking wants at the same moment is analysed once, and a call never waits behind more
than the photo in hand. While any call runs it pauses between photos. A file that is no longer
there is counted as gone and left in the cache: the next request over its folder prunes it (an
unmounted drive must not lose its analyses). SIGTERM (the daemon's stop event) ends it within a
photo; what it analysed is kept, and the next start goes on with the rest.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import Cancelled, PhotorankError
from .library import Library

log = logging.getLogger("photorankd.reindex")

# How often a paused re-index looks whether the calls have ended.
IDLE_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ReindexStatus:
    """Where the background re-index is: its state, photos done of the total, files gone."""

    state: str  # "off" | "running" | "paused" (a call is being answered) | "done" | "stopped"
    done: int = 0
    total: int = 0
    gone: int = 0


class Reindexer:
    """Re-analyses the library's stale photos in a thread of its own; `status` may be asked at any
    time from another thread."""

    def __init__(self, library: Library, busy: Callable[[], bool], stop: threading.Event):
        """`busy`: whether a client call runs now; `stop`: set when the daemon stops."""
        self._library = library
        self._busy = busy
        self._stop = stop
        self._status = ReindexStatus("off")
        self._thread: threading.Thread | None = None

    def status(self) -> ReindexStatus:
        return self._status

    def start(self) -> None:
        self._status = ReindexStatus("running")
        self._thread = threading.Thread(target=self._run, name="photorank-reindex", daemon=True)
        self._thread.start()

    def join(self, seconds: float) -> None:
        if self._thread is not None:
            self._thread.join(seconds)

    def _run(self) -> None:
        try:
            self._reindex(self._library.stale_paths())
        except Cancelled:
            pass
        except Exception:  # noqa: BLE001 - the daemon serves on; the next start tries again
            log.exception("background re-index failed")
        if self._status.state != "done":
            self._status = ReindexStatus("stopped", self._status.done, self._status.total, self._status.gone)
            log.info("re-index stopped after %d of %d photos; the next start goes on", self._status.done, self._status.total)

    def _reindex(self, paths: list[str]) -> None:
        done = gone = 0
        self._status = ReindexStatus("running", done, len(paths), gone)
        if paths:
            log.info("re-indexing in the background: %d photos analysed under another engine or settings", len(paths))
        for path in paths:
            if not self._wait_until_idle(done, len(paths), gone):
                return
            self._status = ReindexStatus("running", done, len(paths), gone)  # after a pause
            if os.path.exists(path):
                try:
                    self._library.index([path], cancel=self._stop)
                except Cancelled:
                    raise  # the daemon stops
                except PhotorankError as error:  # the file went meanwhile, or cannot be read: its own error
                    log.warning("re-index: %s", error)
            else:
                gone += 1
            done += 1
        self._status = ReindexStatus("done", done, len(paths), gone)
        if paths:
            log.info("re-index done: %d photos, %d of them gone", done, gone)

    def _wait_until_idle(self, done: int, total: int, gone: int) -> bool:
        """Wait while a call runs; False when the daemon stops meanwhile."""
        while self._busy() and not self._stop.is_set():
            self._status = ReindexStatus("paused", done, total, gone)
            self._stop.wait(IDLE_POLL_SECONDS)
        return not self._stop.is_set()
