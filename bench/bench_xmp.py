"""Time xmp_writer on darktable sidecars with 10, 1000 and 20000 history entries.

    python bench/bench_xmp.py [--repeat N]

Reports, per size, the median time of a first write (merge into the plain
darktable sidecar), a re-write with a changed rank, and an undo; each includes
reading, merging, the atomic replace with fsync, everything.
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

SIZES = (10, 1000, 20000)


def _time(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench(history: int, repeat: int) -> dict[str, float]:
    base = darktable_sidecar(history=history, rating=None)
    timings: dict[str, list[float]] = {"first write": [], "re-write": [], "undo": []}
    with tempfile.TemporaryDirectory() as folder:
        image = os.path.join(folder, "IMG_0001.jpg")
        sidecar = image + ".xmp"
        for _ in range(repeat):
            with open(sidecar, "wb") as f:
                f.write(base)
            timings["first write"].append(_time(lambda: xmp_writer.write_rating(image, make_rating(rank=7))))
            timings["re-write"].append(_time(lambda: xmp_writer.write_rating(image, make_rating(rank=3))))
            timings["undo"].append(_time(lambda: xmp_writer.undo(image)))
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'history':>8} {'size':>9} {'first write':>12} {'re-write':>10} {'undo':>8}")
    for history in SIZES:
        size = len(darktable_sidecar(history=history))
        result = bench(history, args.repeat)
        print(f"{history:>8} {size / 1024:>7.0f}kB"
              + "".join(f" {result[k] * 1000:>{w}.1f}ms" for k, w in
                        (("first write", 10), ("re-write", 8), ("undo", 6))))


if __name__ == "__main__":
    main()
