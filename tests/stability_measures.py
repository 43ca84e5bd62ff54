"""What bench/eval_stability.py measures and tests/test_identity_stability.py checks on fewer
queries: whether one photo added to a collection overturns who the person is (contact sheets,
mirrored collages and photos holding a person twice, made here with PIL), whether the reference
chosen moves a photo's stars, and a couple's recall with a contact sheet beside their photos."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from oneshot import index_paths, judge_records
from PIL import Image, ImageOps
from shared_data import DISTRACTORS, identity, largest

from photorank import identity as decision
from photorank.api import Reference
from photorank.scoring import stars
from photorank.settings import MatchingSettings, Settings


BANDS = {"absent": 0, "unsure": 1, "sure": 2}


THUMBNAIL_PX = 240  # a contact sheet's cell: faces large enough for the detector



@dataclass
class Photo:
    name: str  # "people/obama_1.jpg", "made/sheet_people.jpg"
    path: str
    people: set[str]  # who is in it, as far as the file name says (empty: not labelled)



def shared_photos(data: str) -> list[Photo]:
    photos = []
    for part in ("people", "cast"):
        folder = os.path.join(data, part)
        for name in sorted(os.listdir(folder)):
            if name.startswith("."):
                continue
            people = set() if name.startswith("group_") else {identity(name)}
            photos.append(Photo(f"{part}/{name}", os.path.join(folder, name), people))
    return photos



def is_single(photo: Photo) -> bool:
    return bool(photo.people) and not os.path.basename(photo.name).startswith("group_")



def split_pool(photos: list[Photo]) -> tuple[list[Photo], list[Photo]]:
    """(collection, pool): every fourth single-person photo of each person goes to the pool."""
    collection, pool, seen = [], [], Counter()
    for photo in photos:
        if is_single(photo):
            person = next(iter(photo.people))
            seen[person] += 1
            if seen[person] % 4 == 0:
                pool.append(photo)
                continue
        collection.append(photo)
    return collection, pool



def thumbnail(path: str, side: int) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image



def side_by_side(images: list[Image.Image], columns: int, cell: int) -> Image.Image:
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * cell, rows * cell), (245, 245, 245))
    for number, image in enumerate(images):
        x, y = (number % columns) * cell, (number // columns) * cell
        sheet.paste(image, (x + (cell - image.width) // 2, y + (cell - image.height) // 2))
    return sheet



def contact_sheet(photos: list[Photo], folder: str, name: str, cell: int = THUMBNAIL_PX) -> Photo:
    """Thumbnails of `photos` on one page, as a photo book or a gallery screenshot holds them."""
    path = os.path.join(folder, f"{name}.jpg")
    side_by_side([thumbnail(photo.path, cell - 8) for photo in photos], 4, cell).save(path, quality=90)
    return Photo(f"made/{name}.jpg", path, set().union(*(photo.people for photo in photos)))



def mirrored_collage(photo: Photo, folder: str) -> Photo:
    """A photo beside its own mirror image: the person twice, one of them a copy."""
    image = thumbnail(photo.path, 640)
    stem = os.path.splitext(os.path.basename(photo.name))[0]
    path = os.path.join(folder, f"mirrored_{stem}.jpg")
    side_by_side([image, ImageOps.mirror(image)], 2, 640).save(path, quality=90)
    return Photo(f"made/mirrored_{stem}.jpg", path, set(photo.people))



def twice(first: Photo, second: Photo, folder: str) -> Photo:
    """Two different photos of the person in one frame (a collage): the person twice."""
    stem = os.path.splitext(os.path.basename(first.name))[0]
    path = os.path.join(folder, f"twice_{stem}.jpg")
    side_by_side([thumbnail(first.path, 640), thumbnail(second.path, 640)], 2, 640).save(path, quality=90)
    return Photo(f"made/twice_{stem}.jpg", path, set(first.people))



def made_pool(collection: list[Photo], folder: str) -> list[Photo]:
    """Contact sheets of each part (five people, three photos each), and per person with two
    photos in the collection a mirrored collage and a photo holding them twice."""
    os.makedirs(folder, exist_ok=True)
    by_person: dict[str, list[Photo]] = {}
    for photo in collection:
        if is_single(photo):
            by_person.setdefault(next(iter(photo.people)), []).append(photo)
    made = []
    for part, people in (("people", ("obama", "biden", "kit_harington", "rose_leslie", "jennifer_aniston")),
                         ("cast", ("leonard", "penny", "sheldon", "amy", "raj"))):
        sheet = [photo for person in people for photo in by_person[person][:3]]
        made.append(contact_sheet(sheet, folder, f"sheet_{part}"))
    for person, photos in sorted(by_person.items()):
        if len(photos) >= 2 and person not in DISTRACTORS:
            made += [mirrored_collage(photos[1], folder), twice(photos[0], photos[1], folder)]
    return made



def analyse(photos: list[Photo], cache: str):
    """(engine, path -> record) for the photos, analysed once into `cache`."""
    return index_paths(sorted({photo.path for photo in photos}), engine="dlib", cache_path=cache)



def face_matrix(records: list) -> tuple[np.ndarray, np.ndarray]:
    """(every face's embedding, the photo number of each) for records in order."""
    faces = [(number, face.embedding) for number, record in enumerate(records) for face in record.faces]
    if not faces:
        return np.zeros((0, 128), np.float32), np.zeros(0, int)
    return np.stack([embedding for _, embedding in faces]), np.array([number for number, _ in faces])



def bands(reference: np.ndarray, records: list, settings: MatchingSettings, threshold: float) -> list[int]:
    """The band of each photo (BANDS) for one reference embedding."""
    faces, photo_of_face = face_matrix(records)
    matches = decision.find_person(reference[None], faces, photo_of_face, settings, threshold)
    return [BANDS["absent"] if number not in matches else BANDS["sure" if matches[number].sure else "unsure"]
            for number in range(len(records))]



@dataclass
class Moves:
    compared: int = 0  # (query, pool photo, collection photo) cases
    unchanged: int = 0
    one_band: int = 0
    sure_to_absent: int = 0
    absent_to_sure: int = 0

    def add(self, before: list[int], after: list[int]) -> None:
        for old, new in zip(before, after):
            self.compared += 1
            self.unchanged += old == new
            self.one_band += abs(old - new) == 1
            self.sure_to_absent += (old, new) == (BANDS["sure"], BANDS["absent"])
            self.absent_to_sure += (old, new) == (BANDS["absent"], BANDS["sure"])

    @property
    def worse(self) -> int:
        return self.sure_to_absent + self.absent_to_sure



def queries(collection: list[Photo], people: set[str] | None = None) -> list[Photo]:
    """The first single-person photo of each person of the collection (not the distractors)."""
    first: dict[str, Photo] = {}
    for photo in collection:
        person = next(iter(photo.people), None)
        if is_single(photo) and person not in DISTRACTORS and (people is None or person in people):
            first.setdefault(person, photo)
    return list(first.values())



def one_photo_added(collection: list[Photo], pool: list[Photo], records: dict, query_photos: list[Photo],
                    settings: MatchingSettings, threshold: float) -> dict[str, Moves]:
    """Per kind of pool photo ("shared", "sheet", "mirrored", "twice"): the band moves it causes."""
    base = [records[photo.path] for photo in collection]
    moves: dict[str, Moves] = {}
    for query in query_photos:
        reference = largest(records[query.path].faces).embedding
        before = bands(reference, base, settings, threshold)
        for added in pool:
            kind = "shared" if not added.name.startswith("made/") else os.path.basename(added.name).split("_")[0]
            after = bands(reference, base + [records[added.path]], settings, threshold)[: len(base)]
            moves.setdefault(kind, Moves()).add(before, after)
    return moves



@dataclass
class ReferenceChoice:
    cases: int = 0  # (photo, reference) pairs in which the photo is found
    same_stars: int = 0  # ... with the photo's most common stars
    large_changes: int = 0  # pairs of references giving one photo scores more than 3 points apart
    unexplained: list = field(default_factory=list)  # ... of those, the ones with the same reasons

    @property
    def share(self) -> float:
        return self.same_stars / max(1, self.cases)



def reference_choice(photos: list[Photo], records: dict, threshold: float, settings: Settings, people: set[str] | None = None) -> ReferenceChoice:
    """Every single-person photo of each person as the reference over all `photos`."""
    ordered = [records[photo.path] for photo in photos]
    by_person: dict[str, list[Photo]] = {}
    for photo in photos:
        person = next(iter(photo.people), None)
        if is_single(photo) and person not in DISTRACTORS and records[photo.path].faces and (people is None or person in people):
            by_person.setdefault(person, []).append(photo)
    figures = ReferenceChoice()
    for person, references in sorted(by_person.items()):
        judged: dict[str, list] = {}
        for photo in references:
            face = largest(records[photo.path].faces)
            for path, result in judge_records(ordered, [Reference.of_face(photo.path, 1, face)], threshold, settings).items():
                if result is not None:
                    judged.setdefault(path, []).append((photo.name, result))
        for path, results in judged.items():
            if len(results) < 2:
                continue
            given = [stars(result.score, settings.stars) for _, result in results]
            figures.cases += len(given)
            figures.same_stars += Counter(given).most_common(1)[0][1]
            for a, (name_a, first) in enumerate(results):
                for name_b, second in results[a + 1 :]:
                    if abs(first.score - second.score) > 3:
                        figures.large_changes += 1
                        if first.reasons == second.reasons:
                            figures.unexplained.append((os.path.basename(path), name_a, first.score, name_b, second.score, first.reasons))
    return figures



def couple_recall(data: str, folder: str, cache: str, settings: MatchingSettings, threshold: float) -> dict[str, tuple[float, float]]:
    """person -> (recall without the contact sheet, recall with it), sure matches of their photos."""
    people = os.path.join(data, "people")
    names = [name for name in sorted(os.listdir(people)) if name.startswith(("kit_harington", "rose_leslie", "group_kit", "obama", "biden"))]
    photos = [Photo(f"people/{name}", os.path.join(people, name), {identity(name)} if not name.startswith("group_") else set()) for name in names]
    couple = {"kit_harington", "rose_leslie"}
    sheet = contact_sheet([photo for photo in photos if photo.people & couple] * 3, folder, "sheet_couple")
    _, records = analyse(photos + [sheet], cache)
    found = {}
    for person in sorted(couple):
        reference = largest(records[os.path.join(people, f"{person}_1.jpg")].faces).embedding
        theirs = [number for number, photo in enumerate(photos) if person in photo.people or person in photo.name]
        recall = []
        for extra in ([], [sheet]):
            band = bands(reference, [records[photo.path] for photo in photos + extra], settings, threshold)
            recall.append(sum(band[number] == BANDS["sure"] for number in theirs) / len(theirs))
        found[person] = (recall[0], recall[1])
    return found
