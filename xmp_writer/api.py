"""Public entry points: write photorank results into sidecars, undo them."""

from __future__ import annotations

import os
from typing import Callable, Collection, Iterable

from . import atomic, embedded, jpeg, merge, rdf
from .model import FileResult, PersonRating, WriteOutcome, XmpError
from .sidecar import sidecar_paths

RETRIES = 3
Change = Callable[[bytes | None], tuple[bytes | None, list[str]]]


def _update_file(path: str, change: Change, *, create: bool, missing: str = "no sidecar",
                 dry_run: bool = False, packet_of: Callable[[bytes | None], bytes | None] = lambda data: data
                 ) -> FileResult:
    """Read, change and atomically replace one file; retry if it changes meanwhile.

    dry_run: work out the change and report what would happen (and what in the file's XMP,
    found by packet_of, would change), touching nothing.
    """
    for _ in range(RETRIES):
        try:
            before = atomic.read(path)
        except OSError as exc:  # a folder named like the sidecar, a file we may not read
            return FileResult(path, "error", (f"left untouched: cannot read it: {exc.strerror or exc}",))
        if before.data is None and not create:
            return FileResult(path, "unchanged", (missing,))
        try:
            new, notes = change(before.data)
        except XmpError as exc:
            return FileResult(path, "error", (f"left untouched: {exc}",))
        if new == before.data:
            return FileResult(path, "unchanged", tuple(notes))
        action = "removed" if new is None else "created" if before.data is None else "updated"
        if dry_run:
            changes = merge.describe_changes(packet_of(before.data), packet_of(new))
            return FileResult(path, action, tuple(notes), tuple(changes))
        try:
            if new is None:
                atomic.remove(path, before)
            else:
                atomic.replace(path, new, before)
        except atomic.ChangedUnderUs:
            continue
        except OSError as exc:
            return FileResult(path, "error", (f"could not write: {exc.strerror or exc}",))
        return FileResult(path, action, tuple(notes))
    return FileResult(path, "error", ("left untouched: it kept changing while we wrote",))


# ---- the XMP packet embedded in a JPEG -----------------------------------

ONLY_JPEG = "embedding is only for JPEG"
EXTENDED_NOTE = "has Extended XMP: left alone, photorank writes only the standard packet"


def _packet_bytes(serialized: bytes) -> bytes:
    # Whitespace after the xpacket trailer is meaningless; none is written.
    return serialized.rstrip(b" \t\r\n")


def _embed_change(merge_packet: Callable[[bytes | None], tuple[bytes | None, list[str]]]) -> Change:
    """A change of a JPEG file made from a change of its XMP packet."""

    def change(data: bytes | None) -> tuple[bytes | None, list[str]]:
        assert data is not None
        if not jpeg.is_jpeg(data):
            return data, [ONLY_JPEG]
        where = jpeg.locate(data)
        packet, notes = merge_packet(where.packet)
        if where.has_extended:
            notes.insert(0, EXTENDED_NOTE)
        if packet is not None and packet == where.packet:
            return data, notes
        if packet is not None:
            packet = _packet_bytes(packet)
        return jpeg.with_packet(where, packet), notes

    return change


def _embed_write(image_path: str, ratings: list[PersonRating], overwrite_ratings: bool,
                 unrated: Collection[int], dry_run: bool) -> FileResult:
    def change(data: bytes | None) -> tuple[bytes | None, list[str]]:
        def merge_packet(packet):
            return merge.apply(packet, ratings, overwrite_ratings=overwrite_ratings, unrated=unrated,
                               empty=embedded.new_packet(data) if packet is None else jpeg.EMPTY_PACKET)

        return _embed_change(merge_packet)(data)

    return _update_file(image_path, change, create=False, missing="no such file", dry_run=dry_run,
                        packet_of=_packet_in)


def _packet_in(data: bytes | None) -> bytes | None:
    return jpeg.locate(data).packet if data is not None and jpeg.is_jpeg(data) else None


def _embed_undo(image_path: str, person: str | None, dry_run: bool) -> FileResult:
    def change(data: bytes | None) -> tuple[bytes | None, list[str]]:
        def merge_packet(packet):
            if packet is None:
                return None, ["no embedded XMP"]
            return merge.remove(packet, person, created_from=embedded.new_packet(data))

        # no packet: None, None puts "no segment" where there was none, i.e. no change
        return _embed_change(merge_packet)(data)

    return _update_file(image_path, change, create=False, missing="no such file", dry_run=dry_run,
                        packet_of=_packet_in)


# ---- public API ----------------------------------------------------------


def write_ratings(image_path: str | os.PathLike, ratings: Iterable[PersonRating], *,
                  naming: str = "auto", overwrite_ratings: bool = False,
                  unrated: Collection[int] = (0,), embed: bool = False,
                  dry_run: bool = False) -> WriteOutcome:
    """Merge one or more persons' results for one image into its sidecar(s).

    unrated: the xmp:Rating values that count as 'not rated by the user' and
    may be replaced (absent always counts); darktable users pass (0, 1),
    since darktable gives every imported photo 1 star.  A reject (-1) is
    never replaced, not even with overwrite_ratings.
    embed: also merge into the XMP packet embedded in the image, if it is a
    JPEG file.
    A sidecar created here starts from the image's own rating, label, title,
    description, keywords and face regions (embedded XMP, EXIF rating), so a
    rating set in the camera or by another program counts as the user's.
    dry_run: report what would be written (each file's action, notes and changes), write nothing.
    """
    ratings = list(ratings)
    unrated = merge.check_unrated(unrated)
    outcome = WriteOutcome()
    for path in sidecar_paths(image_path, naming):
        outcome.files.append(_update_file(
            path, lambda data: merge.apply(
                data, ratings, overwrite_ratings=overwrite_ratings, unrated=unrated,
                empty=embedded.new_sidecar(image_path) if data is None else rdf.EMPTY_SIDECAR),
            create=True, dry_run=dry_run))
    if embed:
        outcome.files.append(_embed_write(os.fspath(image_path), ratings, overwrite_ratings, unrated, dry_run))
    return outcome


def write_rating(image_path: str | os.PathLike, rating: PersonRating, *, naming: str = "auto",
                 overwrite_ratings: bool = False, unrated: Collection[int] = (0,),
                 embed: bool = False, dry_run: bool = False) -> WriteOutcome:
    """Merge one person's result for one image into its sidecar(s)."""
    return write_ratings(image_path, [rating], naming=naming, overwrite_ratings=overwrite_ratings,
                         unrated=unrated, embed=embed, dry_run=dry_run)


def undo(image_path: str | os.PathLike, person: str | None = None, *,
         naming: str = "auto", embed: bool = False, dry_run: bool = False) -> WriteOutcome:
    """Take photorank's data (for one person, or all) out of the image's sidecar(s).

    embed: also out of the XMP packet embedded in a JPEG (the XMP segment is
    removed again if photorank created it).
    """
    outcome = WriteOutcome()
    for path in sidecar_paths(image_path, naming):
        outcome.files.append(_update_file(
            path, lambda data: merge.remove(data, person, created_from=embedded.new_sidecar(image_path)),
            create=False, dry_run=dry_run))
    if embed:
        outcome.files.append(_embed_undo(os.fspath(image_path), person, dry_run))
    return outcome
