"""Face detection: the BlazeFace engine against dlib's HOG (the dlib engine), on ../shared/data.

    python bench/bench_detection.py

1. Every photo of ../shared/data/people and cast: the faces HOG finds, whether BlazeFace finds
   each of them (all HOG faces >= 40 px must be found), and BlazeFace's detections HOG does not
   have (listed, to be looked at: real faces HOG misses, or false detections), with both times.
   BlazeFace's boxes are the engine's: its doubtful ones only where HOG confirms them.
2. Occlusion: copies of the people photos with sunglasses and with a mask drawn from each face's
   68 landmarks. Recall of each detector (the face found again) and of identity (found and
   matching the unoccluded face at the engine's threshold), before (HOG) and after (BlazeFace).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))  # the shared measurements
from detector_comparison import MIN_FACE_PX, Comparison, compare_all, occlusion_recall, shared_photos  # noqa: E402
from shared_data import SHARED_DATA  # noqa: E402


def print_comparison(rows: list[Comparison]) -> None:
    print(f"{'photo':32} {'HOG':>4} {'BlazeFace':>9}  HOG faces >= {MIN_FACE_PX} px missed | BlazeFace only (score)")
    for row in rows:
        if row.missed or row.extra or len(row.hog_boxes) > 1:
            print(f"{os.path.basename(row.path):32} {len(row.hog_boxes):4} {len(row.blazeface_boxes):9}  "
                  f"{row.missed or '-'} | {row.extra or '-'}")
    hog_faces = sum(len(r.hog_boxes) for r in rows)
    print(f"all: HOG {hog_faces} faces, BlazeFace {sum(len(r.blazeface_boxes) for r in rows)}; "
          f"missed {sum(len(r.missed) for r in rows)}; BlazeFace only {sum(len(r.extra) for r in rows)}")


def print_occlusion(recall: dict[str, dict[str, tuple[int, int, int]]]) -> None:
    print(f"{'occlusion':12} {'engine':12} {'faces':>5} {'found':>7} {'identified':>10}")
    for occlusion, by_engine in recall.items():
        for name, (faces, found, identified) in by_engine.items():
            print(f"{occlusion:12} {name:12} {faces:5} {found / faces:7.0%} {identified / faces:10.0%}")


def main() -> None:
    paths = shared_photos("people", "cast")
    if not paths:
        sys.exit(f"bench_detection: no photos in {SHARED_DATA}")
    rows, hog_time, blazeface_time = compare_all(paths)
    print(f"detection on {len(paths)} photos: HOG {1000 * hog_time / len(paths):.0f} ms a photo, BlazeFace "
          f"{1000 * blazeface_time / len(paths):.0f} ms a photo (x{hog_time / blazeface_time:.1f})")
    print_comparison(rows)
    singles = [p for p in shared_photos("people") if not os.path.basename(p).startswith("group_")]
    print_occlusion(occlusion_recall(singles))


if __name__ == "__main__":
    main()
