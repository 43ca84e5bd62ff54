"""Time xmp_writer on darktable sidecars with 10, 1000 and 20000 history entries.

    python bench/bench_xmp.py [--repeat N] [--profile]

Reports, per size, the median time of a first write (merge into the plain
darktable sidecar), a re-write with a changed rank, and an undo; each includes
reading, merging, the atomic replace with fsync, everything.  Wall-clock
times; the CPU time of the process is shown too, since a busy machine
inflates the wall-clock figures.

--profile also splits a first write into its parts: reading the file, lxml
parsing, merging (including freeing the tree), serialising, and the atomic
replace (temp file, fsync, rename, folder fsync).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "xmp"))
from xmp_helpers import darktable_sidecar, make_rating  # noqa: E402

import xmp_writer  # noqa: E402
from xmp_writer import atomic, merge, rdf  # noqa: E402

SIZES = (10, 1000, 20000)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _time(action, clock: str = "wall") -> float:
    now = CLOCKS[clock]
    start = now()
    action()
    return now() - start


def bench(history: int, repeat: int, clock: str = "wall") -> dict[str, float]:
    base = darktable_sidecar(history=history, rating=None)
    timings: dict[str, list[float]] = {"first write": [], "re-write": [], "undo": []}
    with tempfile.TemporaryDirectory() as folder:
        image = os.path.join(folder, "IMG_0001.jpg")
        sidecar = image + ".xmp"
        for _ in range(repeat):
            with open(sidecar, "wb") as f:
                f.write(base)
            timings["first write"].append(
                _time(lambda: xmp_writer.write_rating(image, make_rating(rank=7)), clock))
            timings["re-write"].append(
                _time(lambda: xmp_writer.write_rating(image, make_rating(rank=3)), clock))
            timings["undo"].append(_time(lambda: xmp_writer.undo(image), clock))
    return {name: statistics.median(values) for name, values in timings.items()}


def naive_rating_write(sidecar: str) -> None:
    """The simple baseline: the standard library parses the sidecar, sets xmp:Rating and writes it
    back in place (no merge rules, no keywords, no temp file, no fsync)."""
    import xml.etree.ElementTree as ElementTree

    tree = ElementTree.parse(sidecar)
    for description in tree.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        description.set("{http://ns.adobe.com/xap/1.0/}Rating", "4")
        break
    tree.write(sidecar, encoding="utf-8")


def bench_baseline(history: int, repeat: int) -> float:
    base = darktable_sidecar(history=history, rating=None)
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        sidecar = os.path.join(folder, "IMG_0001.jpg.xmp")
        for _ in range(repeat):
            with open(sidecar, "wb") as f:
                f.write(base)
            timings.append(_time(lambda: naive_rating_write(sidecar)))
    return statistics.median(timings)


def _timed(func, spent: list[float]):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)
    return wrapper


def profile(history: int, repeat: int) -> dict[str, float]:
    """Median wall-clock time of each part of a first write (measured inside one write)."""
    base = darktable_sidecar(history=history, rating=None)
    parts: dict[str, list[float]] = {k: [] for k in ("read", "parse", "merge", "serialise", "replace+fsync")}
    real_init, real_serialize = rdf.Document.__init__, rdf.Document.serialize
    with tempfile.TemporaryDirectory() as folder:
        sidecar = os.path.join(folder, "IMG_0001.jpg.xmp")
        for _ in range(repeat):
            with open(sidecar, "wb") as f:
                f.write(base)
            snap: list = []
            parts["read"].append(_time(lambda: snap.append(atomic.read(sidecar))))
            parse: list[float] = []
            serialise: list[float] = []
            out: list = []
            rdf.Document.__init__ = _timed(real_init, parse)
            rdf.Document.serialize = _timed(real_serialize, serialise)
            try:
                whole = _time(lambda: out.append(
                    merge.apply(snap[0].data, [make_rating()], overwrite_ratings=False)))
            finally:
                rdf.Document.__init__, rdf.Document.serialize = real_init, real_serialize
            parts["parse"].append(sum(parse))
            parts["serialise"].append(sum(serialise))
            parts["merge"].append(whole - sum(parse) - sum(serialise))
            parts["replace+fsync"].append(_time(lambda: atomic.replace(sidecar, out[0][0], snap[0])))
    return {name: statistics.median(values) for name, values in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="also split a first write into its parts")
    args = parser.parse_args()
    print(f"{'history':>8} {'size':>9} {'clock':>5} {'first write':>12} {'re-write':>10} {'undo':>8}"
          f" {'baseline':>10} {'ratio':>6}")
    for history in SIZES:
        size = len(darktable_sidecar(history=history))
        baseline = bench_baseline(history, args.repeat)
        for clock in CLOCKS:
            result = bench(history, args.repeat, clock)
            ratio = f" {baseline * 1000:>8.1f}ms {result['first write'] / baseline:>5.1f}x" if clock == "wall" else ""
            print(f"{history:>8} {size / 1024:>7.0f}kB {clock:>5}"
                  + "".join(f" {result[k] * 1000:>{w}.1f}ms" for k, w in
                            (("first write", 10), ("re-write", 8), ("undo", 6))) + ratio)
    print("baseline: the standard library sets xmp:Rating in place (no merge, no atomic write);"
          " ratio = our first write / baseline")
    if args.profile:
        print()
        for history in SIZES:
            parts = profile(history, args.repeat)
            total = sum(parts.values())
            print(f"{history:>8} first write, parts: " + ", ".join(
                f"{k} {v * 1000:.1f}ms ({100 * v / total:.0f}%)" for k, v in parts.items()))


if __name__ == "__main__":
    main()
