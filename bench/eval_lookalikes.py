"""Lookalike stress test: does each reference find its person's photos and no one else's?

    python bench/eval_lookalikes.py                  # work files and face cache in /tmp/photorank_eval
    python bench/eval_lookalikes.py --tune people    # which part the settings were tuned on

One collection holds every photo of ../shared/data/people and ../shared/data/cast (eight actors of
one cast, often photographed together in the same light and styling, plus their group photos),
14 degraded copies of every single-person photo (bench/eval_identity.py's degradations: blur,
motion, exposure, JPEG, LFW crops, 40-50 px faces, grey, noise, rotation, mirror) and the ~1000
LFW-derived SMILEsmileD strangers (crop-box embeddings, as in eval_identity.py: each a photo of its
own). Every single-person photo of a reference person serves in turn as the reference (the
reference's own picture and its copies are taken out of the collection for it), and also every
pair of photos of one person (`--ref` twice).

For each decision method it prints precision and recall at photo level, sure matches only and
sure + unsure, separately for references from people/ and from cast/ (tune on one, report the
other as held out), and per reference the worst stranger (highest-scoring photo without the
person). The cast's group photos are not labelled: they are left out of the counts and each
reference's finds in them are checked for conflicts (one face claimed by two actors).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))  # the one-shot helpers
from eval_identity import DEFAULT_DATA, DISTRACTORS, find_t1, identity, largest, make_degraded, smiles_embeddings, source  # noqa: E402

from oneshot import index_paths  # noqa: E402
from photorank.config import default_settings  # noqa: E402
from photorank.identity import Match, find_person, nearest_rows, with_neighbours  # noqa: E402


@dataclass
class Collection:
    faces: np.ndarray  # (N, d)
    photo_of_face: np.ndarray  # (N,)
    photos: list[str]  # photo id -> name ("people/obama_1.jpg", "degraded/blur_s2/cast__amy_1.jpg", "stranger/17")
    source_of_photo: list[str]  # the picture a photo was made from (a reference and its copies share it)
    truth: list[set[str]]  # people in each photo; None-like empty set for strangers
    labelled: np.ndarray  # (P,) bool: photos whose people are known
    part: list[str]  # "people" | "cast" | "stranger"


def build_collection(data: str, work: str, workers: int, smiles: int, engine_name: str | None = None) -> tuple[Collection, dict[str, np.ndarray], object]:
    """Index the shared photos and their degraded copies; returns the collection, the reference
    embeddings by photo name, and the engine."""
    cache = os.path.join(work, "faces.sqlite")
    clean = {}
    for part in ("people", "cast"):
        folder = os.path.join(data, part)
        clean.update({f"{part}/{f}": os.path.join(folder, f) for f in sorted(os.listdir(folder)) if not f.startswith(".")})
    t1 = find_t1()
    if t1:
        clean["people/t1.jpg"] = t1
    engine, records = index_paths(sorted(clean.values()), engine=engine_name, cache_path=cache, workers=workers)
    by_name = {name: records[os.path.abspath(path)] for name, path in clean.items()}
    singles = {n for n in by_name if not os.path.basename(n).startswith(("group_", "t1")) and by_name[n].faces}
    sources = {n.replace("/", "__"): (clean[n], largest(by_name[n].faces).box, by_name[n].width) for n in singles}
    made = make_degraded(sources, os.path.join(work, "degraded"))
    _, degraded = index_paths(sorted(made), engine=engine_name, cache_path=cache, workers=workers)

    names = {identity(os.path.basename(n)) for n in singles}
    rows, photo_of_face, photos, origin, truth, labelled, part = [], [], [], [], [], [], []

    def add(name, faces, src, people, known, where):
        for face in faces:
            rows.append(face.embedding)
            photo_of_face.append(len(photos))
        photos.append(name)
        origin.append(src)
        truth.append(people)
        labelled.append(known)
        part.append(where)

    for name, record in sorted(by_name.items()):
        where, base = name.split("/")
        if base == "t1.jpg":  # its leftmost face is Jennifer Aniston (docs/calibration.md)
            add(name, record.faces, name, {"jennifer_aniston"}, True, where)
        elif base.startswith("group_cast"):
            add(name, record.faces, name, set(), False, where)
        elif base.startswith("group_"):
            add(name, record.faces, name, {n for n in names if n in base}, True, where)
        else:
            add(name, record.faces, source(name), {identity(base)}, True, where)
    for path, (flat, kind) in sorted(made.items()):
        name = flat.replace("__", "/")
        add(f"degraded/{kind}/{flat}", degraded[path].faces, source(name), {identity(os.path.basename(name))}, True, name.split("/")[0])
    strangers = smiles_embeddings(data, work, smiles, engine)["crop box"]
    for number, embedding in enumerate(strangers):
        rows.append(embedding)
        photo_of_face.append(len(photos))
        photos.append(f"stranger/{number}")
        origin.append(f"stranger/{number}")
        truth.append(set())
        labelled.append(True)
        part.append("stranger")
    collection = Collection(
        np.asarray(rows, np.float32), np.asarray(photo_of_face), photos, origin, truth, np.asarray(labelled), part
    )
    references = {n: largest(by_name[n].faces).embedding for n in sorted(singles) if identity(os.path.basename(n)) not in DISTRACTORS}
    return collection, references, engine


# --------------------------------------------------------------------------- decision methods
# Each: (references, faces, photo_of_face, settings, threshold) -> {photo: Match}. The first three
# are the simpler alternatives the chosen one (photorank.identity.find_person) is measured against.


def threshold_only(references, faces, photo_of_face, settings, threshold) -> dict[int, Match]:
    """Today's ranking: a photo's best face, when its similarity to a reference reaches the threshold."""
    score = (faces @ references.T).max(axis=1)
    matches = {}
    for row in np.flatnonzero(score >= threshold):
        photo = int(photo_of_face[row])
        if photo not in matches or score[row] > matches[photo].similarity:
            matches[photo] = Match(int(row), float(score[row]), True)
    return matches


def k_reciprocal(references, faces, photo_of_face, settings, threshold, k=20) -> dict[int, Match]:
    """A face above the threshold is the person when a reference is among its k nearest faces of
    other photos (the reference counted as a face); otherwise it belongs to someone nearer."""
    found = threshold_only(references, faces, photo_of_face, settings, threshold)
    kept = {}
    for photo, match in found.items():
        similarity = faces @ faces[match.face]
        similarity[photo_of_face == photo] = -1.0
        kth = np.partition(similarity, -k)[-k]
        if match.similarity >= kth:
            kept[photo] = match
    return kept


def rival_margin(references, faces, photo_of_face, settings, threshold) -> dict[int, Match]:
    """A face above the threshold is kept when it is closer to a reference than to any face of
    another photo that the references reject (the nearest other identity), by no margin."""
    score = (faces @ references.T).max(axis=1)
    rejected = score < threshold
    kept = {}
    for photo, match in threshold_only(references, faces, photo_of_face, settings, threshold).items():
        similarity = faces[rejected] @ faces[match.face]
        rival = similarity[photo_of_face[rejected] != photo].max(initial=-1.0)
        if match.similarity >= rival:
            kept[photo] = match
    return kept


def chinese_whispers(references, faces, photo_of_face, settings, threshold, rounds=20, seed=0) -> dict[int, Match]:
    """dlib's graph clustering on the same part the chosen method clusters (candidates and their
    neighbours, with the references): edges at or above the threshold, weighted by similarity;
    each node takes the label with the most weight among its neighbours. The person is the label
    the references end with."""
    to_reference = (faces @ references.T).max(axis=1)
    candidates = nearest_rows(to_reference, threshold - settings.candidate_margin, settings.max_candidates)
    if not len(candidates):
        return {}
    members = with_neighbours(candidates, faces, photo_of_face, threshold, settings.neighbours, settings.max_faces)
    rows = np.vstack([references, faces[members]])
    photo = np.concatenate([np.full(len(references), -1), photo_of_face[members]])
    weight = rows @ rows.T
    weight[(weight < threshold) | ((photo[:, None] == photo[None, :]) & (photo[:, None] >= 0))] = 0.0
    np.fill_diagonal(weight, 0.0)
    labels = np.arange(len(rows))
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        for node in rng.permutation(len(rows)):
            linked = np.flatnonzero(weight[node])
            if len(linked):
                totals = defaultdict(float)
                for other in linked:
                    totals[labels[other]] += weight[node, other]
                labels[node] = max(totals, key=totals.get)
    person = set(labels[: len(references)].tolist())
    matches = {}
    for i, row in enumerate(members):
        if labels[len(references) + i] in person:
            photo_id = int(photo_of_face[row])
            if photo_id not in matches or to_reference[row] > matches[photo_id].similarity:
                matches[photo_id] = Match(int(row), float(to_reference[row]), True)
    return matches


# --------------------------------------------------------------------------- evaluation


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    unsure_true: int = 0  # unsure photos of the person
    unsure_false: int = 0  # unsure photos without them

    def add(self, other: "Counts") -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def precision(self, with_unsure: bool) -> float:
        tp, fp = self.tp + (self.unsure_true if with_unsure else 0), self.fp + (self.unsure_false if with_unsure else 0)
        return tp / max(1, tp + fp)

    def recall(self, with_unsure: bool) -> float:
        tp = self.tp + (self.unsure_true if with_unsure else 0)
        return tp / max(1, self.tp + self.unsure_true + self.fn)


def evaluate(collection: Collection, used: tuple[str, ...], embeddings: np.ndarray, method, settings, threshold):
    """Counts over the labelled photos, the worst stranger (similarity, photo) and the finds in
    unlabelled photos, for one reference set; the references' own pictures are out of the collection."""
    person = identity(os.path.basename(used[0]))
    used_sources = {source(name) for name in used}
    keep_photo = np.array([src not in used_sources for src in collection.source_of_photo])
    keep = keep_photo[collection.photo_of_face]
    rows = np.flatnonzero(keep)
    matches = method(embeddings, collection.faces[rows], collection.photo_of_face[rows], settings, threshold)
    counts = Counts()
    for photo in np.flatnonzero(keep_photo & collection.labelled):
        match = matches.get(int(photo))
        present = person in collection.truth[photo]
        if match is None:
            counts.fn += present
        elif match.sure:
            counts.tp += present
            counts.fp += not present
        else:
            counts.unsure_true += present
            counts.unsure_false += not present
    score = (collection.faces[rows] @ embeddings.T).max(axis=1)
    worst = (-1.0, "")
    for row, value in zip(rows, score):
        photo = collection.photo_of_face[row]
        if collection.labelled[photo] and person not in collection.truth[photo] and value > worst[0]:
            worst = (float(value), collection.photos[photo])
    unlabelled = {int(rows[m.face]): m.sure for p, m in matches.items() if not collection.labelled[p]}
    return counts, worst, unlabelled


def reference_sets(references: dict[str, np.ndarray], part: str, pairs: bool) -> dict[tuple[str, ...], np.ndarray]:
    names = sorted(n for n in references if n.startswith(part + "/"))
    if not pairs:
        return {(n,): references[n][None] for n in names}
    return {
        (a, b): np.stack([references[a], references[b]])
        for a in names
        for b in names
        if a < b and identity(os.path.basename(a)) == identity(os.path.basename(b)) and source(a) != source(b)
    }


def run(collection, references, part, pairs, method, settings, threshold):
    total = Counts()
    worst_by_reference, claims = {}, defaultdict(dict)
    for used, embeddings in reference_sets(references, part, pairs).items():
        counts, worst, unlabelled = evaluate(collection, used, embeddings, method, settings, threshold)
        total.add(counts)
        worst_by_reference[used] = (worst, counts)
        for row, sure in unlabelled.items():
            claims[row][identity(os.path.basename(used[0]))] = sure
    return total, worst_by_reference, claims


def row_of(name: str, counts: Counts) -> list:
    return [name, counts.precision(False), counts.recall(False), counts.precision(True), counts.recall(True),
            counts.unsure_true, counts.unsure_false, counts.fp, counts.fn]


HEADER = ["method", "precision (sure)", "recall (sure)", "precision (sure+unsure)", "recall (sure+unsure)",
          "unsure: person", "unsure: others", "wrongly sure", "missed"]


def main() -> int:
    from eval_identity import table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default=os.path.join("/tmp", "photorank_eval"), help="evaluation sets and face cache")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", help="face engine (default: the configured one, auto)")
    parser.add_argument("--smiles", type=int, default=1000, help="how many SMILEsmileD crops to use as strangers")
    parser.add_argument("--tune", choices=["people", "cast"], default="people", help="the part the settings were tuned on")
    parser.add_argument("--grid", action="store_true", help="also print the settings grid on both parts")
    args = parser.parse_args()
    started = time.time()
    collection, references, engine = build_collection(args.data, args.work, args.workers, args.smiles, args.engine)
    settings = default_settings().matching
    threshold = settings.threshold or engine.match_threshold
    held_out = "cast" if args.tune == "people" else "people"
    print(f"engine {engine.id}; threshold {threshold}; [matching] {settings}")
    print(f"collection: {len(collection.photos)} photos, {len(collection.faces)} faces "
          f"({sum(p == 'stranger' for p in collection.part)} strangers); "
          f"{len(references)} single-person reference photos; tuned on {args.tune}/, held out: {held_out}/\n")
    methods = {
        "threshold only (before)": threshold_only,
        "threshold only, raised to 0.93": lambda *a: threshold_only(*a[:4], 0.93),
        "k-reciprocal, k=20": k_reciprocal,
        "margin to the nearest rejected face": rival_margin,
        "Chinese whispers (dlib's graph clustering)": chinese_whispers,
        "reference cluster, no neighbours": lambda *a: find_person(*a[:3], replace(a[3], neighbours=0), a[4]),
        "reference cluster (chosen)": find_person,
    }
    for part in (args.tune, held_out):
        label = "tuning part" if part == args.tune else "HELD OUT"
        for pairs in (False, True):
            print(f"## {part}/ references ({label}), {'two photos of the person (--ref twice)' if pairs else 'one photo'}")
            rows = []
            for name, method in methods.items():
                total, _, _ = run(collection, references, part, pairs, method, settings, threshold)
                rows.append(row_of(name, total))
            print(table(HEADER, rows) + "\n")

    if args.grid:
        print("## settings grid (one photo as reference)")
        rows = []
        for part in (args.tune, held_out):
            for candidate_margin in (0.02, 0.04):
                for cluster_margin in (0.0, 0.01, 0.015, 0.02):
                    for neighbours in (0, 10):
                        for sure_margin in (0.0, 0.01):
                            grid = replace(settings, candidate_margin=candidate_margin, cluster_margin=cluster_margin,
                                           neighbours=neighbours, sure_margin=sure_margin)
                            total, _, _ = run(collection, references, part, False, find_person, grid, threshold)
                            rows.append(row_of(f"{part}: candidates {candidate_margin} cluster {cluster_margin} "
                                               f"neighbours {neighbours} sure {sure_margin}", total))
        print(table(HEADER, rows) + "\n")

    print("## per reference at the chosen settings: worst stranger (highest photo without the person)")
    rows = []
    for part in ("people", "cast"):
        _, worst, claims = run(collection, references, part, False, find_person, settings, threshold)
        for used, ((value, photo), counts) in worst.items():
            rows.append([used[0], value, photo, counts.tp, counts.unsure_true, counts.fn, counts.fp, counts.unsure_false])
        if part == "cast":
            conflicts = {row: who for row, who in claims.items() if sum(who.values()) > 1}
            found = defaultdict(set)
            for row, who in claims.items():
                found[collection.photos[collection.photo_of_face[row]]] |= {n + ("" if s else "?") for n, s in who.items()}
            summary = "; ".join(f"{photo}: {', '.join(sorted(names))}" for photo, names in sorted(found.items()))
    print(table(["reference", "worst stranger", "which", "sure found", "unsure found", "missed", "wrongly sure", "wrongly unsure"], rows))
    worst = np.array([row[1] for row in rows])
    print(f"\nworst stranger per reference: median {np.median(worst):.3f}, max {worst.max():.3f}; "
          f"{(worst >= threshold).sum()} of {len(rows)} references have a stranger at or above the threshold {threshold}; "
          f"wrongly sure in all: {sum(row[6] for row in rows)}")
    print(f"\ncast group photos (unlabelled), actors found in each ('?' = unsure): {summary}")
    print(f"faces claimed surely by two actors: {len(conflicts)} {conflicts or ''}")
    print(f"\ndone in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
