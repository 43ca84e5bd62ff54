"""The face cache: unchanged files are never opened again, moved files are recognised,
deleted ones pruned, interrupted runs resume, and --no-cache gives the same answers."""

from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image, ImageOps

from photorank import index as index_module
from photorank.cache import FaceCache
from photorank.records import DetectedFace, ImageRecord
from photorank.index import index_paths
from photorank.ranking import RankRequest, rank_collection


def copy_collection(demo_collection, tmp_path):
    collection, reference = demo_collection
    target = tmp_path / "photos"
    shutil.copytree(collection, target)
    return str(target), reference


def count_decodes(monkeypatch) -> list[str]:
    """Record every image the analysis stage decodes."""
    decoded: list[str] = []
    real_load = index_module.load_image

    def counting_load(path, max_side=None):
        decoded.append(path)
        return real_load(path, max_side)

    monkeypatch.setattr(index_module, "load_image", counting_load)
    return decoded


def test_second_run_decodes_nothing(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, reference = copy_collection(demo_collection, tmp_path)
    request = RankRequest(references=[reference], paths=[folder], cache_path=cache_file, workers=1)
    decoded = count_decodes(monkeypatch)
    first = rank_collection(request)
    assert len(decoded) == 6  # five photos and the reference
    decoded.clear()
    second = rank_collection(request)
    assert decoded == []
    assert [(r.path, r.score) for r in second.results] == [(r.path, r.score) for r in first.results]


def test_moved_file_is_recognised_without_decoding(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, reference = copy_collection(demo_collection, tmp_path)
    index_paths([folder], cache_path=cache_file, workers=1)
    os.rename(os.path.join(folder, "portrait.jpg"), os.path.join(folder, "renamed.jpg"))
    decoded = count_decodes(monkeypatch)
    _, records = index_paths([folder], cache_path=cache_file, workers=1)
    assert decoded == []
    assert len(records[os.path.join(folder, "renamed.jpg")].faces) == 1
    with sqlite3.connect(cache_file) as db:
        paths = {row[0] for row in db.execute("SELECT path FROM files")}
    assert os.path.join(folder, "portrait.jpg") not in paths  # pruned


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


def test_interrupted_run_resumes_where_it_stopped(demo_collection, tmp_path, cache_file, monkeypatch):
    folder, _ = copy_collection(demo_collection, tmp_path)

    def interrupt_after_two(done, total):
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_paths([folder], cache_path=cache_file, workers=1, progress=interrupt_after_two)
    decoded = count_decodes(monkeypatch)
    index_paths([folder], cache_path=cache_file, workers=1)
    assert len(decoded) == 3  # two of five were kept


def test_no_cache_gives_the_same_results(demo_collection, cache_file):
    collection, reference = demo_collection
    cached = rank_collection(RankRequest(references=[reference], paths=[collection], cache_path=cache_file, workers=1))
    uncached = rank_collection(RankRequest(references=[reference], paths=[collection], cache_path=":memory:", workers=1))
    assert [(r.path, r.score, r.kind) for r in cached.results] == [(r.path, r.score, r.kind) for r in uncached.results]
    assert not os.path.exists(os.path.join(collection, "faces.sqlite"))


def test_analyses_of_different_engines_are_kept_apart(cache_file):
    face = DetectedFace(box=(1, 2, 30, 40), detector_score=1.5, embedding=np.ones(128, np.float32) / np.sqrt(128))
    cache = FaceCache(cache_file)
    cache.store("fp", "engine-a", ImageRecord(path="/x.jpg", width=100, height=80, faces=[face]))
    assert cache.load("fp", "engine-b", "/x.jpg") is None
    record = cache.load("fp", "engine-a", "/moved/x.jpg")
    cache.close()
    assert record.path == "/moved/x.jpg"
    assert record.faces[0].box == (1, 2, 30, 40)
    assert np.allclose(record.faces[0].embedding, face.embedding)
