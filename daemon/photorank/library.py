"""The library: one object that owns what lives longer than a request.

    with Library() as library:
        report = library.rank(RankRequest([ReferenceSpec("alice.jpg")], ["~/Pictures/2024"]))

A `Library` holds the settings (read once), the face engine, the face cache, one pool of
worker processes for analysis (shared by every request, so concurrent requests never run more
analyses than there are workers, and a photo two requests want is analysed once), and an
in-memory index of every cached face. The CLI makes one for a single command; the daemon keeps
one for its lifetime, which is what makes a second ranking of a folder near-instant.

Verbs: `rank`, `index`, `analyze`, `write_back`, `undo`, `status`. Every request is checked
before any long work; a user's mistake raises a PhotorankError with a sentence to show.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from stat import S_ISREG

import numpy as np

from . import __version__, lifeline
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
from .cache import FaceCache, StoredFaces, fingerprint
from .collection import check_paths, require_photos
from .config import load_settings
from .errors import Cancelled, PhotorankError, stop_if_cancelled
from .identity import Match, find_people, find_person
from .index import EngineChoice, analyse_in_worker, analysis_key, collect_images, engine_choice, os_error_text, start_worker
from .ranking import judge_photo, order_results, pick_reference
from .records import ImageRecord
from .regions import TagReader
from .settings import MeasuringSettings, Settings
from .tagged import OtherTag, PersonTags, apply_to_matches, person_tags, region_only_results, spread
from .together import judge_set, one_face_each
from .writeback import WriteBackSummary, undo_paths, write_back

log = logging.getLogger(__name__)

# Analyses one request keeps queued per worker: enough to keep every core busy, few enough that a
# cancelled request stops within a photo or two and other requests' photos are not stuck behind it.
QUEUED_PER_WORKER = 2
# How often a waiting request looks at whether its client has gone; and how many files it
# stats and fingerprints between two looks.
CANCEL_POLL_SECONDS = 0.2
CANCEL_CHECK_FILES = 500
SHUTTING_DOWN = "photorank is shutting down; what was analysed so far is kept"
WORKER_DIED = "analysis interrupted: a worker process died (out of memory?); run again to retry this photo"


@dataclass
class Synced:
    """A collection in step with the cache: each readable file's content, and each error."""

    fingerprints: dict[str, str] = field(default_factory=dict)  # path -> fingerprint
    errors: dict[str, str] = field(default_factory=dict)  # path -> why it cannot be used
    analysed: int = 0  # photos analysed by this request
    cached: int = 0  # photos answered from the cache (unchanged, moved, or a copy of one analysed now)


class FaceIndex:
    """Every cached face of one analysis key in memory: one float32 matrix and its owners.

    Built from one bulk read of the cache; kept current as images are analysed. A request asks
    for the rows of the images it looks at and finds the person with one matrix product.
    """

    def __init__(self, stored: StoredFaces):
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._next_id = 0
        self._errors: dict[int, str] = {}
        self._embeddings = np.zeros((0, 0), np.float32)
        self._owners = np.zeros(0, np.int32)
        self._face_numbers = np.zeros(0, np.int32)
        self._pending: list[StoredFaces] = []
        self.add(stored)

    def add(self, stored: StoredFaces) -> None:
        with self._lock:
            self._pending.append(stored)

    def _id_of(self, fingerprint: str) -> int:
        """The image's number; a fingerprint analysed again (another process) keeps only its new rows."""
        old = self._ids.get(fingerprint)
        if old is not None:
            self._owners[self._owners == old] = -1
            self._errors.pop(old, None)
        self._ids[fingerprint] = self._next_id
        self._next_id += 1
        return self._ids[fingerprint]

    def _consolidate(self) -> None:
        """Fold the images added since the last query into the matrix (called under the lock)."""
        if not self._pending:
            return
        embeddings, owners, numbers = [self._embeddings], [self._owners], [self._face_numbers]
        for stored in self._pending:
            ids = np.array([self._id_of(fp) for fp in stored.fingerprints], dtype=np.int32)
            self._errors.update((self._ids[fp], error) for fp, error in stored.errors.items())
            if len(stored.owners):
                embeddings.append(stored.embeddings)
                owners.append(ids[stored.owners])
                numbers.append(stored.face_numbers)
        embeddings = [matrix for matrix in embeddings if matrix.size]
        self._embeddings = np.concatenate(embeddings) if embeddings else self._embeddings
        self._owners = np.concatenate(owners)
        self._face_numbers = np.concatenate(numbers)
        self._pending.clear()

    def forget(self, fingerprints: set[str]) -> None:
        """Drop pruned images: their rows stay in the matrix but no longer belong to any image."""
        with self._lock:
            self._consolidate()
            for fp in fingerprints:
                number = self._ids.pop(fp, None)
                if number is not None:
                    self._errors.pop(number, None)
                    self._owners[self._owners == number] = -1

    def missing(self, fingerprints: set[str]) -> set[str]:
        with self._lock:
            self._consolidate()
            return {fp for fp in fingerprints if fp not in self._ids}

    def lookup(self, fingerprints: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The faces of these images: embeddings, owners (position in `fingerprints`), face numbers."""
        with self._lock:
            self._consolidate()
            ids = np.array([self._ids.get(fp, -1) for fp in fingerprints], dtype=np.int64)
            known = ids >= 0
            # Image id -> position in `fingerprints`; the extra last slot catches pruned rows (-1).
            position = np.full(self._next_id + 1, -1, dtype=np.int64)
            position[ids[known]] = np.nonzero(known)[0]
            rows = np.nonzero(position[self._owners] >= 0)[0]
            return self._embeddings[rows], position[self._owners[rows]].astype(np.int32), self._face_numbers[rows]

    def errors_of(self, fingerprints: set[str]) -> dict[str, str]:
        """fingerprint -> why that image could not be read, for those of `fingerprints` that could not."""
        with self._lock:
            self._consolidate()
            return {fp: self._errors[self._ids[fp]] for fp in fingerprints if self._ids.get(fp) in self._errors}

    def size(self) -> tuple[int, int]:
        """(faces, bytes) held in memory."""
        with self._lock:
            self._consolidate()
            return len(self._owners), self._embeddings.nbytes + self._owners.nbytes + self._face_numbers.nbytes


class Analyser:
    """The worker processes, shared by all requests; each photo in flight is analysed once.

    Results are stored in the cache (and the index) as each photo finishes, by the pool's
    callback thread, so what a cancelled or killed request had analysed is never lost. A worker
    that dies (out of memory, a crash in a decoder) fails only the photos it had in hand, as
    per-file errors that are not cached; the next photo gets a new pool.
    """

    def __init__(self, choice: EngineChoice, measuring: MeasuringSettings, workers: int, store, recall):
        self.workers = workers
        self._start = (choice, measuring)
        self._store = store  # (path, size, mtime_ns, fingerprint, record, lasting) -> None
        self._recall = recall  # (path, fingerprint) -> the stored ImageRecord, or None
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._lock = threading.Lock()
        # By path and content: a request that sees a newer version of a file never joins the
        # analysis of the older one.
        self._in_flight: dict[tuple[str, str], Future] = {}
        self.started = 0  # analyses handed to the workers since the library was made

    def submit(self, path: str, size: int, mtime_ns: int, file_fingerprint: str) -> Future:
        """A future of the photo's ImageRecord; joins the analysis already running for it."""
        key = (path, file_fingerprint)
        with self._lock:
            if self._closed:
                raise Cancelled(SHUTTING_DOWN)
            if key in self._in_flight:
                return self._in_flight[key]
            # Finished by another request since this one looked at the cache (stored before it
            # left _in_flight): answered from the cache, not analysed twice.
            stored = self._recall(path, file_fingerprint)
            if stored is not None:
                done: Future = Future()
                done.set_result(stored)
                return done
            if self._pool is None:
                # forkserver: workers never inherit the request threads or the open cache.
                # Tied to this process (lifeline): no worker outlives it, even after kill -9.
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=lifeline.forkserver_context(),
                    initializer=lifeline.start_child, initargs=(start_worker, *self._start),
                )
            pool = self._pool
            outcome: Future = Future()
            self._in_flight[key] = outcome
            self.started += 1
            task = pool.submit(analyse_in_worker, path)
        task.add_done_callback(lambda task: self._finish(key, size, mtime_ns, task, outcome, pool))
        return outcome

    def _finish(self, key, size: int, mtime_ns: int, task: Future, outcome: Future, pool: ProcessPoolExecutor) -> None:
        path, file_fingerprint = key
        record: ImageRecord | None = None
        failure: BaseException | None = None
        try:
            try:
                record, lasting = task.result()
            except BrokenProcessPool:
                self._retire(pool)
                record, lasting = ImageRecord(path=path, error=WORKER_DIED), False
            self._store(path, size, mtime_ns, file_fingerprint, record, lasting)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request
            failure = error
        with self._lock:
            self._in_flight.pop(key, None)
        try:
            if failure is None:
                outcome.set_result(record)
            else:
                outcome.set_exception(failure)
        except InvalidStateError:
            pass  # close() failed it already

    def _retire(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def close(self) -> None:
        """No new analyses; those queued are dropped, those running finish and are stored."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            abandoned, self._in_flight = list(self._in_flight.values()), {}
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for outcome in abandoned:  # a request still waiting on one learns why, instead of waiting forever
            try:
                outcome.set_exception(Cancelled(SHUTTING_DOWN))
            except InvalidStateError:
                pass


class Library:
    """Settings, engine, face cache, workers and the in-memory face index, for many requests."""

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
        self.key = analysis_key(self.engine, self.settings.measuring)
        self.threshold = self.settings.matching.threshold or self.engine.match_threshold
        self.cache = FaceCache(cache_path)
        try:
            self.faces = FaceIndex(self.cache.stored_faces(self.key) if preload else self.cache.stored_faces(self.key, []))
        except BaseException:
            self.cache.close()
            raise
        self.analyser = Analyser(choice, self.settings.measuring, workers or os.cpu_count() or 1, self._store, self._recall)
        self.tags = TagReader()  # the people the user tagged, read from the photos' XMP as they change
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
        A PeopleRequest ranks for several people (rank_people)."""
        if isinstance(request, PeopleRequest):
            return self.rank_people(request, progress, cancel)
        began = time.perf_counter()
        if request.references:
            check_paths([spec.path for spec in request.references], "reference")
        check_paths(request.paths)
        person = request.person or ""
        if not request.references:
            self.require_tags(person, request.paths, request.recursive)
        references = self.references(request.references, progress, cancel)
        files, synced, errors, paths, contents = self.collection_to_rank(request.paths, request.recursive, progress, cancel)
        embeddings, owners, face_numbers = self.faces.lookup(contents)
        tags, tagged_records = self.person_tags(person, paths, synced.fingerprints) if person else (PersonTags(), {})
        references = references + spread(tags.references, self.settings.matching.max_tagged_references)
        if not references and not tags.region_only:  # its tagged photos could not be read
            raise PhotorankError(no_tagged_face(person))
        matches = find_person(np.stack([reference.embedding for reference in references]), embeddings, owners,
                              self.settings.matching, self.threshold) if references else {}
        matches, tagged_as_other = self.apply_tags(tags, matches, paths, synced.fingerprints, contents, embeddings,
                                                   owners, face_numbers, references)
        judged = self.judge(paths, synced.fingerprints, contents, matches, face_numbers)
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

    def rank_people(self, request: PeopleRequest, progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> RankingReport:
        """Rank for a set of people (together.py): each member's face found in the same pass over
        the collection's faces, each photo judged on every member present."""
        began = time.perf_counter()
        check_paths([spec.path for person in request.people for spec in person.references], "reference")
        check_paths(request.paths)
        found_references = iter(self.references([spec for person in request.people for spec in person.references], progress, cancel))
        people = [(person.name, [next(found_references) for _ in person.references]) for person in request.people]
        files, synced, errors, paths, contents = self.collection_to_rank(request.paths, request.recursive, progress, cancel)
        embeddings, owners, face_numbers = self.faces.lookup(contents)
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

    def collection_to_rank(self, paths: list[str], recursive: bool, progress: Progress | None,
                           cancel: threading.Event | None) -> tuple[list[str], Synced, dict[str, str], list[str], list[str]]:
        """The collection in step with the cache: (files, synced, unreadable, readable paths, their
        contents). One content may sit at several paths (a copy, an export): it is one image to
        the decision."""
        files, synced = self.sync_collection(paths, recursive, progress, cancel)
        if progress:
            progress(ProgressEvent("ranking", 0, len(synced.fingerprints)))
        errors = self.unreadable(synced)
        readable = [path for path in files if path in synced.fingerprints and path not in errors]
        return files, synced, errors, readable, list(dict.fromkeys(synced.fingerprints[path] for path in readable))

    def references(self, specs: list[ReferenceSpec], progress: Progress | None = None, cancel: threading.Event | None = None):
        """The person's face in each reference photo (analysed first if need be)."""
        paths = [os.path.abspath(spec.path) for spec in specs]
        records = self.records(paths, progress, cancel, phase="references")
        return [pick_reference(records[path], spec) for path, spec in zip(paths, specs)]

    def index(self, paths: list[str], recursive: bool = False, progress: Progress | None = None,
              cancel: threading.Event | None = None) -> IndexSummary:
        """Bring the cache up to date with the photos of `paths`, ahead of any ranking."""
        check_paths(paths)
        # No photos is no mistake here: a watched folder may be empty for now.
        files, synced = self.sync_collection(paths, recursive, progress, cancel, photos_required=False)
        return IndexSummary(
            photos=len(files),
            analysed=synced.analysed,
            cached=synced.cached,
            errors=sorted(self.unreadable(synced).items()),
        )

    def analyze(self, paths: list[str], recursive: bool = False, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> dict[str, ImageRecord]:
        """Every photo's record: faces, signals, or the reason it could not be read."""
        check_paths(paths)
        _, synced = self.sync_collection(paths, recursive, progress, cancel)
        return self.records_of(synced)

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
        index_faces, index_bytes = self.faces.size()
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

    def unreadable(self, synced: Synced) -> dict[str, str]:
        """path -> error, for files that could not be read now or when they were analysed."""
        stored = self.faces.errors_of(set(synced.fingerprints.values()))
        return {**synced.errors, **{path: stored[fp] for path, fp in synced.fingerprints.items() if fp in stored}}

    def records(self, paths: list[str], progress: Progress | None = None, cancel: threading.Event | None = None,
                phase: str = "indexing") -> dict[str, ImageRecord]:
        """Whole records of `paths`, analysing what is not cached; unreadable files as error records."""
        return self.records_of(self.sync(paths, progress, cancel, phase))

    def records_of(self, synced: Synced) -> dict[str, ImageRecord]:
        records = self.cache.load_many(synced.fingerprints, self.key)
        records.update((path, ImageRecord(path=path, error=error)) for path, error in synced.errors.items())
        return records

    def sync_collection(self, paths: list[str], recursive: bool, progress: Progress | None = None,
                        cancel: threading.Event | None = None, photos_required: bool = True) -> tuple[list[str], Synced]:
        """The image files of `paths`, in step with the cache; files gone from their folders forgotten.
        With `photos_required`, finding none raises NoPhotos saying where photos are."""
        files, folders = collect_images(paths, recursive)
        if photos_required:
            require_photos(files, folders, recursive)
        synced = self.sync(files, progress, cancel)
        # A folder where no photo was found is not pruned: an unmounted drive must not cost its cache.
        holding = [folder for folder in folders if any(path.startswith(os.path.join(folder, "")) for path in files)]
        self.faces.forget(self.cache.prune(holding, set(files)))
        return files, synced

    def require_tags(self, person: str, paths: list[str], recursive: bool) -> None:
        """With no reference photo, some face region must name the person: said before any analysis."""
        files, _ = collect_images(paths, recursive)
        if not any(region.area for photo in self.tags.read(files).values() for region in photo.naming(person)):
            raise PhotorankError(no_tagged_face(person))

    def person_tags(self, person: str, paths: list[str], fingerprints: dict[str, str]) -> tuple[PersonTags, dict[str, ImageRecord]]:
        """What the photos' own XMP says of the person: tagged faces, region-only photos, faces
        tagged as others; and the records of the photos that have named regions."""
        photo_tags = {path: found for path, found in self.tags.read(paths).items() if found.regions}
        for path, found in photo_tags.items():
            for error in found.errors:
                log.warning("%s", error)
        records = self.cache.load_many({path: fingerprints[path] for path in photo_tags}, self.key)
        return person_tags(person, photo_tags, records), records

    @staticmethod
    def apply_tags(tags: PersonTags, matches: dict[int, Match], paths: list[str], fingerprints: dict[str, str],
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

    def judge(self, paths: list[str], fingerprints: dict[str, str], contents: list[str], matches: dict[int, Match],
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

    def sync(self, paths: list[str], progress: Progress | None = None, cancel: threading.Event | None = None,
             phase: str = "indexing") -> Synced:
        """Bring the cache and the index in step with `paths`: unchanged files are answered from
        a bulk read of the cache, moved ones by their fingerprint, new ones by the workers."""
        synced = Synced()
        states = self.cache.file_states(paths, self.key)
        pending: list[tuple[str, int, int, str]] = []
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
                pending.append((path, stat.st_size, stat.st_mtime_ns, fingerprint(path, stat.st_size)))
            except OSError as error:
                synced.errors[path] = os_error_text(error)
        if pending:  # moved, renamed or touched files whose content is known need no analysis
            known = self.cache.analysed([item[3] for item in pending], self.key)
            still = []
            for path, size, mtime_ns, file_fingerprint in pending:
                if file_fingerprint in known and self.cache.remember_file(path, size, mtime_ns, file_fingerprint):
                    synced.fingerprints[path] = file_fingerprint
                    synced.cached += 1
                else:
                    still.append((path, size, mtime_ns, file_fingerprint))
            pending = still
        self._load_into_index(set(synced.fingerprints.values()))
        done = len(paths) - len(pending)
        if progress:
            progress(ProgressEvent(phase, done, len(paths)))
        if pending:
            self._prepare_models()
            first: dict[str, tuple[str, int, int, str]] = {}  # one analysis per content
            for item in pending:
                first.setdefault(item[3], item)
            copies = [item for item in pending if first[item[3]] is not item]
            for (path, _, _, file_fingerprint), record in self._analyse(list(first.values()), cancel):
                for item in [first[file_fingerprint]] + [copy for copy in copies if copy[3] == file_fingerprint]:
                    analysed_now = item is first[file_fingerprint]
                    if record.error:
                        synced.errors[item[0]] = record.error
                    else:
                        synced.fingerprints[item[0]] = file_fingerprint
                        if not analysed_now:
                            self.cache.remember_file(*item)
                    synced.analysed += analysed_now
                    synced.cached += not analysed_now and not record.error
                    done += 1
                    if progress:
                        progress(ProgressEvent(phase, done, len(paths), item[0]))
        return synced

    def _analyse(self, pending: list[tuple[str, int, int, str]], cancel: threading.Event | None):
        """(pending item, record) as each photo is analysed, keeping a few per worker queued."""
        waiting = list(reversed(pending))
        running: dict[Future, tuple[str, int, int, str]] = {}
        window = self.analyser.workers * QUEUED_PER_WORKER
        while waiting or running:
            stop_if_cancelled(cancel)
            while waiting and len(running) < window:
                item = waiting.pop()
                running[self.analyser.submit(*item)] = item
            finished, _ = wait(running, timeout=CANCEL_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                yield running.pop(future), future.result()

    def _prepare_models(self) -> None:
        """Fetch the smile model once, in this process, before work spreads over the workers."""
        if not self._prepared:
            from . import signals

            signals.prepare(self.settings.measuring)
            self._prepared = True

    def _store(self, path: str, size: int, mtime_ns: int, file_fingerprint: str, record: ImageRecord, lasting: bool) -> None:
        """Called as each analysis finishes: into the cache (file row and analysis in one
        transaction) and the in-memory index. A failure that may pass is not stored."""
        if not lasting:
            return
        self.cache.store(path, size, mtime_ns, file_fingerprint, self.key, record)
        self.faces.add(stored_faces_of(file_fingerprint, record))

    def _recall(self, path: str, file_fingerprint: str) -> ImageRecord | None:
        """The record of a content this process has analysed and stored, else None."""
        if self.faces.missing({file_fingerprint}):
            return None
        return self.cache.load_many({path: file_fingerprint}, self.key).get(path)

    def _load_into_index(self, fingerprints: set[str]) -> None:
        """Images another process (a CLI run beside the daemon) analysed since the index was built."""
        missing = self.faces.missing(fingerprints)
        if missing:
            self.faces.add(self.cache.stored_faces(self.key, sorted(missing)))


def stored_faces_of(file_fingerprint: str, record: ImageRecord) -> StoredFaces:
    """One freshly analysed image in the shape of a bulk read, for the index."""
    embeddings = np.stack([face.embedding for face in record.faces]).astype(np.float32) if record.faces else np.zeros((0, 0), np.float32)
    return StoredFaces(
        fingerprints=[file_fingerprint],
        owners=np.zeros(len(record.faces), np.int32),
        face_numbers=np.arange(len(record.faces), dtype=np.int32),
        embeddings=embeddings,
        errors={file_fingerprint: record.error} if record.error else {},
    )


def no_tagged_face(person: str) -> str:
    return (f"no reference: no face in these photos is tagged {person!r} (`photorank people` lists the names "
            "tagged); give a reference photo with --ref")

