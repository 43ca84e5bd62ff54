"""Recall with tags only (no reference photo) against one reference photo, on ../shared/data/people.

    python bench/bench_tagged.py                  # work files in /tmp/photorank_tagged

For each person with at least two photos (distractors apart), half of the person's photos get a
digiKam-style sidecar (NAME.EXT.xmp) holding an MWG face region named after them, on the face
that is theirs (in a group photo: the face closest to their other photos). Then, in the same
process and over the same face cache:

- tags only: `rank --person NAME` with no reference; the tagged faces are the references;
- one reference: `rank --ref FIRST_TAGGED_PORTRAIT`, no person's name (so no tag applies).

Printed per person and in total: recall over all of the person's photos and over the untagged
half (what the tags found that nobody had said), and photos wrongly taken for the person.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_identity import DEFAULT_DATA, DISTRACTORS, group_people, identity  # noqa: E402

from photorank.api import RankRequest, ReferenceSpec  # noqa: E402
from photorank.library import Library  # noqa: E402
from photorank.regions import TagReader  # noqa: E402

SIDECAR = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#">
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="{width}" stDim:h="{height}" stDim:unit="pixel"/>
    <mwg-rs:RegionList><rdf:Bag><rdf:li rdf:parseType="Resource">
     <mwg-rs:Name>{name}</mwg-rs:Name><mwg-rs:Type>Face</mwg-rs:Type>
     <mwg-rs:Area stArea:x="{cx:.5f}" stArea:y="{cy:.5f}" stArea:w="{w:.5f}" stArea:h="{h:.5f}" stArea:unit="normalized"/>
    </rdf:li></rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def truth_of(files: list[str]) -> dict[str, set[str]]:
    """person -> the photos they are in (portraits by name, group photos by the names they list)."""
    names = {identity(name) for name in files if not name.startswith("group_")}
    truth: dict[str, set[str]] = {name: set() for name in names - DISTRACTORS}
    for file in files:
        people = group_people(file, names) if file.startswith("group_") else {identity(file)}
        for person in people & set(truth):
            truth[person].add(file)
    return {person: photos for person, photos in truth.items() if len(photos) >= 2}


def write_tag(path: str, name: str, box, width: int, height: int) -> None:
    x, y, w, h = box
    with open(path + ".xmp", "w", encoding="utf-8") as handle:
        handle.write(SIDECAR.format(name=name, width=width, height=height, cx=(x + w / 2) / width, cy=(y + h / 2) / height,
                                    w=w / width, h=h / height))


def their_face(record, centroid: np.ndarray):
    return max(record.faces, key=lambda face: float(face.embedding @ centroid)) if record.faces else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default="/tmp/photorank_tagged")
    args = parser.parse_args()
    source = os.path.join(args.data, "people")
    if not os.path.isdir(source):
        print(f"bench_tagged: {source} is absent", file=sys.stderr)
        return 1
    folder = os.path.join(args.work, "photos")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    files = sorted(name for name in os.listdir(folder) if not name.endswith(".xmp"))
    truth = truth_of(files)
    with Library(cache_path=os.path.join(args.work, "faces.sqlite")) as library:
        records = library.analyze([os.path.join(folder, name) for name in files])
        tagged: dict[str, list[str]] = {}
        for person, photos in sorted(truth.items()):
            portraits = [records[os.path.join(folder, name)] for name in sorted(photos) if not name.startswith("group_")]
            embeddings = [record.faces[0].embedding for record in portraits if len(record.faces) == 1]
            centroid = np.mean(embeddings, axis=0) if embeddings else None
            tagged[person] = []
            # half of the person's photos, portraits first: the first one is the one-reference run's reference
            for name in sorted(photos, key=lambda name: (name.startswith("group_"), name))[::2]:
                record = records[os.path.join(folder, name)]
                face = their_face(record, centroid) if centroid is not None else None
                if face is not None:
                    write_tag(record.path, person, face.box, record.width, record.height)
                    tagged[person].append(name)

        print(f"{'person':<22} {'photos':>6} {'tagged':>6} | {'tags: recall':>12} {'untagged':>8} {'wrong':>5} "
              f"| {'1 ref: recall':>13} {'untagged':>8} {'wrong':>5}")
        totals = np.zeros(6)
        for person, photos in sorted(truth.items()):
            if not tagged[person]:
                continue
            untagged = photos - set(tagged[person])
            by_tags = found(library.rank(RankRequest([], [folder], person=person)))
            by_reference = found(library.rank(RankRequest([ReferenceSpec(os.path.join(folder, tagged[person][0]))], [folder])))
            row = [len(by_tags & photos), len(by_tags & untagged), len(by_tags - photos),
                   len(by_reference & photos), len(by_reference & untagged), len(by_reference - photos)]
            totals += row
            print(f"{person:<22} {len(photos):>6} {len(tagged[person]):>6} | {row[0]:>12} {row[1]:>8} {row[2]:>5} "
                  f"| {row[3]:>13} {row[4]:>8} {row[5]:>5}")
        photos_total = sum(len(photos) for person, photos in truth.items() if tagged[person])
        untagged_total = sum(len(photos - set(tagged[person])) for person, photos in truth.items() if tagged[person])
        print(f"recall, tags only: {totals[0] / photos_total:.3f} of all photos, {totals[1] / untagged_total:.3f} of the untagged; "
              f"{int(totals[2])} wrong")
        print(f"recall, one reference photo: {totals[3] / photos_total:.3f} of all photos, {totals[4] / untagged_total:.3f} "
              f"of the untagged; {int(totals[5])} wrong")
        print(f"ratio tags / one reference (all photos): {totals[0] / max(totals[3], 1):.3f}")
        print_tag_cost(library, folder, files, tagged)
    return 0


def print_tag_cost(library: Library, folder: str, files: list[str], tagged: dict[str, list[str]]) -> None:
    """What reading the tags adds to a warm ranking, against the same ranking without them."""
    person = max(tagged, key=lambda name: len(tagged[name]))
    reference = ReferenceSpec(os.path.join(folder, tagged[person][0]))
    paths = [os.path.join(folder, name) for name in files]
    started = time.perf_counter()
    TagReader().read(paths)
    first_read = time.perf_counter() - started
    library.rank(RankRequest([reference], [folder]))  # warm-up
    timings = {}
    for label, request in (("without tags", RankRequest([reference], [folder])),
                           ("with tags (read before)", RankRequest([reference], [folder], person=person))):
        started = time.perf_counter()
        for _ in range(5):
            library.rank(request)
        timings[label] = (time.perf_counter() - started) / 5
    print(f"tags of {len(paths)} photos read in {first_read * 1000:.1f} ms the first time; warm rank "
          f"{timings['without tags'] * 1000:.1f} ms without tags, {timings['with tags (read before)'] * 1000:.1f} ms with "
          f"(x{timings['with tags (read before)'] / timings['without tags']:.2f})")


def found(report) -> set[str]:
    return {os.path.basename(result.path) for result in report.results}


if __name__ == "__main__":
    sys.exit(main())
