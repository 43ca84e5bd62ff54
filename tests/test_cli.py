"""The command line as a user (and the darktable plugin) runs it: the JSON contract."""

from __future__ import annotations

import json
import os

import pytest
from programs import photorank

from photorank.faces import DEFAULT_ENGINE


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory) -> str:
    """One face cache for the module: each demo photo is analysed once."""
    return str(tmp_path_factory.mktemp("cli-cache") / "faces.sqlite")


def run_photorank(*args: str, cache: str):
    return photorank(*args, "--cache", cache)


@pytest.mark.slow
def test_rank_json_contract(demo_collection, cache_file):
    collection, reference = demo_collection
    done = run_photorank("rank", "--ref", reference, collection, "--json", cache=cache_file)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["engine"].startswith(f"{DEFAULT_ENGINE}-")
    assert document["references"][0]["path"] == reference
    assert document["not_found"] == 1
    assert document["errors"] == []
    results = document["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4]
    for result in results:
        assert os.path.isabs(result["path"])
        assert 0 <= result["score"] <= 100
        assert result["kind"] in ("single", "group")
        assert 0 < result["similarity"] <= 1
        assert result["faces"] >= 1
        x, y, w, h = result["target_face"]["box"]
        assert w > 0 and h > 0
        for name in ("smile", "eyes_open", "yaw", "pitch", "roll", "sharpness", "exposure"):
            assert name in result["signals"]
        assert isinstance(result["reasons"], list)


@pytest.mark.slow
def test_rank_text_listing_and_top(demo_collection, cache_file):
    collection, reference = demo_collection
    done = run_photorank("rank", "--ref", reference, collection, "--top", "2", cache=cache_file)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"engine {DEFAULT_ENGINE}-")
    assert sum(1 for line in lines if "collection" in line and " - " in line) == 2


def test_analyze_json_lists_faces_with_signals(demo_collection, cache_file):
    collection, _ = demo_collection
    done = run_photorank("analyze", os.path.join(collection, "group_with_person.jpg"), "--json", cache=cache_file)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert len(result["faces"]) == 7
    boxes = [face["box"] for face in result["faces"]]
    assert boxes == sorted(boxes)  # numbered left to right, as --ref-face counts them


def test_missing_reference_face_exits_non_zero_with_message(demo_collection, cache_file, tmp_path):
    collection, _ = demo_collection
    not_a_face = tmp_path / "flat.png"
    from PIL import Image

    Image.new("RGB", (200, 200), (10, 200, 10)).save(not_a_face)
    done = run_photorank("rank", "--ref", str(not_a_face), collection, cache=cache_file)
    assert done.returncode == 1
    assert "no face found" in done.stderr
