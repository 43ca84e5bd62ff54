"""Speed of the identity decision on a large in-memory face index (photorank.identity).

    python bench/bench_identity.py                # 100 000 faces
    python bench/bench_identity.py --faces 300000

Synthetic embeddings with dlib's geometry (a shared direction: strangers ~0.80, one person's
photos ~0.95, 128-d, L2-normalised): `--faces` faces of 20-face identities, 3 faces a photo. It
times, in one process, on the same matrix:

- the per-record loop the ranking used before (a Python loop over photos and faces, one dot
  product per face and reference: the baseline);
- one matrix product and a threshold (the least any decision costs);
- photorank.identity.find_person (candidates, their neighbours, clustering), with the size of
  the part it clusters: linear in the collection, never all faces against all faces;
- the clustering alone on 1000 faces up to `[matching] max_faces`, the bound of its quadratic part.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "daemon"))
from photorank.config import default_settings  # noqa: E402
from photorank.identity import find_person, judge_members, nearest_rows, with_neighbours  # noqa: E402

THRESHOLD = 0.915
DIM = 128


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_index(faces: int, per_identity: int, per_photo: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(faces, photo_of_face, identity_of_face)."""
    rng = np.random.default_rng(seed)
    common = unit(rng.normal(size=DIM))
    identities = rng.normal(size=(faces // per_identity + 1, DIM))
    identities = unit(identities - (identities @ common)[:, None] * common)
    identity = np.repeat(np.arange(len(identities)), per_identity)[:faces]
    noise = rng.normal(size=(faces, DIM)) / np.sqrt(DIM)
    embeddings = unit(np.sqrt(0.80) * common + np.sqrt(0.15) * identities[identity] + np.sqrt(0.05) * noise)
    photo = rng.permutation(faces) // per_photo  # faces of one identity spread over photos
    return embeddings, photo, identity


def per_record_loop(references: np.ndarray, records: list[list[np.ndarray]], threshold: float) -> dict[int, tuple[int, float]]:
    """The ranking before: for each photo, each face's best similarity over the references."""
    found = {}
    for number, faces in enumerate(records):
        if not faces:
            continue
        similarities = [max(float(np.dot(face, reference)) for reference in references) for face in faces]
        best = int(np.argmax(similarities))
        if similarities[best] >= threshold:
            found[number] = (best, similarities[best])
    return found


def timed(function, repeats: int = 3):
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = default_settings().matching
    faces, photo, identity = synthetic_index(args.faces, 20, 3, args.seed)
    references = faces[identity == 0][:1]
    records: list[list[np.ndarray]] = [[] for _ in range(photo.max() + 1)]
    for row, number in enumerate(photo):
        records[number].append(faces[row])

    loop_time, loop = timed(lambda: per_record_loop(references, records, THRESHOLD), repeats=1)
    product_time, _ = timed(lambda: np.flatnonzero((faces @ references.T).max(axis=1) >= THRESHOLD))
    decision_time, matches = timed(lambda: find_person(references, faces, photo, settings, THRESHOLD))
    candidates = nearest_rows((faces @ references.T).max(axis=1), THRESHOLD - settings.candidate_margin, settings.max_candidates)
    members = with_neighbours(candidates, faces, photo, THRESHOLD, settings.neighbours, settings.max_faces)
    truth = set(photo[identity == 0].tolist())
    sure = {p for p, m in matches.items() if m.sure}
    print(f"{len(faces)} faces in {len(records)} photos, {len(faces) // 20} identities; the person in {len(truth)} photos")
    print(f"per-record loop (before)       : {loop_time * 1000:8.1f} ms   found {len(loop)} photos")
    print(f"one matrix product + threshold : {product_time * 1000:8.1f} ms")
    print(f"identity.find_person           : {decision_time * 1000:8.1f} ms   x{loop_time / decision_time:.1f} faster than the loop; "
          f"clustered {len(members)} faces ({len(candidates)} candidates); found {len(sure)} sure, "
          f"{len(matches) - len(sure)} unsure; right: {len(sure & truth)} of {len(truth)}")
    for count in (1000, settings.max_faces // 2, settings.max_faces):  # the worst case: a huge crowd near the person
        rows = faces[:count]
        seconds, _ = timed(lambda: judge_members(rows[:1], rows, settings, THRESHOLD), repeats=1)
        print(f"near copies and clustering, {count} faces near the person: {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
