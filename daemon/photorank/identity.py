"""Which face, if any, in each photo is the person, and is that sure: decided from the collection.

    matches = find_person(references, faces, photo_of_face, settings.matching, threshold)
    # {photo: Match(face=row, similarity=0.95, sure=True)}

One cut on the similarity to the reference cannot tell a person from someone who looks like them
(docs/calibration.md, "Lookalikes": a lookalike actor scores 0.916-0.934 against a reference, as
high as the person's own photos in other light). The collection can: the lookalike's photos
resemble each other more than they resemble the person. So the faces near the references are
clustered with their own nearest faces (average linkage), and the tree is cut twice: at the
engine's same-person threshold (the person, or someone who looks like them) and a little higher
(the person's core). The core is sure, the rest of the person's cluster unsure, and a face that
resembles another group more is not the person. A degraded copy joins through its original and
the person's confident photos (query expansion through the cluster).

One photo cannot overturn the decision: near copies of one face (thumbnails on a contact sheet,
reposts, screenshots, mirror images) are one piece of evidence, two faces of one photo are
clustered like any others (a collage or a mirror holds the person twice), and a face is someone
else's only when an identity of at least two other pieces is closer to it.

Everything here is plain numpy over an embedding matrix (rows = faces of the collection, any
order), so an in-memory face index feeds it directly. The work is one matrix product of the
candidates (faces near a reference) against all faces, then clustering of the candidates and
their neighbours only: linear in the collection, never all faces against all faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import MatchingSettings

CHUNK_ROWS = 512  # candidate rows per matrix product: bounds memory on large collections


@dataclass(frozen=True)
class Match:
    face: int  # row in `faces`
    similarity: float  # cosine similarity to the closest reference
    sure: bool  # False: as similar as the threshold asks, but the collection does not confirm it is the person


def find_person(
    references: np.ndarray, faces: np.ndarray, photo_of_face: np.ndarray, settings: MatchingSettings, threshold: float
) -> dict[int, Match]:
    """photo -> the person's face in it, for every photo they are (surely or unsurely) in.

    references: (R, d) L2-normalised embeddings of the person; faces: (N, d) L2-normalised
    embeddings of every face of the collection; photo_of_face: (N,) the photo id of each face;
    settings: the [matching] section; threshold: the engine's same-person cosine similarity.
    """
    return find_people([references], faces, photo_of_face, settings, threshold)[0]


def find_people(
    reference_sets: list[np.ndarray], faces: np.ndarray, photo_of_face: np.ndarray, settings: MatchingSettings, threshold: float
) -> list[dict[int, Match]]:
    """find_person for several people at once: one matrix product of every face against all their
    references, then each person's decision on their own columns (a set of people costs one pass
    over the faces, not one per person)."""
    reference_sets = [np.atleast_2d(np.asarray(references, np.float32)) for references in reference_sets]
    faces = np.asarray(faces, np.float32)
    photo_of_face = np.asarray(photo_of_face)
    if not len(faces):
        return [{} for _ in reference_sets]
    similarity = faces @ np.vstack(reference_sets).T
    ends = np.cumsum([len(references) for references in reference_sets])
    return [
        decide_person(references, faces, photo_of_face, similarity[:, end - len(references) : end].max(axis=1), settings, threshold)
        for references, end in zip(reference_sets, ends)
    ]


def decide_person(
    references: np.ndarray, faces: np.ndarray, photo_of_face: np.ndarray, to_reference: np.ndarray, settings: MatchingSettings,
    threshold: float,
) -> dict[int, Match]:
    """find_person's decision, given each face's similarity to the closest reference."""
    candidates = nearest_rows(to_reference, threshold - settings.candidate_margin, settings.max_candidates)
    if not len(candidates):
        return {}
    members = with_neighbours(candidates, faces, photo_of_face, threshold, settings.neighbours, settings.max_faces)
    verdicts = judge_members(references, faces[members], settings, threshold)
    return best_per_photo(members, photo_of_face[members], to_reference[members], verdicts)


def nearest_rows(scores: np.ndarray, floor: float, limit: int) -> np.ndarray:
    """Rows scoring at least `floor`, the `limit` highest of them, highest first."""
    rows = np.flatnonzero(scores >= floor)
    return rows[np.argsort(-scores[rows], kind="stable")][:limit]


def with_neighbours(
    candidates: np.ndarray, faces: np.ndarray, photo_of_face: np.ndarray, threshold: float, neighbours: int, limit: int
) -> np.ndarray:
    """The candidates, then each one's `neighbours` nearest faces of other photos at or above the
    same-person `threshold` (they show which identity a candidate belongs to), up to `limit` rows."""
    found: list[np.ndarray] = [candidates]
    if neighbours:
        for start in range(0, len(candidates), CHUNK_ROWS):
            rows = candidates[start : start + CHUNK_ROWS]
            similarity = faces[rows] @ faces.T
            similarity[photo_of_face[rows][:, None] == photo_of_face[None, :]] = -1.0  # self and same photo
            # Few faces pass the threshold: rank those alone, not every row of the collection.
            row, column = np.nonzero(similarity >= threshold)
            order = np.lexsort((-similarity[row, column], row))  # by candidate, nearest first
            row, column = row[order], column[order]
            place_in_row = np.arange(len(row)) - np.searchsorted(row, row)
            found.append(column[place_in_row < neighbours])
    members = np.concatenate(found)
    _, first = np.unique(members, return_index=True)
    return members[np.sort(first)][:limit]  # candidates first, best first


@dataclass(frozen=True)
class Verdicts:
    """Per member face: is it the person, surely or unsurely (neither: it is not)."""

    sure: np.ndarray  # bool: in the person's cluster and clearly closer to it than to any other
    unsure: np.ndarray  # bool: as close to the person as the threshold, the collection does not confirm it


def judge_members(references: np.ndarray, embeddings: np.ndarray, settings: MatchingSettings, threshold: float) -> Verdicts:
    """Cluster the references with the member faces (average linkage) and cut the tree twice.

    Near copies (a thumbnail on a contact sheet, a repost, a screenshot, a burst frame) are first
    collapsed into one piece of evidence, so that a photo made of copies of faces that are
    elsewhere cannot outweigh the photos themselves. Two faces of one photo are clustered like
    any others: a collage or a mirror holds the person twice, and is a photo of them.

    At the threshold, a group of pieces joins the references when it is on average as similar to
    them as one person's faces are: that is the person, or someone who looks like them (a
    lookalike scores as high as the person's own photos in other light or years: the similarity
    alone cannot tell them apart). `cluster_margin` higher, the person's core remains: its faces
    are sure when they are closer to the person than to any other cluster by `sure_margin`; the
    rest of the person's cluster is unsure. So is a face outside it whose mean similarity to the
    person's faces reaches the threshold, unless someone else is closer to it, someone being a
    cluster of at least `rival_evidence` other pieces (the lookalike's own photos): one photo
    alone never makes a face someone else's.
    """
    rows = np.vstack([references, embeddings])
    piece, pieces = near_copy_pieces(rows, settings.copy_similarity)
    similarity = np.clip(pieces @ pieces.T, -1.0, 1.0)
    merges = average_linkage(similarity)
    cluster = clusters_at(merges, len(pieces), threshold)
    core = clusters_at(merges, len(pieces), threshold + settings.cluster_margin)
    person = np.unique(piece[: len(references)])
    in_person = np.isin(cluster, cluster[person])
    in_core = np.isin(core, core[person])
    to_person = mean_similarity(similarity, in_person[None, :])[0][:, 0]
    rivals = np.unique(cluster[~in_person])
    to_rivals, rival_size = mean_similarity(similarity, cluster[None, :] == rivals[:, None])
    to_rival = to_rivals.max(axis=1, initial=-1.0)
    to_lasting_rival = np.where(rival_size >= settings.rival_evidence, to_rivals, -1.0).max(axis=1, initial=-1.0)
    is_reference = np.isin(np.arange(len(pieces)), person)  # a near copy of a reference is the person
    sure = is_reference | (in_core & (to_person - to_rival >= settings.sure_margin))
    unsure = ~sure & (in_person | ((to_person >= threshold) & (to_person >= to_lasting_rival)))
    faces = piece[len(references) :]
    return Verdicts(sure[faces], unsure[faces])


def near_copy_pieces(rows: np.ndarray, copy_similarity: float) -> tuple[np.ndarray, np.ndarray]:
    """(piece of each row, one unit embedding per piece): rows joined by chains of similarities
    of at least `copy_similarity` are one piece of evidence, embedded as their normalised mean."""
    first, second = np.nonzero(rows @ rows.T >= copy_similarity)
    first, second = first[first < second], second[first < second]
    label = np.arange(len(rows))
    if not len(first):
        return label, rows
    while True:  # each row takes the lowest label it is chained to (min-label propagation)
        lowest = np.minimum(label[first], label[second])
        joined = label.copy()
        np.minimum.at(joined, first, lowest)
        np.minimum.at(joined, second, lowest)
        joined = joined[joined]
        if np.array_equal(joined, label):
            break
        label = joined
    _, piece = np.unique(label, return_inverse=True)
    order = np.argsort(piece, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(piece[order]) > 0])
    sums = np.add.reduceat(rows[order], starts, axis=0)
    return piece, (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(rows.dtype)


def average_linkage(similarity: np.ndarray) -> list[tuple[int, int, float]]:
    """The merges (row, row, similarity) of average-linkage clustering on cosine distance: each
    merge joins the groups the two rows are in, at the mean similarity between their members.

    Nearest-neighbour chain (average linkage is reducible): follow nearest neighbours until two
    groups are each other's nearest, merge them, go on from the rest of the chain. O(n^2) time
    in n numpy steps, no scipy import on the ranking's path (it would double a warm re-rank).
    """
    distance = (1.0 - similarity).astype(np.float64)
    np.fill_diagonal(distance, np.inf)
    size = np.ones(len(distance))
    merges: list[tuple[int, int, float]] = []
    chain: list[int] = []
    for _ in range(len(distance) - 1):
        if not chain:
            chain.append(int(np.argmax(size > 0)))
        while True:
            top = chain[-1]
            nearest = int(np.argmin(distance[top]))
            if len(chain) > 1 and distance[top, chain[-2]] <= distance[top, nearest]:
                nearest = chain[-2]  # ties go back down the chain, so it always ends
            if len(chain) > 1 and nearest == chain[-2]:
                break
            chain.append(nearest)
        a, b = chain.pop(), chain.pop()
        merges.append((a, b, 1.0 - distance[a, b]))
        merged = (size[a] * distance[a] + size[b] * distance[b]) / (size[a] + size[b])  # Lance-Williams
        distance[a], distance[:, a] = merged, merged
        distance[a, a] = np.inf
        distance[b], distance[:, b] = np.inf, np.inf
        size[a], size[b] = size[a] + size[b], 0
    return merges


def clusters_at(merges: list[tuple[int, int, float]], count: int, similarity: float) -> np.ndarray:
    """Cluster label of each row: the groups joined at a mean similarity of at least `similarity`
    (a merge's children always join higher, so the merges above the cut make whole clusters)."""
    parent = np.arange(count)

    def root(row: int) -> int:
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    for a, b, joined in merges:
        if joined >= similarity:
            parent[root(b)] = root(a)
    return np.array([root(row) for row in range(count)])


def mean_similarity(similarity: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(means, counts), each (rows, groups): each row's mean similarity to each group (a boolean
    mask per group, over the rows) and how many members that mean is over, the row itself left
    out; -1 where it is over none."""
    members = groups.T.astype(np.float64)
    sums = similarity @ members - np.diag(similarity)[:, None] * members
    counts = members.sum(axis=0)[None, :] - members
    return np.where(counts > 0, sums / np.maximum(counts, 1.0), -1.0), counts


def best_per_photo(members: np.ndarray, photos: np.ndarray, to_reference: np.ndarray, verdicts: Verdicts) -> dict[int, Match]:
    """One face per photo: a sure one before an unsure one, then the most similar to a reference."""
    matches: dict[int, Match] = {}
    order = np.lexsort((-to_reference, ~verdicts.sure))  # sure first, then by similarity
    for i in order:
        if not (verdicts.sure[i] or verdicts.unsure[i]):
            continue
        photo = int(photos[i])
        if photo not in matches:
            matches[photo] = Match(int(members[i]), float(to_reference[i]), bool(verdicts.sure[i]))
    return matches
