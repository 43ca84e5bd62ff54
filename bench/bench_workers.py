"""Worker start-up: how long a new process waits before its analysis workers analyse, and what
one worker loads.

    python bench/bench_workers.py [--engine NAME] [--runs N]

- start-up: in a new process each run (as `photorank index` runs), a Library analyses one small
  photo per worker; the time from making the Library to the last result, less the time the same
  workers, warm, take for as many other photos, is what starting them cost. The median of the runs.
- pieces: what a worker would load itself with nothing preloaded (imports, each model), timed one
  by one in a new process; `preloaded` says which of them the forkserver loads once for all
  workers (analysis.preload_for_workers).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image, ImageEnhance, ImageOps

PHOTO = "t1.jpg"  # a group photo shipped in the insightface wheel: every model of the pipeline runs on it


def variants(folder: str, count: int, first: int) -> list[str]:
    """`count` distinct photos (each a content of its own, so none is answered from the cache)."""
    from photorank.demo import package_image

    image = Image.open(package_image(PHOTO)).convert("RGB")
    paths = []
    for number in range(first, first + count):
        path = os.path.join(folder, f"{number:03d}.jpg")
        changed = ImageEnhance.Brightness(ImageOps.mirror(image) if number % 2 else image).enhance(1.0 - 0.02 * number)
        changed.save(path, quality=90)
        paths.append(path)
    return paths


def one_start(engine: str | None, workers: int) -> dict[str, float]:
    """In this (new) process: seconds to the first `workers` photos from a new Library, and for as many more once warm."""
    from photorank.library import Library

    folder = tempfile.mkdtemp()
    cold_photos, warm_photos = variants(folder, workers, 0), variants(folder, workers, workers)
    start = time.perf_counter()
    with Library(engine=engine, cache_path=os.path.join(folder, "faces.sqlite"), workers=workers) as library:
        library.analyze(cold_photos)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        library.analyze(warm_photos)
        warm = time.perf_counter() - start
    return {"cold": cold, "warm": warm}


def bench_start(engine: str | None, workers: int, runs: int) -> None:
    starts = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, __file__, "--one-start", "--workers", str(workers), *(["--engine", engine] if engine else [])],
                              check=True, capture_output=True, text=True)
        starts.append(json.loads(done.stdout.splitlines()[-1]))
    cold = statistics.median(run["cold"] for run in starts)
    warm = statistics.median(run["warm"] for run in starts)
    print(f"worker start-up ({engine or 'configured engine'}, {workers} workers, median of {runs} new processes):"
          f" first {workers} photos {cold:.2f} s, {workers} more once warm {warm:.2f} s: start-up {cold - warm:.2f} s")


def lap(pieces: dict[str, float], name: str, began: float) -> float:
    now = time.perf_counter()
    pieces[name] = now - began
    return now


def bench_pieces(engine: str | None) -> None:
    """Each piece a worker loads, in this process, in the order a worker meets them."""
    pieces: dict[str, float] = {}
    began = time.perf_counter()
    import numpy  # noqa: F401
    import cv2  # noqa: F401

    began = lap(pieces, "numpy, OpenCV", began)
    from photorank import analysis, signals  # noqa: F401
    from photorank.config import load_settings
    from photorank.faces import engine_name, engines

    settings = load_settings(None)
    choice = analysis.engine_choice(engine, settings)
    began = lap(pieces, "photorank's modules, settings", began)
    from photorank import library  # noqa: F401 - a worker imports it again when it re-runs the parent's main script

    began = lap(pieces, "the library (the main script's imports)", began)
    from ai_edge_litert import interpreter  # noqa: F401

    began = lap(pieces, "LiteRT (import)", began)
    from photorank.faces.dlib_models import landmark_predictor

    landmark_predictor()
    began = lap(pieces, "dlib 68-point predictor", began)
    from photorank.faces.dlib_engine import hog_detector

    hog_detector()
    began = lap(pieces, "dlib HOG detector", began)
    import onnxruntime  # noqa: F401

    began = lap(pieces, "onnxruntime (import)", began)
    built = choice.build()
    began = lap(pieces, "engine", began)
    from photorank.demo import package_image

    analysis.analyse(package_image(PHOTO), built, settings.measuring)  # the first photo loads the rest
    first = time.perf_counter() - began
    began = time.perf_counter()
    analysis.analyse(package_image(PHOTO), built, settings.measuring)
    pieces["first photo's own models (ResNet session, LiteRT interpreters, ...)"] = first - (time.perf_counter() - began)
    preloaded = {"numpy, OpenCV", "photorank's modules, settings", "the library (the main script's imports)", "LiteRT (import)"}
    if engines()[engine_name(built)].shared_models is not None:  # dlib's models, for the engines that read them
        preloaded |= {"dlib 68-point predictor", "dlib HOG detector"}
    print(f"one worker's pieces ({built.id}): " + "; ".join(
        f"{name} {1000 * seconds:.0f} ms{' (preloaded)' if name in preloaded else ''}" for name, seconds in pieces.items()))
    shared = sum(seconds for name, seconds in pieces.items() if name in preloaded)
    print(f"preloaded once in the forkserver: {1000 * shared:.0f} ms of {1000 * sum(pieces.values()):.0f} ms a worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", help="photorank's face engine (default: the configured one)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=3, help="new processes timed for the start-up")
    parser.add_argument("--one-start", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pieces", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_start:
        print(json.dumps(one_start(args.engine, args.workers)))
    elif args.pieces:
        bench_pieces(args.engine)
    else:
        print(f"machine: {os.cpu_count()} cores")
        bench_start(args.engine, args.workers, args.runs)
        # in a new process: nothing of it loaded yet
        subprocess.run([sys.executable, __file__, "--pieces", *(["--engine", args.engine] if args.engine else [])], check=True)


if __name__ == "__main__":
    main()
