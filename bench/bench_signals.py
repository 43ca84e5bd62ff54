"""Time per face of the signals, eyes and pose from the mesh against the 68 points, in one run.

    python bench/bench_signals.py [--repeat N]

Faces: those dlib finds in the insightface wheel's `t1.jpg` and in ../shared/data/people (when
present). Models are loaded before timing. Printed: milliseconds per face for all signals with
each source of eyes and pose, their ratio, the mesh's own share (FaceMesh, its second pass when
the box was far, the two iris crops), and how yaw from the mesh compares with yaw from the 68
points on the same faces (correlation, slope, median difference).
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import cv2
import numpy as np

from photorank.config import settings_with
from photorank.demo import package_image
from photorank.faces import load_engine
from photorank.signals import measure_face, mesh

SHARED_PEOPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "people")


def faces_to_measure() -> list[tuple[np.ndarray, object]]:
    engine = load_engine("dlib")
    paths = [package_image("t1.jpg")] + sorted(glob.glob(os.path.join(SHARED_PEOPLE, "*.jpg")))
    found = []
    for path in paths:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        found += [(pixels, face) for face in engine.detect(pixels)]
    return found


def measuring(source: str):
    """The measuring settings with eyes and pose read from `source` ("mesh" or "landmarks68")."""
    return settings_with({"signals": {"eyes_and_pose": source}}).measuring


def time_per_face(faces, run, repeat: int) -> float:
    run(*faces[0])  # models loaded before timing
    start = time.perf_counter()
    for _ in range(repeat):
        for pixels, face in faces:
            run(pixels, face)
    return (time.perf_counter() - start) / (repeat * len(faces)) * 1000.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    faces = faces_to_measure()
    print(f"{len(faces)} faces")
    timings = {source: time_per_face(faces, lambda p, f, s=source: measure_face(p, f, measuring(s)), args.repeat)
               for source in ("landmarks68", "mesh")}
    mesh_only = time_per_face(faces, lambda p, f: mesh.locate(p, f.box, f.landmarks), args.repeat)
    for source, ms in timings.items():
        print(f"  all signals, eyes and pose from {source:<11}: {ms:6.1f} ms a face")
    print(f"  ratio mesh / 68 points: {timings['mesh'] / timings['landmarks68']:.2f}")
    print(f"  the mesh and both irises alone: {mesh_only:.1f} ms a face")
    yaws = np.array([(measure_face(p, f, measuring("mesh"))["yaw"], measure_face(p, f, measuring("landmarks68"))["yaw"])
                     for p, f in faces], dtype=np.float64)
    yaws = yaws[np.all(np.isfinite(yaws), axis=1)]
    slope = np.polyfit(yaws[:, 1], yaws[:, 0], 1)[0]
    print(f"  yaw, mesh against 68 points on {len(yaws)} faces: correlation {np.corrcoef(yaws.T)[0, 1]:.3f}, "
          f"slope {slope:.2f}, median |difference| {np.median(np.abs(yaws[:, 0] - yaws[:, 1])):.1f} deg")


if __name__ == "__main__":
    main()
