"""Can one photo overturn who the person is, and does the reference chosen move a photo's stars?

    python bench/eval_stability.py                  # work files and face cache in /tmp/photorank_stability

Three figures over ../shared/data/people and ../shared/data/cast (tests/test_identity_stability.py
checks the same on fewer queries):

1. **One photo added** (identity.find_person). The collection is every photo of people/ and cast/
   but a pool: every fourth single-person photo, and photos made here with PIL from the
   collection's own photos: a contact sheet of thumbnails per part (the same people several times),
   and per person a mirrored collage (a photo beside its mirror image) and a photo holding them
   twice (two of their photos side by side). For each query (the first photo of each person of
   the collection) and each pool photo, the band (sure, unsure, absent) of every other photo of
   the collection with the pool photo added is compared with the band without it: unchanged,
   moved by one band, or worse (sure to absent, absent to sure).
2. **The reference chosen** (judge_records, tests/oneshot.py). For each person, each of their single-person
   photos serves in turn as the reference over the whole of people/ and cast/; each photo found
   with several references gets stars from each: the share of (photo, reference) cases with the
   photo's most common stars, and the score changes over 3 points that no reason explains (the
   two results' reasons are the same).
3. **A couple's collection with a contact sheet** (the maintainers' personal-collection check):
   recall of Kit Harington and Rose Leslie in their photos, the group photo and distractors, with
   and without a contact sheet of the collection's own photos as thumbnails.

Run it with another checkout's `daemon/` first on PYTHONPATH to measure that version.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))  # the measures
from eval_identity import DEFAULT_DATA  # noqa: E402
from stability_measures import (  # noqa: E402
    Moves,
    analyse,
    couple_recall,
    made_pool,
    one_photo_added,
    queries,
    reference_choice,
    shared_photos,
    split_pool,
)

from photorank.config import default_settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default=os.path.join("/tmp", "photorank_stability"), help="made photos and face cache")
    args = parser.parse_args()
    started = time.time()
    everything = default_settings()
    cache = os.path.join(args.work, "faces.sqlite")
    photos = shared_photos(args.data)
    collection, pool = split_pool(photos)
    pool += made_pool(collection, os.path.join(args.work, "made"))
    engine, records = analyse(photos + pool, cache)
    settings = everything.matching
    threshold = settings.threshold or engine.match_threshold
    query_photos = queries(collection)
    print(f"engine {engine.id}; threshold {threshold}; collection {len(collection)} photos; pool {len(pool)} photos; "
          f"{len(query_photos)} queries\n")

    print("## 1. one photo added: bands of the other photos (sure / unsure / absent)")
    print("| pool photos | compared | unchanged | moved one band | sure to absent | absent to sure |\n|---|---|---|---|---|---|")
    total = Moves()
    for kind, moves in sorted(one_photo_added(collection, pool, records, query_photos, settings, threshold).items()):
        print(f"| {kind} | {moves.compared} | {moves.unchanged} | {moves.one_band} | {moves.sure_to_absent} | {moves.absent_to_sure} |")
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(moves, name))
    print(f"| all | {total.compared} | {total.unchanged} | {total.one_band} | {total.sure_to_absent} | {total.absent_to_sure} |\n")

    print("## 2. each single photo of a person as the reference (people/ and cast/)")
    choice = reference_choice(photos, records, threshold, everything)
    print(f"same stars in {choice.same_stars} of {choice.cases} cases ({choice.share:.3f}); "
          f"score changes over 3 points: {choice.large_changes}, with no reason to tell them apart: {len(choice.unexplained)}")
    for case in choice.unexplained[:10]:
        print("   ", case)

    print("\n## 3. a couple's collection, recall of sure matches without / with a contact sheet of its photos")
    for person, (without, with_sheet) in couple_recall(args.data, os.path.join(args.work, "made"), cache, settings, threshold).items():
        print(f"{person}: {without:.2f} / {with_sheet:.2f}")
    print(f"\ndone in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
