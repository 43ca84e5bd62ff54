"""Speed of dlib's identity network: dlib itself against onnxruntime (faces/resnet_onnx.py).

    python bench/bench_embedding.py               # 5 rounds
    python bench/bench_embedding.py --rounds 20

Face chips come from the group photo shipped in the insightface wheel (6 faces), cut as the
engine cuts them. In one process, alternating the two runtimes round by round, it times the
descriptors of batches of 1 and of 8 chips (dlib's `compute_face_descriptor` on the list, which
it batches itself; onnxruntime on one thread, one run per batch) and prints ms per face and the
ratio, which is what counts on a shared machine. It also prints the largest disagreement
(1 - cosine) between the two on these faces.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "daemon"))
from photorank.faces.dlib_models import RESNET, model_path  # noqa: E402
from photorank.faces.resnet_onnx import agreement_with_dlib, check_chips, descriptors, ensure_converted, session  # noqa: E402


def ms_per_face(run, batches: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for batch in batches:
        run(batch)
    return 1000 * (time.perf_counter() - start) / sum(len(batch) for batch in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import dlib

    dat = model_path(RESNET)
    onnx_session = session(ensure_converted(dat))
    encoder = dlib.face_recognition_model_v1(dat)
    chips = check_chips()

    def with_dlib(batch: np.ndarray):
        return encoder.compute_face_descriptor(list(batch))

    def with_onnxruntime(batch: np.ndarray):
        return descriptors(onnx_session, batch)

    with_dlib(chips[:1]), with_onnxruntime(chips[:1])  # warm-up
    print(f"{len(chips)} faces, {args.rounds} rounds; ms per face (median of rounds)")
    print(f"{'batch':>5} {'dlib':>8} {'onnxruntime':>12} {'ratio':>7}")
    for size in (1, 8):
        batches = [np.resize(chips, (size, *chips.shape[1:])) for _ in range(max(1, 8 // size))]
        times = {"dlib": [], "onnxruntime": []}
        for _ in range(args.rounds):
            times["dlib"].append(ms_per_face(with_dlib, batches))
            times["onnxruntime"].append(ms_per_face(with_onnxruntime, batches))
        dlib_ms, onnx_ms = (float(np.median(times[name])) for name in ("dlib", "onnxruntime"))
        print(f"{size:>5} {dlib_ms:8.1f} {onnx_ms:12.1f} {dlib_ms / onnx_ms:6.1f}x")
    worst = float(np.min(agreement_with_dlib(onnx_session, dat, chips)))
    print(f"largest disagreement: 1 - cosine = {1 - worst:.2e}")


if __name__ == "__main__":
    main()
