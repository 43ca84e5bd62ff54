"""photorankd's background re-index (reindex.py) with real daemons: a cache made under another
engine is analysed again under the daemon's own while no call runs, `Status` and `photorank
status` report its progress, a ranking during the re-index is answered (each photo analysed
once), and SIGTERM stops it with what it analysed kept."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from programs import Daemon, photorank

from photorank.cache import FaceCache
from photorank.faces import DEFAULT_ENGINE
from photorank.library import Library
from photorank.v1 import photorank_pb2 as pb

pytestmark = pytest.mark.slow

REINDEX_SECONDS = 600
DEMO_PHOTOS = 5
EARLIER_QUALITIES = (60, 80)
OTHER_ENGINE = "dlib" if DEFAULT_ENGINE == "blazeface" else "blazeface"


@pytest.fixture
def old_cache(tmp_path, demo_collection):
    """(the demo collection's copy, the reference, the old analysis key): a cache in tmp_path in
    which the demo photos and re-encoded copies of them (in `earlier/`, first in path order) were
    indexed under another engine than the default one (by the library a daemon serves, here in
    this process: the same cache, without a daemon's start)."""
    source, reference = demo_collection
    photos, earlier = tmp_path / "photos", tmp_path / "earlier"
    shutil.copytree(source, photos)
    earlier.mkdir()
    for path in sorted(photos.iterdir()):
        for quality in EARLIER_QUALITIES:
            Image.open(path).save(earlier / f"q{quality}_{path.name}", quality=quality)
    with Library(engine=OTHER_ENGINE, cache_path=str(tmp_path / "faces.sqlite"), workers=2) as library:
        for folder in (earlier, photos):
            assert library.index([str(folder)]).analysed > 0
        old_key = library.key
    return photos, reference, old_key


def stale_count() -> int:
    return DEMO_PHOTOS * (1 + len(EARLIER_QUALITIES))


def reindex_progress(daemon: Daemon) -> list[pb.Reindex]:
    """Every status of the re-index until it ends."""
    seen = []

    def ended() -> bool:
        seen.append(daemon.status().reindex)
        return seen[-1].state in ("done", "stopped")

    daemon.wait_until(ended, REINDEX_SECONDS)
    return seen


def test_a_cache_made_under_another_engine_is_reindexed_in_the_background(tmp_path, old_cache):
    photos, _, old_key = old_cache
    (photos / "portrait_soft.jpg").unlink()  # gone since: counted, never analysed
    daemon = Daemon(tmp_path)
    try:
        seen = reindex_progress(daemon)
        status = daemon.status()
        assert status.analysis_key != old_key
        assert (status.reindex.state, status.reindex.done, status.reindex.total, status.reindex.gone) == ("done", stale_count(), stale_count(), 1)
        assert [step.done for step in seen] == sorted(step.done for step in seen)
        assert {step.total for step in seen if step.total} == {stale_count()}
        assert status.images == status.analyses_started == stale_count() - 1
        # The next request over the folder is answered from the cache under the new key.
        report = list(daemon.stub.Index(pb.IndexRequest(paths=[str(photos)])))[-1].report
        assert (report.analysed, report.cached) == (0, DEMO_PHOTOS - 1)
        assert daemon.status().analyses_started == stale_count() - 1

        command = ["status", "--daemon", daemon.socket]
        text = photorank(*command, timeout=120)
        assert f"re-index of photos analysed under another engine or settings: done, {stale_count()} of {stale_count()}, 1 gone" in text.stdout
        document = json.loads(photorank(*command, "--json", timeout=120).stdout)
        assert document["reindex"] == {"state": "done", "done": stale_count(), "total": stale_count(), "gone": 1}
    finally:
        assert daemon.stop() == 0


def test_a_ranking_during_the_reindex_is_answered_and_each_photo_analysed_once(tmp_path, old_cache):
    photos, reference, _ = old_cache
    daemon = Daemon(tmp_path)
    try:
        states = []
        request = pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(photos)])
        for event in daemon.stub.Rank(request):
            states.append(daemon.status().reindex.state)
            report = event.report
        assert "paused" in states  # it waited for the ranking, which asks for photos it had not reached
        assert len(report.results) == DEMO_PHOTOS - 1 and report.not_found == 1
        assert reindex_progress(daemon)[-1].done == stale_count()
        assert daemon.status().analyses_started == stale_count() + 1  # and the reference, once each
    finally:
        assert daemon.stop() == 0


def test_sigterm_stops_the_reindex_and_the_next_start_goes_on(tmp_path, old_cache):
    daemon = Daemon(tmp_path)
    try:
        daemon.wait_until(lambda: daemon.status().reindex.done >= 2, REINDEX_SECONDS)
        key = daemon.status().analysis_key
    finally:
        # Stopped whatever happened: a failed wait must not leave a daemon running.
        stopped = daemon.stop()
    assert stopped == 0
    log = (tmp_path / "photorankd.log").read_text()
    assert "re-index stopped after" in log and log.splitlines()[-1].endswith("stopped")
    cache = FaceCache(str(tmp_path / "faces.sqlite"))
    try:
        _, kept, _ = cache.counts(key)
    finally:
        cache.close()
    assert 2 <= kept < stale_count()

    again = Daemon(tmp_path)
    try:
        assert reindex_progress(again)[-1].total == stale_count() - kept
        assert again.status().analyses_started == stale_count() - kept
    finally:
        assert again.stop() == 0

    config = tmp_path / "off.toml"
    config.write_text("[daemon]\nreindex_in_background = false\nwarm_workers = false\n")
    off = Daemon(tmp_path, "--config", str(config))
    try:
        assert off.status().reindex == pb.Reindex(state="off")
    finally:
        assert off.stop() == 0
