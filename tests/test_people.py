"""On ../shared/data/people every reference finds all photos of that person and no one else."""

from __future__ import annotations

import os
import re

import pytest

from oneshot import rank_collection
from photorank.api import RankRequest

DISTRACTORS = {"lin_manuel_miranda", "jeff_bezos", "marissa_mayer", "sundar_pichai"}


def identities(filename: str) -> set[str]:
    stem = os.path.splitext(filename)[0]
    if stem.startswith("group_"):
        return set()  # names in group files are checked through `people_in_group`
    return {re.sub(r"_\d.*$", "", stem)}


def people_in_group(filename: str, names: set[str]) -> set[str]:
    stem = os.path.splitext(filename)[0][len("group_"):]
    return {name for name in names if name in stem}


@pytest.fixture(scope="module")
def people(people_dir, people_cache):
    files = sorted(os.listdir(people_dir))
    names = set().union(*(identities(f) for f in files))
    truth = {f: identities(f) | (people_in_group(f, names) if f.startswith("group_") else set()) for f in files}
    return people_dir, files, names, truth, people_cache


def test_every_reference_finds_exactly_its_person(people):
    folder, files, names, truth, cache = people
    failures = []
    for name in sorted(names - DISTRACTORS):
        photos = sorted(f for f in files if name in truth[f])
        if len(photos) < 2:
            continue
        reference = os.path.join(folder, next(f for f in photos if not f.startswith("group_")))
        report = rank_collection(RankRequest(references=[reference], paths=[str(folder)]), cache_path=cache)
        found = {os.path.basename(r.path) for r in report.results}
        if found != set(photos):
            failures.append(f"{name}: missed {sorted(set(photos) - found)}, wrongly found {sorted(found - set(photos))}")
    assert not failures, "\n".join(failures)


def test_group_photos_are_groups_and_portraits_single(people):
    folder, files, names, truth, cache = people
    report = rank_collection(RankRequest(references=[os.path.join(folder, "obama_1.jpg")], paths=[str(folder)]), cache_path=cache)
    kinds = {os.path.basename(r.path): r.kind for r in report.results}
    assert kinds["group_obama_biden_1.jpg"] == "group"
    assert kinds["group_obama_biden_2.jpg"] == "group"
    assert kinds["obama_1.jpg"] == "single"
    assert kinds["obama_3.jpg"] == "single"
