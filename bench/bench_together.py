"""A set of 2-4 people ranked together against 2-4 single rankings, in one process.

    python bench/bench_together.py                 # 100 000 synthetic faces, then ../shared/data/people
    python bench/bench_together.py --faces 300000

Two figures, each a ratio against the single rankings timed in the same run:
- the identity decision: identity.find_people for k people (one matrix product of every face
  against all their references) against k calls of identity.find_person, on bench_identity's
  synthetic index;
- the whole warm ranking through the Library (sync with the cache, identity, judging, ordering):
  a PeopleRequest for k people of ../shared/data/people (`any`, so every photo of any of them is
  judged) against k single-person RankRequests over the same folder, the folder analysed first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "daemon"))
from bench_identity import THRESHOLD, synthetic_index, timed  # noqa: E402
from photorank.config import default_settings  # noqa: E402
from photorank.identity import find_people, find_person  # noqa: E402
from photorank.library import Library  # noqa: E402
from photorank.api import PeopleRequest, Person, RankRequest  # noqa: E402

PEOPLE = ["obama", "biden", "kit_harington", "rose_leslie"]
SHARED_PEOPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "people")


def identity_figures(faces: int, seed: int) -> None:
    settings = default_settings().matching
    embeddings, photo, identity = synthetic_index(faces, 20, 3, seed)
    references = [embeddings[np.flatnonzero(identity == person)[:2]] for person in range(4)]
    print(f"identity decision on {faces} faces (best of 3):")
    for count in (2, 3, 4):
        chosen = references[:count]
        together, _ = timed(lambda: find_people(chosen, embeddings, photo, settings, THRESHOLD))
        alone, _ = timed(lambda: [find_person(person, embeddings, photo, settings, THRESHOLD) for person in chosen])
        print(f"  {count} people: find_people {together * 1000:.0f} ms, {count} x find_person {alone * 1000:.0f} ms "
              f"(x{alone / together:.2f})")


def library_figures(folder: str) -> None:
    people = [Person(name, [os.path.join(folder, f"{name}_1.jpg")]) for name in PEOPLE]
    with tempfile.TemporaryDirectory() as temp, Library(cache_path=os.path.join(temp, "faces.sqlite")) as library:
        library.index([folder])
        print(f"warm ranking of {folder} through the Library (best of 5):")
        for count in (2, 3, 4):
            chosen = people[:count]
            together, _ = timed(lambda: library.rank(PeopleRequest(chosen, [folder], "any")), 5)
            alone, _ = timed(lambda: [library.rank(RankRequest(person.references, [folder])) for person in chosen], 5)
            print(f"  {count} people: one set ranking {together * 1000:.0f} ms, {count} single rankings "
                  f"{alone * 1000:.0f} ms (x{alone / together:.2f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    identity_figures(args.faces, args.seed)
    if os.path.isdir(SHARED_PEOPLE):
        library_figures(os.path.abspath(SHARED_PEOPLE))
    else:
        print(f"{SHARED_PEOPLE} not found: the Library figure needs ../shared/data/people")
    return 0


if __name__ == "__main__":
    sys.exit(main())
