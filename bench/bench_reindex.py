"""How much slower a ranking is while photorankd re-indexes in the background.

    python bench/bench_reindex.py [--copies 2] [--repeats 3]

A face cache of ../shared/data/people and cast (94 photos) is made by photorankd running the
blazeface engine. photorankd then starts on a copy of that cache with the default engine, so every
one of those photos is stale: once with `[daemon] reindex_in_background = false`, once with it on.
In each, right after start, a cold ranking (the demo collection and --copies re-encoded copies of
each of its photos: photos the cache has never seen, analysed by the ranking) and then a warm one
(answered from memory) are timed end to end over gRPC; off and on alternate --repeats times (the
machine is shared). Printed: the median of each time, the ratio with the re-index on against off,
where the re-index stood when each cold ranking ended, and its rate once idle. Figures only, no
asserts (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

from PIL import Image

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "daemon"))
sys.path.insert(0, str(REPO / "tests"))
from daemon_process import Daemon  # noqa: E402

from photorank.demo import make_demo_collection  # noqa: E402
from photorank.v1 import photorank_pb2 as pb  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
STALE_FOLDERS = ("people", "cast")
QUALITIES = (95, 90, 85, 80, 75, 70, 65, 60)


def ranking_photos(folder: pathlib.Path, copies: int) -> tuple[pathlib.Path, str]:
    """(a folder of the demo photos and `copies` re-encoded copies of each, the reference)."""
    collection, reference = make_demo_collection(str(folder / "demo"))
    photos = pathlib.Path(collection)
    for path in sorted(photos.glob("*.jpg")):
        for quality in QUALITIES[:copies]:
            Image.open(path).save(photos / f"q{quality}_{path.name}", quality=quality)
    return photos, reference


def old_cache(folder: pathlib.Path) -> int:
    """The stale photos indexed under the blazeface engine into folder/faces.sqlite; their count."""
    daemon = Daemon(folder, "--engine", "blazeface")
    try:
        return sum(list(daemon.stub.Index(pb.IndexRequest(paths=[str(SHARED / name)])))[-1].report.photos for name in STALE_FOLDERS)
    finally:
        daemon.stop()


def timed_rank(daemon: Daemon, request: pb.RankRequest) -> float:
    began = time.perf_counter()
    events = list(daemon.stub.Rank(request))
    if not events[-1].HasField("report"):
        sys.exit("bench_reindex: the ranking gave no report")
    return time.perf_counter() - began


def run(folder: pathlib.Path, cache: pathlib.Path, request: pb.RankRequest, reindex: bool) -> dict:
    """One photorankd on a copy of the stale cache: its cold and warm ranking times, the re-index
    where the cold one ended, and the re-index's rate afterwards."""
    folder.mkdir()
    shutil.copy(cache, folder / "faces.sqlite")
    config = folder / "config.toml"
    config.write_text(f"[daemon]\nreindex_in_background = {str(reindex).lower()}\n")
    daemon = Daemon(folder, "--config", str(config))
    try:
        cold = timed_rank(daemon, request)
        during = daemon.status().reindex
        warm = timed_rank(daemon, request)
        began = time.perf_counter()
        while reindex and daemon.status().reindex.state != "done":
            time.sleep(0.1)
        after = daemon.status().reindex
        rate = (after.done - during.done) / (time.perf_counter() - began) if reindex else 0.0
        return {"cold": cold, "warm": warm, "during": during, "rate": rate}
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2, choices=range(len(QUALITIES) + 1), help="re-encoded copies of each demo photo")
    parser.add_argument("--repeats", type=int, default=3, help="runs without and with the re-index, alternating")
    args = parser.parse_args()
    for name in STALE_FOLDERS:
        if not (SHARED / name).is_dir():
            sys.exit(f"bench_reindex: {SHARED / name} not found (the shared data sits beside the checkout)")
    with tempfile.TemporaryDirectory() as temporary:
        root = pathlib.Path(temporary)
        (root / "old").mkdir()
        stale = old_cache(root / "old")
        photos, reference = ranking_photos(root, args.copies)
        request = pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(photos)])
        print(f"{stale} stale photos (analysed under the blazeface engine); ranking {len(list(photos.iterdir()))} new photos, cold then warm")
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for repeat in range(args.repeats):
            for reindex in (False, True):
                runs[reindex].append(run(root / f"{repeat}-{reindex}", root / "old" / "faces.sqlite", request, reindex))
    for kind in ("cold", "warm"):
        off, on = (statistics.median(each[kind] for each in runs[reindex]) for reindex in (False, True))
        print(f"{kind} ranking: {off:.3f} s without a re-index, {on:.3f} s during one (x{on / off:.2f}; medians of {args.repeats})")
    stood = ", ".join(f"{each['during'].state} {each['during'].done} of {each['during'].total}" for each in runs[True])
    print(f"the re-index when each cold ranking ended: {stood}")
    print(f"re-index rate once idle: {statistics.median(each['rate'] for each in runs[True]):.2f} photos/s")


if __name__ == "__main__":
    main()
