"""One photo cannot overturn who the person is, and the reference chosen does not move stars.

On ../shared/data/people and cast/ (skipped when absent), with contact sheets, mirrored collages
and photos holding a person twice made here with PIL from the collection's own photos. The
figures over every query are printed by bench/eval_stability.py (docs/calibration.md).
"""

from __future__ import annotations

import pytest

import stability_measures as stability
from shared_data import shared_folder
from photorank.config import default_settings

pytestmark = pytest.mark.slow
QUERIES = {"obama", "kit_harington", "jennifer_aniston", "rose_leslie", "leonard", "penny", "sheldon"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory, people_cache):
    """(measures module, collection, pool, records, threshold, settings, cache, made-photo folder)."""
    data = shared_folder("people").parent
    shared_folder("cast")
    work = tmp_path_factory.mktemp("stability")
    photos = stability.shared_photos(str(data))
    collection, pool = stability.split_pool(photos)
    pool += stability.made_pool(collection, str(work / "made"))
    # the session's cache of the people photos: the other tests over them have analysed them already
    cache = people_cache
    engine, records = stability.analyse(photos + pool, cache)
    settings = default_settings()
    threshold = settings.matching.threshold or engine.match_threshold
    return stability, data, photos, collection, pool, records, threshold, settings, cache, str(work / "made")


def test_adding_one_photo_moves_no_other_photo_more_than_one_band(shared):
    stability, _, _, collection, pool, records, threshold, settings, _, _ = shared
    kinds = {name.split("/")[1].split("_")[0] for name in (photo.name for photo in pool) if name.startswith("made/")}
    assert kinds == {"sheet", "mirrored", "twice"}
    queries = stability.queries(collection, QUERIES)
    assert len(queries) == len(QUERIES)
    moves = stability.one_photo_added(collection, pool, records, queries, settings.matching, threshold)
    for kind, counted in sorted(moves.items()):
        print(f"{kind}: {counted}")
    assert all(counted.compared for counted in moves.values())
    assert sum(counted.sure_to_absent for counted in moves.values()) == 0
    assert sum(counted.absent_to_sure for counted in moves.values()) == 0


def test_a_made_photo_holding_the_person_is_a_photo_of_them(shared):
    """The contact sheets, mirrored collages and side-by-side photos are found for the person
    they hold (a collage or mirror holds them twice)."""
    stability, _, _, collection, pool, records, threshold, settings, _, _ = shared
    base = [records[photo.path] for photo in collection]
    missed = []
    for query in stability.queries(collection, QUERIES):
        person = next(iter(query.people))
        reference = stability.largest(records[query.path].faces).embedding
        for made in (photo for photo in pool if photo.name.startswith("made/") and person in photo.people):
            band = stability.bands(reference, base + [records[made.path]], settings.matching, threshold)[-1]
            if band == stability.BANDS["absent"]:
                missed.append((person, made.name, band))
    assert not missed


def test_any_photo_of_the_person_as_the_reference_gives_the_same_stars(shared):
    stability, _, photos, _, _, records, threshold, settings, _, _ = shared
    choice = stability.reference_choice(photos, records, threshold, settings)
    print(f"same stars in {choice.same_stars} of {choice.cases} cases ({choice.share:.3f}); "
          f"changes over 3 points {choice.large_changes}, unexplained {choice.unexplained}")
    assert choice.cases > 200
    assert choice.share >= 0.95
    assert choice.unexplained == []


def test_a_contact_sheet_does_not_hide_the_couple(shared):
    """The maintainers' personal-collection check: recall with a contact sheet of the
    collection's own photos added equals recall without it."""
    stability, data, _, _, _, _, threshold, settings, cache, made = shared
    recall = stability.couple_recall(str(data), made, cache, settings.matching, threshold)
    assert set(recall) == {"kit_harington", "rose_leslie"}
    for person, (without, with_sheet) in recall.items():
        assert without >= 0.75, person
        assert with_sheet == without, person
