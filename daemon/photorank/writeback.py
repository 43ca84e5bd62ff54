"""Stage 6: write the ranking back where the user's photo manager reads it (XMP sidecars).

Thin over `xmp_writer`, which owns every byte-level guarantee (merge, atomic write, undo).
Here a ranking becomes one PersonRating per photo; photos where the person is no longer found
lose that person's earlier photorank data, so a re-run leaves the collection consistent.
A set of people (together.py) is one PersonRating under the set's name ("Alice + Bob"),
holding each member's face region under the member's own name.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import xmp_writer

from . import __version__
from .api import PhotoResult, RankingReport, SetResult
from .records import Box
from .settings import XmpSettings

BEST_OF_BURST = "best of burst"
UNSURE = "unsure"  # keyword leaf of a match the collection did not confirm (photorank|<Person>|unsure)
# A JPEG's XMP packet is in an APP1 segment near the start: at most 64 KiB after a 64 KiB Exif block.
EMBEDDED_XMP_SPAN = 256 * 1024


@dataclass
class WriteBackSummary:
    actions: Counter = field(default_factory=Counter)  # "created" / "updated" / "unchanged" / "removed" -> files
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, note) worth telling the user
    errors: list[tuple[str, str]] = field(default_factory=list)  # (sidecar or photo, error)

    def add(self, outcome: xmp_writer.WriteOutcome) -> None:
        for result in outcome.files:
            if result.action == "error":
                self.errors.append((result.path, "; ".join(result.notes)))
            else:
                self.actions[result.action] += 1
                self.notes.extend((result.path, note) for note in result.notes if note.startswith("rating kept"))
                if self.dry_run and result.action != "unchanged":
                    self.changes.append((result.path, result.action, result.changes))

    dry_run: bool = False  # nothing was written: `actions` say what would have been
    # in a dry run, every file that would change: (path, action, what would change in it)
    changes: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "files": dict(sorted(self.actions.items())),
            "notes": [{"path": path, "note": note} for path, note in self.notes],
            "errors": [{"path": path, "error": error} for path, error in self.errors],
            "changes": [{"path": path, "action": action, "changes": list(changes)} for path, action, changes in self.changes],
        }


def face_region(result: PhotoResult, box: Box | None = None) -> xmp_writer.FaceRegion | None:
    """The target face (or the face at `box`) as normalised centre and size (MWG regions), clamped to the frame."""
    if not result.width or not result.height:
        return None
    x, y, w, h = box or result.target_face.box
    clamp = lambda value: min(1.0, max(0.0, value))  # noqa: E731 - one-line helper
    return xmp_writer.FaceRegion(
        cx=clamp((x + w / 2) / result.width),
        cy=clamp((y + h / 2) / result.height),
        w=clamp(w / result.width),
        h=clamp(h / result.height),
        image_width=result.width,
        image_height=result.height,
    )


def member_regions(result: PhotoResult) -> tuple[tuple[str, xmp_writer.FaceRegion], ...]:
    """A set's photo: each member's face region, by the member's name (none for one person)."""
    if not isinstance(result, SetResult) or not (result.width and result.height):
        return ()
    return tuple((member.name, face_region(result, member.face.box)) for member in result.members)


def result_tags(result: PhotoResult) -> tuple[str, ...]:
    """The keyword leaves a result earns beyond its rank and kind."""
    return ((BEST_OF_BURST,) if result.burst and result.best_of_burst else ()) + ((UNSURE,) if result.match == "unsure" else ())


def result_keywords(result: PhotoResult, person: str) -> list[str]:
    """The keywords `write_back` gives this result, as darktable's tags name them (photorank|Alice|rank 007)."""
    return xmp_writer.hierarchical_keywords(person, result.rank, result.kind, result_tags(result))


def keyword_prefix(person: str) -> str:
    """What every keyword of `person` begins with: a photo manager's earlier tags of theirs."""
    return xmp_writer.hierarchical_prefix(person)


def person_rating(result: PhotoResult, person: str, engine: str, run_time: str) -> xmp_writer.PersonRating:
    return xmp_writer.PersonRating(
        person=person,
        rank=result.rank,
        score=result.score,
        stars=result.stars,
        kind=result.kind,
        tags=result_tags(result),
        region=None if isinstance(result, SetResult) else face_region(result),
        member_regions=member_regions(result),
        engine=engine,
        version=__version__,
        run_time=run_time,
    )


def write_back(report: RankingReport, person: str, xmp: XmpSettings, dry_run: bool = False) -> WriteBackSummary:
    """Write every shown result for `person`; take `person`'s old data off photos they are not in.

    Only photos read without error and without the person lose that person's data: a photo
    left out by --top or --best-of-burst, or one that could not be read this time, keeps what it
    has. Two photos that share one sidecar (IMG_1.CR2 and IMG_1.JPG with NAME.xmp naming) get
    the better one's result, and that sidecar is not undone for the other.
    """
    run_time = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    options = write_options(xmp, dry_run)
    summary = WriteBackSummary(dry_run=dry_run)
    written: set[str] = set()
    for result in report.results:  # best first
        sidecars = set(xmp_writer.sidecar_paths(result.path, xmp.naming))
        if sidecars & written:
            summary.notes.append((result.path, "not written: shares its sidecar with a better-ranked photo"))
            continue
        written |= sidecars
        summary.add(xmp_writer.write_rating(result.path, person_rating(result, person, report.engine, run_time), **options))
    for path in report.not_found_paths:
        sidecars = set(xmp_writer.sidecar_paths(path, xmp.naming))
        if not sidecars & written and carries_photorank_data(path, xmp.naming, xmp.embed):
            summary.add(xmp_writer.undo(path, person, naming=xmp.naming, embed=xmp.embed, dry_run=dry_run))
    return summary


def carries_photorank_data(image_path: str, naming: str, embed: bool = False) -> bool:
    """A byte search before any XML parsing: most photos of a big collection have none of our data.

    With `embed`, a JPEG's own XMP packet counts too (it sits in the first segments of the file).
    """
    marker = xmp_writer.NAMESPACE_URI.encode()
    places = [(sidecar, -1) for sidecar in xmp_writer.sidecar_paths(image_path, naming)]
    if embed:
        places.append((image_path, EMBEDDED_XMP_SPAN))
    for place, span in places:
        if not os.path.isfile(place):  # a pipe named like a photo would block the read forever
            continue
        try:
            with open(place, "rb") as handle:
                if marker in handle.read(span):
                    return True
        except OSError:
            continue
    return False


def undo_paths(paths: list[str], person: str | None, xmp: XmpSettings, dry_run: bool = False) -> WriteBackSummary:
    """Take photorank's data (one person's, or all) off the photos that carry any."""
    summary = WriteBackSummary(dry_run=dry_run)
    for path in paths:
        if carries_photorank_data(path, xmp.naming, xmp.embed):
            summary.add(xmp_writer.undo(path, person, naming=xmp.naming, embed=xmp.embed, dry_run=dry_run))
    return summary


def write_options(xmp: XmpSettings, dry_run: bool) -> dict:
    """The [xmp] settings as xmp_writer's keyword arguments (the keys are its keywords' names)."""
    return {**asdict(xmp), "dry_run": dry_run}
