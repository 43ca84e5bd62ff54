"""`photorank rank --write-xmp` and `photorank undo` end to end, read back by exiftool."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import programs

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed (Debian: libimage-exiftool-perl)")


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory) -> str:
    """One face cache for the module's runs: each test's copy of the demo photos is known there by
    its content, so only the first run analyses them (what is written back is what is tested here)."""
    return str(tmp_path_factory.mktemp("cache") / "faces.sqlite")


def photorank(*args: str, cache: str | None = None):
    ranking = ["--quiet", "--cache", cache] if cache else []
    return programs.photorank(*args, *ranking)


def read_back(sidecar: str) -> dict:
    done = programs.run([EXIFTOOL, "-j", "-G1", "-struct", sidecar], check=True)
    return json.loads(done.stdout)[0]


@pytest.mark.slow
@needs_exiftool
def test_ranking_is_written_into_sidecars_and_undone(collection, cache_file):
    folder, reference = collection
    user_sidecar = os.path.join(folder, "portrait_dark.jpg.xmp")
    with open(user_sidecar, "w") as handle:  # the user already rated this one: 2 stars stay
        handle.write(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2"/>'
            "</rdf:RDF></x:xmpmeta>"
        )
    done = photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--json", cache=cache_file)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["xmp"]["files"] == {"created": 3, "updated": 1}
    assert [(n["path"], n["note"]) for n in document["xmp"]["notes"]] == [(user_sidecar, "rating kept: set by user (2)")]

    best = document["results"][0]
    tags = read_back(best["path"] + ".xmp")
    assert tags["XMP-xmp:Rating"] == best["stars"]
    assert f"photorank|Tom Hanks|rank {best['rank']:03d}" in tags["XMP-lr:HierarchicalSubject"]
    assert tags["XMP-mwg-rs:RegionInfo"]["RegionList"][0]["Name"] == "Tom Hanks"
    assert read_back(user_sidecar)["XMP-xmp:Rating"] == 2
    group = read_back(os.path.join(folder, "group_with_person.jpg.xmp"))
    assert "photorank|Tom Hanks|group" in group["XMP-lr:HierarchicalSubject"]
    assert document["keyword_prefix"] == "photorank|Tom Hanks|"
    for result in document["results"]:  # what a photo manager is told to apply is what the sidecar holds
        assert result["keywords"] == read_back(result["path"] + ".xmp")["XMP-lr:HierarchicalSubject"]
        assert all(keyword.startswith(document["keyword_prefix"]) for keyword in result["keywords"])
    assert not os.path.exists(os.path.join(folder, "group_without_person.jpg.xmp"))

    again = photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--json", cache=cache_file)
    assert json.loads(again.stdout)["xmp"]["files"] == {"unchanged": 4}

    undone = photorank("undo", folder, "--person", "Tom Hanks", "--json")
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout)["files"] == {"removed": 3, "updated": 1}
    assert sorted(name for name in os.listdir(folder) if name.endswith(".xmp")) == ["portrait_dark.jpg.xmp"]
    restored = read_back(user_sidecar)
    assert restored["XMP-xmp:Rating"] == 2
    assert "XMP-lr:HierarchicalSubject" not in restored


def test_write_xmp_needs_a_person(collection, cache_file):
    folder, reference = collection
    done = photorank("rank", "--ref", reference, folder, "--write-xmp", cache=cache_file)
    assert done.returncode == 2
    assert "--person" in done.stderr
    assert not [name for name in os.listdir(folder) if name.endswith(".xmp")]


@pytest.mark.slow
@needs_exiftool
def test_a_photo_no_longer_found_loses_that_persons_data(collection, cache_file):
    folder, reference = collection
    photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", cache=cache_file)
    os.replace(os.path.join(folder, "group_without_person.jpg"), os.path.join(folder, "group_with_person.jpg"))
    done = photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--json", cache=cache_file)
    assert done.returncode == 0, done.stderr
    assert not os.path.exists(os.path.join(folder, "group_with_person.jpg.xmp"))  # we created it: removed


@pytest.mark.slow
@needs_exiftool
def test_darktable_default_star_counts_as_unrated_and_jpeg_embedding_undoes_to_the_same_bytes(collection, cache_file):
    folder, reference = collection
    portrait = os.path.join(folder, "portrait.jpg")
    original = open(portrait, "rb").read()
    sidecar = portrait + ".xmp"
    with open(sidecar, "w") as handle:  # darktable's default rating of an imported photo: 1 star
        handle.write(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="1"/>'
            "</rdf:RDF></x:xmpmeta>"
        )
    done = photorank(
        "rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--unrated", "0,1", "--embed",
        "--json", cache=cache_file,
    )
    assert done.returncode == 0, done.stderr
    stars = {r["path"]: r["stars"] for r in json.loads(done.stdout)["results"]}
    assert read_back(sidecar)["XMP-xmp:Rating"] == stars[portrait]
    assert read_back(portrait)["XMP-xmp:Rating"] == stars[portrait]  # embedded in the JPEG too

    assert photorank("undo", folder, "--embed").returncode == 0
    assert open(portrait, "rb").read() == original
    assert read_back(sidecar)["XMP-xmp:Rating"] == 1


def test_unrated_takes_star_ratings_only(collection, cache_file):
    folder, reference = collection
    done = photorank("rank", "--ref", reference, folder, "--unrated", "0,7", cache=cache_file)
    assert done.returncode == 2
    assert "star ratings 0-5" in done.stderr


@pytest.mark.slow
@needs_exiftool
def test_photos_left_out_by_top_keep_their_data(collection, cache_file):
    folder, reference = collection
    first = photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--json", cache=cache_file)
    found = [r["path"] for r in json.loads(first.stdout)["results"]]
    done = photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--top", "1", "--json", cache=cache_file)
    document = json.loads(done.stdout)
    assert document["found"] == 4 and len(document["results"]) == 1
    assert "removed" not in document["xmp"]["files"]
    for path in found:  # every photo of the person still carries their rank
        assert any(k.startswith("photorank|Tom Hanks|rank") for k in read_back(path + ".xmp")["XMP-lr:HierarchicalSubject"])


@pytest.mark.slow
@needs_exiftool
def test_two_photos_sharing_one_sidecar_get_the_better_ones_result(collection, cache_file):
    folder, reference = collection
    # like IMG_1.CR2 + IMG_1.JPG: two photos, one NAME.xmp sidecar
    shutil.copyfile(os.path.join(folder, "portrait_soft.jpg"), os.path.join(folder, "portrait.jpeg"))
    done = photorank(
        "rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--xmp-naming", "name.xmp", "--json",
        cache=cache_file,
    )
    document = json.loads(done.stdout)
    ranks = {os.path.basename(r["path"]): r["rank"] for r in document["results"]}
    better = min(("portrait.jpg", "portrait.jpeg"), key=ranks.get)
    worse = ({"portrait.jpg", "portrait.jpeg"} - {better}).pop()
    assert (os.path.join(folder, worse), "not written: shares its sidecar with a better-ranked photo") in {
        (n["path"], n["note"]) for n in document["xmp"]["notes"]
    }
    keywords = read_back(os.path.join(folder, "portrait.xmp"))["XMP-lr:HierarchicalSubject"]
    assert f"photorank|Tom Hanks|rank {ranks[better]:03d}" in keywords


@pytest.mark.slow
def test_dry_run_lists_each_sidecar_and_what_would_change_in_it_and_writes_nothing(collection, cache_file):
    folder, reference = collection
    user_sidecar = os.path.join(folder, "portrait_dark.jpg.xmp")
    with open(user_sidecar, "w") as handle:  # the user's keyword, in dc:subject only
        handle.write(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<dc:subject><rdf:Bag><rdf:li>family</rdf:li></rdf:Bag></dc:subject></rdf:Description>"
            "</rdf:RDF></x:xmpmeta>"
        )
    before = sorted(os.listdir(folder)), open(user_sidecar, "rb").read()
    rank = ("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--dry-run")

    done = photorank(*rank, "--json", cache=cache_file)
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)["xmp"]
    assert written["dry_run"] and written["files"] == {"created": 3, "updated": 1}
    changes = {change["path"]: change for change in written["changes"]}
    assert len(changes) == 4 and {change["action"] for change in changes.values()} == {"created", "updated"}
    mine = changes[user_sidecar]["changes"]
    assert any(line.startswith("lr:hierarchicalSubject + ") and "family" in line and "photorank|Tom Hanks|rank" in line
               for line in mine), mine
    assert any(line.startswith("digiKam:TagsList + ") and "People/Tom Hanks" in line for line in mine), mine
    assert "face region + Tom Hanks" in mine and "photorank data + Tom Hanks" in mine

    text = photorank(*rank, cache=cache_file)
    assert text.returncode == 0, text.stderr
    assert f"  {user_sidecar}: would be updated\n" in text.stdout
    assert "    face region + Tom Hanks\n" in text.stdout
    assert (sorted(os.listdir(folder)), open(user_sidecar, "rb").read()) == before

    assert photorank(*rank[:-1], cache=cache_file).returncode == 0  # now for real
    undo = photorank("undo", folder, "--person", "Tom Hanks", "--dry-run", "--json")
    changes = {change["path"]: change for change in json.loads(undo.stdout)["changes"]}
    assert {change["action"] for change in changes.values()} == {"removed", "updated"}
    assert "photorank data - Tom Hanks" in changes[user_sidecar]["changes"]
    assert len(changes) == 4 and all(os.path.exists(path) for path in changes)  # nothing removed yet
