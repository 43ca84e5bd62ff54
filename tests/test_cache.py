"""The face cache: unchanged files are never opened again, moved files are recognised,
deleted ones pruned, interrupted runs resume, and --no-cache gives the same answers."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from programs import descendants, proc_text, start
from photorank import cache as cache_module
from photorank.workers import Analyser
from photorank.cache import SCHEMA_VERSION, FaceCache, fingerprint
from oneshot import index_paths, rank_collection
from photorank.api import RankRequest
from photorank.records import DetectedFace, ImageRecord
from PIL import Image, ImageOps


def copy_collection(demo_collection, tmp_path):
    collection, reference = demo_collection
    target = tmp_path / "photos"
    shutil.copytree(collection, target)
    return str(target), reference


def count_decodes(monkeypatch) -> list[str]:
    """Record every image sent to the workers for analysis (decoding happens only there)."""
    decoded: list[str] = []
    real_submit = Analyser.submit

    def counting_submit(self, seen):
        decoded.append(seen.path)
        return real_submit(self, seen)

    monkeypatch.setattr(Analyser, "submit", counting_submit)
    return decoded


def stored_paths(cache_file) -> set[str]:
    """The paths in the cache's files table, as str (the keys are the file names' bytes)."""
    with sqlite3.connect(cache_file) as db:
        return {os.fsdecode(path) for (path,) in db.execute("SELECT path FROM files")}


def one_photo_folder(demo_collection, tmp_path, name: str | bytes = "portrait.jpg", folder: str | bytes = "one") -> str:
    """A folder holding a copy of the demo portrait (one face) under `name`; its path as str."""
    collection, _ = demo_collection
    target = os.path.join(os.fsencode(tmp_path), os.fsencode(folder))
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(collection, "portrait.jpg"), "rb") as source:
        data = source.read()
    handle = os.open(os.path.join(target, os.fsencode(name)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(handle, data)
    finally:
        os.close(handle)
    return os.fsdecode(target)


def test_second_run_decodes_nothing(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, reference = copy_collection(demo_collection, tmp_path)
    request = RankRequest(references=[reference], paths=[folder])
    decoded = count_decodes(monkeypatch)
    first = rank_collection(request, cache_path=cache_file, workers=1)
    assert len(decoded) == 6  # five photos and the reference
    decoded.clear()
    second = rank_collection(request, cache_path=cache_file, workers=1)
    assert decoded == []
    assert [(r.path, r.score) for r in second.results] == [(r.path, r.score) for r in first.results]


def test_moved_file_is_recognised_without_decoding(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, _ = copy_collection(demo_collection, tmp_path)
    index_paths([folder], cache_path=cache_file, workers=1)
    os.rename(os.path.join(folder, "portrait.jpg"), os.path.join(folder, "renamed.jpg"))
    decoded = count_decodes(monkeypatch)
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert decoded == []
    assert len(records[os.path.join(folder, "renamed.jpg")].faces) == 1
    paths = stored_paths(cache_file)
    assert os.path.join(folder, "renamed.jpg") in paths
    assert os.path.join(folder, "portrait.jpg") not in paths  # pruned


@pytest.mark.slow
def test_changed_file_is_analysed_again(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, _ = copy_collection(demo_collection, tmp_path)
    index_paths([folder], cache_path=cache_file, workers=1)
    changed = os.path.join(folder, "group_without_person.jpg")
    ImageOps.mirror(Image.open(os.path.join(folder, "portrait.jpg"))).save(changed)  # new content
    decoded = count_decodes(monkeypatch)
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert decoded == [changed]
    assert len(records[changed].faces) == 1


def test_deleted_files_are_pruned_with_their_faces(demo_collection, tmp_path, cache_file):
    folder, _ = copy_collection(demo_collection, tmp_path)
    index_paths([folder], cache_path=cache_file, workers=1)
    os.remove(os.path.join(folder, "group_without_person.jpg"))
    index_paths([folder], cache_path=cache_file, workers=1)
    with sqlite3.connect(cache_file) as db:
        files = db.execute("SELECT count(*) FROM files").fetchone()[0]
        faces = db.execute("SELECT count(*) FROM faces").fetchone()[0]
    assert files == 4
    assert faces == 3 + 7  # three portraits and the group with the person (six plus the person)


@pytest.mark.slow
def test_interrupted_run_resumes_where_it_stopped(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, _ = copy_collection(demo_collection, tmp_path)

    def interrupt_after_two(event):
        if event.path and event.done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_paths([folder], cache_path=cache_file, workers=1, progress=interrupt_after_two)
    with sqlite3.connect(cache_file) as db:
        kept = db.execute("SELECT count(*) FROM files").fetchone()[0]
    assert 2 <= kept < 5
    decoded = count_decodes(monkeypatch)
    index_paths([folder], cache_path=cache_file, workers=1)
    assert len(decoded) == 5 - kept  # what was stored before the interruption is not analysed again


@pytest.mark.slow
def test_no_cache_gives_the_same_results(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, reference = copy_collection(demo_collection, tmp_path)
    request = RankRequest(references=[reference], paths=[folder])
    rank_collection(request, cache_path=cache_file, workers=1)  # fills the cache
    decoded = count_decodes(monkeypatch)
    cached = rank_collection(request, cache_path=cache_file, workers=1)
    assert decoded == []  # every analysis below came out of the cache
    uncached = rank_collection(RankRequest(references=[reference], paths=[folder]), cache_path=":memory:", workers=1)
    assert len(decoded) == 6  # while this run decoded everything afresh
    assert [(r.path, r.score, r.kind) for r in cached.results] == [(r.path, r.score, r.kind) for r in uncached.results]
    assert not os.path.exists(os.path.join(folder, "faces.sqlite"))


def test_analyses_of_different_engines_are_kept_apart(cache_file):
    face = DetectedFace(box=(1, 2, 30, 40), detector_score=1.5, embedding=np.ones(128, np.float32) / np.sqrt(128))
    cache = FaceCache(cache_file)
    cache.store("/x.jpg", 1000, 1, "fp", "engine-a", ImageRecord(path="/x.jpg", width=100, height=80, faces=[face]))
    assert cache.load_many({"/x.jpg": "fp"}, "engine-b") == {}
    record = cache.load_many({"/moved/x.jpg": "fp"}, "engine-a")["/moved/x.jpg"]
    cache.close()
    assert record.path == "/moved/x.jpg"
    assert record.faces[0].box == (1, 2, 30, 40)
    assert np.allclose(record.faces[0].embedding, face.embedding)


# --- file names that are not UTF-8 -------------------------------------------------------------


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names there are always Unicode")
def test_file_names_that_are_not_utf8_are_cached_and_pruned(demo_collection, tmp_path, cache_file, monkeypatch):
    # An old Windows-1252 name in a folder with such a name: Python hands them out as str with
    # surrogates, which SQLite cannot store as text.
    folder = one_photo_folder(demo_collection, tmp_path, name=b"caf\xe9 \xff.jpg", folder=b"Ann\xe9e 1999")
    one_photo_folder(demo_collection, tmp_path, name="other.jpg", folder=b"Ann\xe9e 1999")
    odd = os.path.join(folder, os.fsdecode(b"caf\xe9 \xff.jpg"))
    with pytest.raises(UnicodeEncodeError):
        odd.encode()  # really a name UTF-8 cannot spell
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert records[odd].error is None and len(records[odd].faces) == 1
    with sqlite3.connect(cache_file) as db:
        keys = {path for (path,) in db.execute("SELECT path FROM files")}
    assert os.fsencode(odd) in keys  # the name's own bytes

    decoded = count_decodes(monkeypatch)
    _, again = index_paths([folder], cache_path=cache_file, workers=1)
    assert decoded == []
    assert again[odd].faces[0].box == records[odd].faces[0].box

    os.remove(os.fsencode(odd))
    index_paths([folder], cache_path=cache_file, workers=1)
    assert stored_paths(cache_file) == {os.path.join(folder, "other.jpg")}  # pruned, the other kept


# --- stale and broken cache files ----------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, SCHEMA_VERSION + 1])
def test_a_cache_of_another_layout_is_rebuilt(demo_collection, tmp_path, cache_file, version):
    folder = one_photo_folder(demo_collection, tmp_path)
    os.makedirs(os.path.dirname(cache_file))
    with sqlite3.connect(cache_file) as db:  # a layout no version of photorank knows
        db.execute("CREATE TABLE files (name TEXT PRIMARY KEY, modified REAL)")
        db.execute("CREATE TABLE analyses (name TEXT, faces TEXT)")
        db.execute("INSERT INTO files VALUES ('/somewhere/x.jpg', 1.0)")
        db.execute(f"PRAGMA user_version={version}")
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert len(records[os.path.join(folder, "portrait.jpg")].faces) == 1
    with sqlite3.connect(cache_file) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert stored_paths(cache_file) == {os.path.join(folder, "portrait.jpg")}


def test_a_file_that_is_no_database_is_moved_aside(demo_collection, tmp_path, cache_file, caplog):
    folder = one_photo_folder(demo_collection, tmp_path)
    os.makedirs(os.path.dirname(cache_file))
    garbage = b"this is not an SQLite database\n" * 200
    for name in (cache_file, cache_file + "-wal"):
        with open(name, "wb") as handle:
            handle.write(garbage)
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert len(records[os.path.join(folder, "portrait.jpg")].faces) == 1
    warnings = [record.getMessage() for record in caplog.records if record.name == "photorank.cache"]
    assert len(warnings) == 1 and "broken" in warnings[0]
    moved = sorted(name for name in os.listdir(os.path.dirname(cache_file)) if ".broken-" in name)
    assert moved[0] + "-wal" in moved  # kept together, for inspection
    assert set(moved) <= {moved[0], moved[0] + "-wal", moved[0] + "-shm"}
    with open(os.path.join(os.path.dirname(cache_file), moved[0] + "-wal"), "rb") as handle:
        assert handle.read() == garbage
    with open(os.path.join(os.path.dirname(cache_file), moved[0]), "rb") as handle:
        assert handle.read() == garbage
    assert stored_paths(cache_file) == {os.path.join(folder, "portrait.jpg")}  # a working new cache


# --- runs sharing one cache ------------------------------------------------------------------------


def test_another_runs_prune_between_writes_loses_nothing(demo_collection, tmp_path, cache_file, monkeypatch):
    """Another run may prune the cache whenever this run is between two transactions: an
    analysis must never be visible without the file row that keeps it."""
    folder, _ = copy_collection(demo_collection, tmp_path)
    other_run = FaceCache(cache_file)
    real_connect = sqlite3.connect

    def connect_with_rival(*args, **kwargs):
        db = real_connect(*args, **kwargs)

        def between_transactions(statement):
            if not db.in_transaction:  # this run holds no lock: anything may happen now
                other_run.prune([folder], set())

        db.set_trace_callback(between_transactions)
        return db

    monkeypatch.setattr(cache_module.sqlite3, "connect", connect_with_rival)
    index_paths([folder], cache_path=cache_file, workers=1)
    monkeypatch.setattr(cache_module.sqlite3, "connect", real_connect)
    other_run.close()
    decoded = count_decodes(monkeypatch)
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert decoded == []
    assert sum(len(record.faces) for record in records.values()) == 3 + 6 + 7


CONCURRENT_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])  # tests/, for the one-shot helpers
    from oneshot import index_paths
    _, records = index_paths([sys.argv[1]], cache_path=sys.argv[2], workers=1)
    assert len(records) == 5 and all(record.error is None for record in records.values()), records
""")


@pytest.mark.slow
def test_two_runs_at_once_share_the_cache(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, _ = copy_collection(demo_collection, tmp_path)
    runs = [
        start([sys.executable, "-c", CONCURRENT_RUN, folder, cache_file, os.path.dirname(__file__)], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for run in runs:
        _, errors = run.communicate(timeout=120)
        assert run.returncode == 0, errors
    decoded = count_decodes(monkeypatch)
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert decoded == []
    assert sum(len(record.faces) for record in records.values()) == 3 + 6 + 7


# --- fingerprints --------------------------------------------------------------------------------


def test_fingerprint_sees_the_middle_of_uncompressed_files(tmp_path):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)  # 480 KB as BMP
    changed = pixels.copy()
    changed[195:205] = 255 - changed[195:205]  # ten rows in the middle, nowhere else
    first, second = str(tmp_path / "a.bmp"), str(tmp_path / "b.bmp")
    Image.fromarray(pixels).save(first)
    Image.fromarray(changed).save(second)
    size = os.path.getsize(first)
    assert size == os.path.getsize(second) and size > 3 * cache_module.FINGERPRINT_CHUNK
    assert fingerprint(first, size) != fingerprint(second, size)
    assert fingerprint(first, size) == fingerprint(str(tmp_path / "a.bmp"), size)


@pytest.mark.slow
def test_copies_of_one_photo_are_analysed_once_and_all_ranked(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, reference = copy_collection(demo_collection, tmp_path)
    shutil.copyfile(os.path.join(folder, "portrait.jpg"), os.path.join(folder, "portrait copy.jpg"))
    decoded = count_decodes(monkeypatch)
    report = rank_collection(RankRequest(references=[reference], paths=[folder]), cache_path=cache_file, workers=2)
    assert len(decoded) == 6  # five distinct photos and the reference: the copy shares its analysis
    found = {os.path.basename(result.path) for result in report.results}
    assert {"portrait.jpg", "portrait copy.jpg"} <= found
    assert os.path.join(folder, "portrait copy.jpg") in stored_paths(cache_file)


@pytest.mark.slow
def test_a_worker_that_dies_fails_only_its_photos_and_the_run_goes_on(demo_collection, tmp_path, cache_file):
    from photorank.library import Library
    from photorank.workers import WORKER_DIED

    folder, _ = copy_collection(demo_collection, tmp_path)
    with Library(cache_path=cache_file, workers=1) as library:
        def kill_the_worker(event):  # after the first photo: the worker is busy with the next
            if event.path and not killed:
                workers = [pid for pid in descendants(os.getpid()) if "forkserver" in proc_text(pid, "cmdline")]
                os.kill(max(workers), signal.SIGKILL)  # the newest: a worker, not the forkserver itself
                killed.append(event.path)

        killed: list[str] = []
        summary = library.index([folder], progress=kill_the_worker)
        assert killed
        failed = [path for path, error in summary.errors if error == WORKER_DIED]
        assert failed and summary.analysed == 5  # every photo was tried; the run did not hang or stop
        assert len(summary.errors) == len(failed)
        again = library.index([folder])
        assert again.analysed == len(failed) and again.errors == []  # failed ones were not cached


def test_a_store_that_fails_reaches_the_waiting_request(demo_collection, tmp_path, cache_file):
    """An analysis whose result cannot be stored (a full disk) fails its request; nobody waits forever."""
    from photorank.library import Library

    folder, _ = copy_collection(demo_collection, tmp_path)
    with Library(cache_path=cache_file, workers=1) as library:
        def store_fails(*args):
            raise sqlite3.OperationalError("database or disk is full")

        library.analyser._store = store_fails
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            library.index([folder])
