"""The library: one object that owns what lives longer than a request.

    with Library() as library:
        report = library.rank(RankRequest([ReferenceSpec("alice.jpg")], ["~/Pictures/2024"]))

A `Library` holds the settings (read once), the face engine, the face cache, one pool of
worker processes for analysis (workers.py: shared by every request, so concurrent requests never
run more analyses than there are workers, and a photo two requests want is analysed once), and
every cached face in memory (known_faces.py). The CLI makes one for a single command; the
daemon keeps one for its lifetime, which is what makes a second ranking of a folder near-instant.

Verbs: `rank`, `index`, `analyze`, `write_back`, `undo`, `status`; the steps behind them are
private. Every request is checked before any long work; a user's mistake raises a
PhotorankError with a sentence to show.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from stat import S_ISREG

import numpy as np

from . import __version__
from .analysis import analysis_key, collect_images, engine_choice, os_error_text
from .api import (
    IndexSummary,
    LibraryStatus,
    PeopleRequest,
    PhotoResult,
    Progress,
    ProgressEvent,
    RankingReport,
    RankRequest,
    Reference,
    ReferenceSpec,
    XmpOptions,
)
from .cache import FaceCache, fingerprint
from .collection import check_paths, require_photos
from .config import load_settings
from .errors import PhotorankError, stop_if_cancelled
from .faces import engine_name
from .identity import Match, find_people, find_person
from .known_faces import KnownFaces, stored_faces_of
from .ranking import judge_photo, order_results, pick_reference
from .records import ImageRecord, SeenFile
from .regions import TagReader
from .settings import Settings
from .tagged import OtherTag, PersonTags, apply_to_matches, person_tags, region_only_results, spread
from .together import judge_set, one_face_each
from .workers import Analyser, analyse_all
from .writeback import WriteBackSummary, undo_paths, write_back

log = logging.getLogger(__name__)

# How many files a request stats and fingerprints between two looks at whether its client has gone.
CANCEL_CHECK_FILES = 500


@dataclass
class Synced:
    """A collection in step with the cache: each readable file's content, and each error."""

    fingerprints: dict[str, str] = field(default_factory=dict)  # path -> fingerprint
    errors: dict[str, str] = field(default_factory=dict)  # path -> why it cannot be used
    analysed: int = 0  # photos analysed by this request
    cached: int = 0  # photos answered from the cache (unchanged, moved, or a copy of one analysed now)


class Library:
    """Settings, engine, face cache, workers and the known faces, for many requests."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        engine: str | None = None,
        cache_path: str | None = None,
        workers: int | None = None,
        preload: bool = False,
    ):
        """`engine`: a registered engine's name or "auto" (None: the config's [analysis] engine).
        `preload`: read every cached face into memory now (the daemon, which serves many
        requests); otherwise each request reads the faces of its own photos (one command)."""
        self.settings = settings or load_settings()
        choice = engine_choice(engine, self.settings)
        self.engine = choice.build()  # cheap: models load in the workers, on first use
        choice = replace(choice, name=engine_name(self.engine))  # the workers run the engine `auto` chose here
        self.key = analysis_key(self.engine, self.settings.measuring)
        self.threshold = self.settings.matching.threshold or self.engine.match_threshold
        self.cache = FaceCache(cache_path)
        try:
            self._faces = KnownFaces(self.cache.stored_faces(self.key) if preload else self.cache.stored_faces(self.key, []))
        except BaseException:
            self.cache.close()
            raise
        self.analyser = Analyser(choice, self.settings.measuring, workers or os.cpu_count() or 1, self._store, self._recall)
        self._tags = TagReader()  # the people the user tagged, read from the photos' XMP as they change
        self._prepared = False

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.analyser.close()
        self.cache.close()

    # --- verbs ---------------------------------------------------------------------------------

    def rank(self, request: RankRequest | PeopleRequest, progress: Progress | None = None,
             cancel: threading.Event | None = None) -> RankingReport:
        """Find the person of the references in the photos of `request.paths`, judge, rank, and
        write back when asked. The references are checked before the collection is looked at.
        A PeopleRequest ranks for several people (_rank_people)."""
        if isinstance(request, PeopleRequest):
            return self._rank_people(request, progress, cancel)
        began = time.perf_counter()
        if request.references:
            check_paths([spec.path for spec in request.references], "reference")
        check_paths(request.paths)
        person = request.person or ""
        if not request.references:
            self._require_tags(person, request.paths, request.recursive)
        references = self._references(request.references, progress, cancel)
        files, synced, errors, paths, contents = self._collection_to_rank(request.paths, request.recursive, progress, cancel)
        embeddings, owners, face_numbers = self._faces.lookup(contents)
        tags, tagged_records = self._person_tags(person, paths, synced.fingerprints) if person else (PersonTags(), {})
        references = references + spread(tags.references, self.settings.matching.max_tagged_references)
        if not references and not tags.region_only:  # its tagged photos could not be read
            raise PhotorankError(no_tagged_face(person))
        matches = find_person(np.stack([reference.embedding for reference in references]), embeddings, owners,
                              self.settings.matching, self.threshold) if references else {}
        matches, tagged_as_other = self._apply_tags(tags, matches, paths, synced.fingerprints, contents, embeddings,
                                                   owners, face_numbers, references)
        judged = self._judge(paths, synced.fingerprints, contents, matches, face_numbers)
        results = [result for result in judged.values() if result is not None]
        for result in results:
            result.tagged = "person" if result.path in tags.faces else ""
        region_only = region_only_results(tags, tagged_records, {result.path for result in results}, self.settings)
        results += region_only
        judged.update((result.path, result) for result in region_only)
        report = RankingReport(
            engine=self.engine.id,
            references=references,
            results=order_results(results, self.settings, request.best_of_burst, request.include_unsure)[: request.top or None],
            not_found_paths=[path for path in paths if judged[path] is None],
            errors=[(path, errors[path]) for path in files if path in errors],
            threshold=self.threshold,
            found=len(results),
            tagged_as_other=tagged_as_other,
            person=person,
        )
        if progress:
            progress(ProgressEvent("ranking", len(paths), len(paths)))
        log.info("rank: %d photos, the person in %d, in %.0f ms", len(files), report.found, (time.perf_counter() - began) * 1000)
        if request.write_xmp:
            stop_if_cancelled(cancel)  # a client that went away must not have its sidecars changed
            report.written = self.write_back(report, person, request.xmp, progress)
        return report

    def index(self, paths: list[str], recursive: bool = False, progress: Progress | None = None,
              cancel: threading.Event | None = None) -> IndexSummary:
        """Bring the cache up to date with the photos of `paths`, ahead of any ranking."""
        check_paths(paths)
        # No photos is no mistake here: a watched folder may be empty for now.
        files, synced = self._sync_collection(paths, recursive, progress, cancel, photos_required=False)
        return IndexSummary(
            photos=len(files),
            analysed=synced.analysed,
            cached=synced.cached,
            errors=sorted(self._unreadable(synced).items()),
        )

    def analyze(self, paths: list[str], recursive: bool = False, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> dict[str, ImageRecord]:
        """Every photo's record: faces, signals, or the reason it could not be read."""
        check_paths(paths)
        _, synced = self._sync_collection(paths, recursive, progress, cancel)
        return self._records_of(synced)

    def write_back(self, report: RankingReport, person: str, options: XmpOptions | None = None,
                   progress: Progress | None = None) -> WriteBackSummary:
        if progress:
            progress(ProgressEvent("writing", 0, len(report.results)))
        options = options or XmpOptions()
        summary = write_back(report, person, options.over(self.settings.xmp), options.dry_run)
        if progress:
            progress(ProgressEvent("writing", len(report.results), len(report.results)))
        return summary

    def undo(self, paths: list[str], recursive: bool = False, person: str | None = None,
             options: XmpOptions | None = None) -> WriteBackSummary:
        """Take photorank's data (one person's, or all) out of the sidecars of these photos."""
        check_paths(paths)
        files, folders = collect_images(paths, recursive)
        require_photos(files, folders, recursive)
        options = options or XmpOptions()
        return undo_paths(files, person, options.over(self.settings.xmp), options.dry_run)

    def stale_paths(self) -> list[str]:
        """The files the cache knows that were analysed under another engine or settings only:
        what the daemon re-indexes in the background (reindex.py)."""
        return self.cache.stale_paths(self.key)

    def status(self) -> LibraryStatus:
        files, images, faces = self.cache.counts(self.key)
        index_faces, index_bytes = self._faces.size()
        return LibraryStatus(
            version=__version__,
            engine=self.engine.id,
            analysis_key=self.key,
            smile_model=self.settings.expression.backend,
            cache_path=self.cache.path,
            files=files,
            images=images,
            faces=faces,
            index_faces=index_faces,
            index_bytes=index_bytes,
            queued=self.analyser.queued,
            analyses_started=self.analyser.started,
            workers=self.analyser.workers,
        )

    # --- the steps -----------------------------------------------------------------------------

    def _rank_people(self, request: PeopleRequest, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> RankingReport:
        """Rank for a set of people (together.py): each member's face found in the same pass over
        the collection's faces, each photo judged on every member present."""
        began = time.perf_counter()
        check_paths([spec.path for person in request.people for spec in person.references], "reference")
        check_paths(request.paths)
        found_references = iter(self._references([spec for person in request.people for spec in person.references], progress, cancel))
        people = [(person.name, [next(found_references) for _ in person.references]) for person in request.people]
        files, synced, errors, paths, contents = self._collection_to_rank(request.paths, request.recursive, progress, cancel)
        embeddings, owners, face_numbers = self._faces.lookup(contents)
        matches = find_people(
            [np.stack([reference.embedding for reference in references]) for _, references in people],
            embeddings, owners, self.settings.matching, self.threshold,
        )
        by_photo = one_face_each(dict(zip([name for name, _ in people], matches)))
        wanted = {contents[photo]: members for photo, members in by_photo.items()
                  if request.mode == "any" or len(members) == len(people)}
        records = self.cache.load_many({path: synced.fingerprints[path] for path in paths if synced.fingerprints[path] in wanted}, self.key)
        judged = {
            path: judge_set(record, {name: (record.faces[face_numbers[match.face]], match.similarity, match.sure)
                                     for name, match in wanted[synced.fingerprints[path]].items()},
                            [name for name, _ in people], request.mode, self.settings)
            for path, record in records.items()
        }
        results = [result for result in judged.values() if result is not None]
        report = RankingReport(
            engine=self.engine.id,
            references=[reference for _, references in people for reference in references],
            results=order_results(results, self.settings, request.best_of_burst, request.include_unsure)[: request.top or None],
            not_found_paths=[path for path in paths if judged.get(path) is None],
            errors=[(path, errors[path]) for path in files if path in errors],
            threshold=self.threshold,
            found=len(results),
            mode=request.mode,
            people=people,
            person=request.set_name,
        )
        if progress:
            progress(ProgressEvent("ranking", len(paths), len(paths)))
        log.info("rank %s: %d photos, found in %d, in %.0f ms", request.set_name, len(files), report.found,
                 (time.perf_counter() - began) * 1000)
        if request.write_xmp:
            stop_if_cancelled(cancel)
            report.written = self.write_back(report, request.set_name, request.xmp, progress)
        return report

    def _collection_to_rank(self, paths: list[str], recursive: bool, progress: Progress | None,
                            cancel: threading.Event | None) -> tuple[list[str], Synced, dict[str, str], list[str], list[str]]:
        """The collection in step with the cache: (files, synced, unreadable, readable paths, their
        contents). One content may sit at several paths (a copy, an export): it is one image to
        the decision."""
        files, synced = self._sync_collection(paths, recursive, progress, cancel)
        if progress:
            progress(ProgressEvent("ranking", 0, len(synced.fingerprints)))
        errors = self._unreadable(synced)
        readable = [path for path in files if path in synced.fingerprints and path not in errors]
        return files, synced, errors, readable, list(dict.fromkeys(synced.fingerprints[path] for path in readable))

    def _references(self, specs: list[ReferenceSpec], progress: Progress | None = None, cancel: threading.Event | None = None):
        """The person's face in each reference photo (analysed first if need be)."""
        paths = [os.path.abspath(spec.path) for spec in specs]
        records = self._records(paths, progress, cancel, phase="references")
        return [pick_reference(records[path], spec) for path, spec in zip(paths, specs)]

    def _unreadable(self, synced: Synced) -> dict[str, str]:
        """path -> error, for files that could not be read now or when they were analysed."""
        stored = self._faces.errors_of(set(synced.fingerprints.values()))
        return {**synced.errors, **{path: stored[fp] for path, fp in synced.fingerprints.items() if fp in stored}}

    def _records(self, paths: list[str], progress: Progress | None = None, cancel: threading.Event | None = None,
                 phase: str = "indexing") -> dict[str, ImageRecord]:
        """Whole records of `paths`, analysing what is not cached; unreadable files as error records."""
        return self._records_of(self._sync(paths, progress, cancel, phase))

    def _records_of(self, synced: Synced) -> dict[str, ImageRecord]:
        records = self.cache.load_many(synced.fingerprints, self.key)
        records.update((path, ImageRecord(path=path, error=error)) for path, error in synced.errors.items())
        return records

    def _sync_collection(self, paths: list[str], recursive: bool, progress: Progress | None = None,
                         cancel: threading.Event | None = None, photos_required: bool = True) -> tuple[list[str], Synced]:
        """The image files of `paths`, in step with the cache; files gone from their folders forgotten.
        With `photos_required`, finding none raises NoPhotos saying where photos are."""
        files, folders = collect_images(paths, recursive)
        if photos_required:
            require_photos(files, folders, recursive)
        synced = self._sync(files, progress, cancel)
        # A folder where no photo was found is not pruned: an unmounted drive must not cost its cache.
        holding = [folder for folder in folders if any(path.startswith(os.path.join(folder, "")) for path in files)]
        self._faces.forget(self.cache.prune(holding, set(files)))
        return files, synced

    def _require_tags(self, person: str, paths: list[str], recursive: bool) -> None:
        """With no reference photo, some face region must name the person: said before any analysis."""
        files, _ = collect_images(paths, recursive)
        if not any(region.area for photo in self._tags.read(files).values() for region in photo.naming(person)):
            raise PhotorankError(no_tagged_face(person))

    def _person_tags(self, person: str, paths: list[str], fingerprints: dict[str, str]) -> tuple[PersonTags, dict[str, ImageRecord]]:
        """What the photos' own XMP says of the person: tagged faces, region-only photos, faces
        tagged as others; and the records of the photos that have named regions."""
        photo_tags = {path: found for path, found in self._tags.read(paths).items() if found.regions}
        for path, found in photo_tags.items():
            for error in found.errors:
                log.warning("%s", error)
        records = self.cache.load_many({path: fingerprints[path] for path in photo_tags}, self.key)
        return person_tags(person, photo_tags, records), records

    @staticmethod
    def _apply_tags(tags: PersonTags, matches: dict[int, Match], paths: list[str], fingerprints: dict[str, str],
                    contents: list[str], embeddings: np.ndarray, owners: np.ndarray, face_numbers: np.ndarray,
                    references: list[Reference]) -> tuple[dict[int, Match], list[OtherTag]]:
        """The matches with the user's tags applied (tagged.apply_to_matches), on the index's rows."""
        tagged_paths = set(tags.faces) | set(tags.others)
        if not tagged_paths:
            return matches, []
        position = {content: number for number, content in enumerate(contents)}
        paths_of: dict[int, list[str]] = {}
        for path in paths:
            if path in tagged_paths:
                paths_of.setdefault(position[fingerprints[path]], []).append(path)
        selected = np.flatnonzero(np.isin(owners, list(paths_of)))
        rows = {(int(owners[row]), int(face_numbers[row])): int(row) for row in selected}
        return apply_to_matches(tags, matches, paths_of, rows, embeddings, references)

    def _judge(self, paths: list[str], fingerprints: dict[str, str], contents: list[str], matches: dict[int, Match],
               face_numbers: np.ndarray) -> dict[str, PhotoResult | None]:
        """path -> result, or None where the person is not; only the photos they are in are read.
        `matches` name their photo by its position in `contents` (fingerprints). Each photo is
        judged on its own, neither against the references nor against the other photos: its
        score and stars do not depend on which photo of the person is the reference, nor on
        what else is ranked."""
        by_content = {contents[photo]: match for photo, match in matches.items()}
        found = {path: by_content[fingerprints[path]] for path in paths if fingerprints[path] in by_content}
        records = self.cache.load_many({path: fingerprints[path] for path in found}, self.key)  # a photo pruned meanwhile is absent
        judged = {
            path: judge_photo(record, record.faces[face_numbers[found[path].face]], found[path].similarity, found[path].sure, self.settings)
            for path, record in records.items()
        }
        return {path: judged.get(path) for path in paths}

    def _sync(self, paths: list[str], progress: Progress | None = None, cancel: threading.Event | None = None,
              phase: str = "indexing") -> Synced:
        """Bring the cache and the index in step with `paths`: unchanged files are answered from
        a bulk read of the cache, moved ones by their fingerprint, new ones by the workers."""
        synced = Synced()
        states = self.cache.file_states(paths, self.key)
        pending: list[SeenFile] = []
        for number, path in enumerate(paths):
            if number % CANCEL_CHECK_FILES == 0:
                stop_if_cancelled(cancel)
            try:
                stat = os.stat(path)
                if not S_ISREG(stat.st_mode):
                    raise IsADirectoryError(path)
                state = states.get(path)
                if state and state.analysed and (state.size, state.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                    synced.fingerprints[path] = state.fingerprint
                    synced.cached += 1
                    continue
                pending.append(SeenFile(path, stat.st_size, stat.st_mtime_ns, fingerprint(path, stat.st_size)))
            except OSError as error:
                synced.errors[path] = os_error_text(error)
        if pending:  # moved, renamed or touched files whose content is known need no analysis
            known = self.cache.analysed([seen.fingerprint for seen in pending], self.key)
            still = []
            for seen in pending:
                if seen.fingerprint in known and self._remember(seen):
                    synced.fingerprints[seen.path] = seen.fingerprint
                    synced.cached += 1
                else:
                    still.append(seen)
            pending = still
        self._load_into_index(set(synced.fingerprints.values()))
        done = len(paths) - len(pending)
        if progress:
            progress(ProgressEvent(phase, done, len(paths)))
        if pending:
            self._prepare_models()
            first: dict[str, SeenFile] = {}  # one analysis per content
            for seen in pending:
                first.setdefault(seen.fingerprint, seen)
            copies = [seen for seen in pending if first[seen.fingerprint] is not seen]
            for analysed, record in analyse_all(self.analyser, list(first.values()), cancel):
                for seen in [analysed] + [copy for copy in copies if copy.fingerprint == analysed.fingerprint]:
                    analysed_now = seen is analysed
                    if record.error:
                        synced.errors[seen.path] = record.error
                    else:
                        synced.fingerprints[seen.path] = seen.fingerprint
                        if not analysed_now:
                            self._remember(seen)
                    synced.analysed += analysed_now
                    synced.cached += not analysed_now and not record.error
                    done += 1
                    if progress:
                        progress(ProgressEvent(phase, done, len(paths), seen.path))
        return synced

    def _remember(self, seen: SeenFile) -> bool:
        """Note where a known content is now; False when its analysis has gone meanwhile."""
        return self.cache.remember_file(seen.path, seen.size, seen.mtime_ns, seen.fingerprint)

    def _prepare_models(self) -> None:
        """Fetch the smile model once, in this process, before work spreads over the workers."""
        if not self._prepared:
            from . import signals

            signals.prepare(self.settings.measuring)
            self._prepared = True

    def _store(self, seen: SeenFile, record: ImageRecord, lasting: bool) -> None:
        """Called as each analysis finishes: into the cache (file row and analysis in one
        transaction) and the in-memory index. A failure that may pass is not stored."""
        if not lasting:
            return
        self.cache.store(seen.path, seen.size, seen.mtime_ns, seen.fingerprint, self.key, record)
        self._faces.add(stored_faces_of(seen.fingerprint, record))

    def _recall(self, seen: SeenFile) -> ImageRecord | None:
        """The record of a content this process has analysed and stored, else None."""
        if self._faces.missing({seen.fingerprint}):
            return None
        return self.cache.load_many({seen.path: seen.fingerprint}, self.key).get(seen.path)

    def _load_into_index(self, fingerprints: set[str]) -> None:
        """Images another process (a CLI run beside the daemon) analysed since the index was built."""
        missing = self._faces.missing(fingerprints)
        if missing:
            self._faces.add(self.cache.stored_faces(self.key, sorted(missing)))


def no_tagged_face(person: str) -> str:
    return (f"no reference: no face in these photos is tagged {person!r} (`photorank people` lists the names "
            "tagged); give a reference photo with --ref")

