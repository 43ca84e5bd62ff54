"""The decision "which face in each photo is the person, and is that sure" (photorank.identity).

Synthetic embeddings with dlib's geometry: everyone shares a large common direction, so strangers
score about 0.80, one person's photos about 0.95, and a lookalike about 0.925 against the person:
above the same-person threshold (0.915), where one cut on the similarity cannot tell them apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from photorank.config import default_settings
from photorank.settings import MatchingSettings
from photorank.identity import average_linkage, clusters_at, find_person, near_copy_pieces, with_neighbours

THRESHOLD = 0.915
DIM = 128


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector, axis=-1, keepdims=True)).astype(np.float32)


class People:
    """Identities and their photos: common + identity + per-photo noise components."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.common = unit(self.rng.normal(size=DIM))

    def identity(self, like: np.ndarray | None = None, closeness: float = 0.0) -> np.ndarray:
        """A new identity direction; `closeness` is its cosine with `like` (a lookalike)."""
        own = self._orthogonal(self.rng.normal(size=DIM), [self.common] + ([like] if like is not None else []))
        return unit(closeness * like + np.sqrt(1 - closeness**2) * own) if like is not None else own

    def photos(self, identity: np.ndarray, count: int) -> np.ndarray:
        noise = self.rng.normal(size=(count, DIM)) / np.sqrt(DIM)
        return unit(np.sqrt(0.80) * self.common + np.sqrt(0.15) * identity + np.sqrt(0.05) * noise)

    def _orthogonal(self, vector: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
        for other in others:
            vector = vector - (vector @ other) * other
        return unit(vector)


@pytest.fixture
def settings() -> MatchingSettings:
    return default_settings().matching


def collection(*groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One photo per face: (faces, photo_of_face)."""
    faces = np.vstack(groups)
    return faces, np.arange(len(faces))


def found(matches: dict, photos: range | list[int]) -> set[int]:
    return {photo for photo in matches if photo in photos}


def lookalike_collection(seed: int, closeness: float):
    """The person's reference and 6 photos, 6 photos of a lookalike, 80 strangers; one face each."""
    people = People(seed)
    person = people.identity()
    lookalike = people.identity(like=person, closeness=closeness)
    reference = people.photos(person, 1)
    theirs = people.photos(lookalike, 6)
    strangers = np.vstack([people.photos(people.identity(), 2) for _ in range(40)])
    faces, photos = collection(people.photos(person, 6), theirs, strangers)
    return reference, faces, photos, (theirs @ reference.T).ravel()


def test_a_lookalikes_photos_are_told_apart_from_the_persons(settings):
    """Their photos score around the threshold against the reference (two of them above it),
    and resemble each other more than the person: not the person."""
    reference, faces, photos, to_reference = lookalike_collection(0, closeness=0.75)
    assert (to_reference >= THRESHOLD).sum() >= 2, "the lookalike must beat the threshold for this test to mean anything"

    matches = find_person(reference, faces, photos, settings, THRESHOLD)

    assert set(matches) == set(range(6)), f"found {sorted(matches)}"
    assert all(match.sure for match in matches.values())


def test_a_lookalike_as_close_as_the_persons_own_photos_is_never_sure(settings):
    """All six score above the threshold, as the person's photos in other light or years would:
    the collection cannot tell, so they are unsure (reported apart), and the person's are sure."""
    reference, faces, photos, to_reference = lookalike_collection(0, closeness=0.83)
    assert (to_reference >= THRESHOLD).sum() >= 5

    matches = find_person(reference, faces, photos, settings, THRESHOLD)

    assert {photo for photo, match in matches.items() if match.sure} == set(range(6))
    assert not any(match.sure for photo, match in matches.items() if photo >= 6)


def test_a_degraded_copy_joins_through_the_persons_confident_photos(settings):
    """A blurred copy of one frame of a burst scores below the threshold against the reference,
    but the burst's frames are confident matches: through them it is surely the person."""
    people = People(1)
    person = people.identity()
    reference = people.photos(person, 1)[0]
    own = people.photos(person, 5)
    burst = unit(own[2] + 0.08 * people.rng.normal(size=(2, DIM)) / np.sqrt(DIM))  # two more frames
    away = unit(-reference - (-reference @ own[2]) * own[2])  # turned away from the reference
    copy = unit(np.cos(0.14) * own[2] + np.sin(0.14) * away)
    assert copy @ reference < THRESHOLD - 0.005 and copy @ own[2] > 0.98
    strangers = np.vstack([people.photos(people.identity(), 2) for _ in range(30)])
    faces, photos = collection(own, burst, copy[None], strangers)

    matches = find_person(reference[None], faces, photos, settings, THRESHOLD)

    assert set(matches) == set(range(8)) and all(match.sure for match in matches.values())
    assert matches[7].similarity == pytest.approx(float(copy @ reference), abs=1e-5)
    alone = find_person(reference[None], *collection(copy[None], strangers), settings, THRESHOLD)
    assert 0 not in alone, "without the person's photos the copy has nothing to join through"


def test_a_lone_face_only_the_reference_accepts_is_unsure(settings):
    people = People(2)
    person = people.identity()
    reference = people.photos(person, 1)
    own = people.photos(person, 6)
    lookalike = people.identity(like=person, closeness=0.83)
    candidates = people.photos(lookalike, 40)
    lone = candidates[np.argmin(np.abs(candidates @ reference[0] - 0.925))][None]  # one photo of them
    assert THRESHOLD <= (lone @ reference.T).item() < 0.93
    faces, photos = collection(own, lone)

    matches = find_person(reference, faces, photos, settings, THRESHOLD)

    assert all(matches[photo].sure for photo in range(6))
    assert 6 in matches and not matches[6].sure


def test_in_a_group_photo_the_persons_face_is_chosen_over_a_lookalikes(settings):
    """Two faces of one photo are clustered like any others (a collage or a mirror holds the
    person twice): the group photo does not keep the lookalike apart, but the person's own face
    is the one chosen, and the lookalike's photos, as close as the person's, are never sure."""
    people = People(3)
    person = people.identity()
    lookalike = people.identity(like=person, closeness=0.83)
    reference = people.photos(person, 1)
    own, theirs = people.photos(person, 5), people.photos(lookalike, 5)
    group = np.vstack([people.photos(lookalike, 1), people.photos(person, 1)])
    faces = np.vstack([own, theirs, group])
    photos = np.concatenate([np.arange(10), [10, 10]])

    matches = find_person(reference, faces, photos, settings, THRESHOLD)

    assert matches[10].face == 11 and matches[10].sure
    assert not any(matches[photo].sure for photo in found(matches, range(5, 10)))


def test_two_references_find_what_one_finds_and_more(settings):
    people = People(4)
    person = people.identity()
    references = people.photos(person, 2)
    own = people.photos(person, 8)
    strangers = np.vstack([people.photos(people.identity(), 3) for _ in range(30)])
    faces, photos = collection(own, strangers)

    one = find_person(references[:1], faces, photos, settings, THRESHOLD)
    two = find_person(references, faces, photos, settings, THRESHOLD)

    assert set(one) <= set(two) == set(range(8))


def test_nobody_near_the_reference_means_no_match(settings):
    people = People(5)
    reference = people.photos(people.identity(), 1)
    faces, photos = collection(*[people.photos(people.identity(), 2) for _ in range(20)])
    assert find_person(reference, faces, photos, settings, THRESHOLD) == {}
    assert find_person(reference, np.zeros((0, DIM), np.float32), np.zeros(0, int), settings, THRESHOLD) == {}


def test_the_clustered_faces_are_bounded_whatever_the_collection_size():
    people = People(6)
    faces = np.vstack([people.photos(people.identity(), 5) for _ in range(400)])
    photos = np.arange(len(faces))
    candidates = np.arange(50)
    members = with_neighbours(candidates, faces, photos, THRESHOLD, neighbours=10, limit=300)
    assert len(members) <= 300 and list(members[:50]) == list(candidates)
    assert len(set(members.tolist())) == len(members)
    assert set((members[50:] // 5).tolist()) <= set(range(10)), "neighbours are the candidates' own people's photos"


def bands(matches: dict, photos: int) -> list[str]:
    return [("sure" if matches[p].sure else "unsure") if p in matches else "absent" for p in range(photos)]


def near_copy(faces: np.ndarray, rng: np.random.Generator, similarity: float = 0.985) -> np.ndarray:
    """Thumbnails of `faces`: each as similar to its original as a 200 px thumbnail is (0.974-0.999)."""
    noise = rng.normal(size=faces.shape)
    noise -= (noise * faces).sum(axis=1, keepdims=True) * faces
    return unit(similarity * faces + np.sqrt(1 - similarity**2) * unit(noise))


def couple(seed: int):
    """Two people photographed together and apart, 10 photos each (2 of them together), strangers."""
    people = People(seed)
    one, two = people.identity(), people.identity()
    references = np.vstack([people.photos(one, 1), people.photos(two, 1)])
    apart = [people.photos(one, 8), people.photos(two, 8)]
    together = np.vstack([np.vstack(pair) for pair in zip(people.photos(one, 2), people.photos(two, 2))])
    strangers = np.vstack([people.photos(people.identity(), 2) for _ in range(30)])
    faces = np.vstack([*apart, together, strangers])
    photos = np.concatenate([np.arange(16), [16, 16, 17, 17], 18 + np.arange(len(strangers))])
    return people, one, references, faces, photos


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_contact_sheet_of_the_collections_photos_changes_no_band(settings, seed):
    """The issue's case: a page of thumbnails of the couple's photos (15 faces, each of them
    several times) is a photo of both, and every other photo keeps its band."""
    people, _, references, faces, photos = couple(seed)
    chosen = people.rng.choice(20, size=15)  # with repeats: some photos twice on the page
    sheet = near_copy(faces[chosen], people.rng)
    count = photos.max() + 1
    with_sheet = (np.vstack([faces, sheet]), np.concatenate([photos, np.full(len(sheet), count)]))
    for reference in references:
        before = bands(find_person(reference[None], faces, photos, settings, THRESHOLD), count)
        after = find_person(reference[None], *with_sheet, settings, THRESHOLD)
        assert bands(after, count) == before
        assert after[count].sure, "the contact sheet holds the person"
    assert bands(find_person(references[:1], faces, photos, settings, THRESHOLD), 18) == ["sure"] * 8 + ["absent"] * 8 + ["sure"] * 2


def test_a_photo_holding_the_person_twice_is_a_photo_of_them(settings):
    """A collage of two of their photos, and a mirror (a near copy in the same photo)."""
    people, person, references, faces, photos = couple(3)
    count = photos.max() + 1
    before = bands(find_person(references[:1], faces, photos, settings, THRESHOLD), count)
    collage = people.photos(person, 2)
    mirror = np.vstack([faces[3], near_copy(faces[3:4], people.rng, 0.99)[0]])
    for twice in (collage, mirror):
        after = find_person(references[:1], np.vstack([faces, twice]), np.concatenate([photos, [count, count]]), settings, THRESHOLD)
        assert bands(after, count) == before
        assert after[count].sure


def test_near_copies_are_one_piece_of_evidence():
    people = People(7)
    faces = people.photos(people.identity(), 3)
    rows = np.vstack([faces, near_copy(faces[:1], people.rng, 0.99), near_copy(faces[:1], people.rng, 0.985)])
    piece, pieces = near_copy_pieces(rows, 0.97)
    assert piece[3] == piece[4] == piece[0] and len(set(piece[:3].tolist())) == 3
    assert len(pieces) == 3 and np.allclose(np.linalg.norm(pieces, axis=1), 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_clustering_is_average_linkage(seed):
    """The same clusters as scipy's average linkage, on faces of six people."""
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy")
    people = People(seed)
    identities = [people.identity() for _ in range(6)]
    faces = np.vstack([people.photos(identities[i % 6], 1) for i in range(60)])
    similarity = np.clip(faces @ faces.T, -1.0, 1.0).astype(np.float64)
    merges = average_linkage(similarity)
    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    tree = hierarchy.linkage(distance[np.triu_indices(60, k=1)], method="average")
    for cut in (0.85, 0.915, 0.93):
        ours = clusters_at(merges, 60, cut)
        theirs = hierarchy.fcluster(tree, t=1.0 - cut, criterion="distance")
        assert same_partition(ours, theirs), f"cut {cut}"
    assert len(set(clusters_at(merges, 60, 0.915).tolist())) >= 6


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))
