"""Real darktable (headless, under Xvfb): it writes a sidecar with an edit
history, we merge into it, darktable re-imports it and must see the same
history plus our rating and tags."""

from __future__ import annotations

import shutil

import pytest
from darktable_session import run_lua
from programs import environment
from xmp_helpers import camera_packet, exiftool_json, jpeg_with_packet, make_rating
from lxml import etree

import xmp_writer as xw

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("darktable") is None or shutil.which("Xvfb") is None,
                       reason="darktable and Xvfb are needed for the darktable round trip"),
]

# Runs inside darktable.  Whatever happens, it writes a report and quits, so
# darktable never waits for a user.
LUA = r"""
local dt = require "darktable"
local out = io.open(os.getenv("PR_OUT"), "w")
local ok, err = pcall(function()
  if os.getenv("PR_MODE") == "view" then -- several photos, one a line: "rating=NAME\tN", "tag=NAME\tTAG"
    for path in os.getenv("PR_IMAGE"):gmatch("[^\n]+") do
      local img = dt.database.import(path)
      out:write("rating=", img.filename, "\t", tostring(img.rating), "\n")
      for _, tag in ipairs(dt.tags.get_tags(img)) do out:write("tag=", img.filename, "\t", tag.name, "\n") end
      img.rating = img.rating
    end
    return
  end
  local img = dt.database.import(os.getenv("PR_IMAGE"))
  if os.getenv("PR_MODE") == "edit" then
    img.rating = 0
    -- processing the image applies darktable's default modules: a history
    dt.new_format("jpeg"):write_image(img, os.getenv("PR_EXPORT"))
  else
    out:write("rating=", tostring(img.rating), "\n")
    for _, tag in ipairs(dt.tags.get_tags(img)) do out:write("tag=", tag.name, "\n") end
    local style = dt.styles.create(img, "photorank-check", "history as darktable sees it")
    for i = 1, #style do out:write("history=", style[i].name, "\n") end
    -- any change makes darktable write the sidecar again from its database
    img.rating = img.rating
  end
end)
out:write("ok=", tostring(ok), " ", tostring(err), "\n")
out:close()
dt.gui.action("global/quit", 0, "", "", 1.0)
"""

DT = "{http://darktable.sf.net/}"


def _run_darktable(tmp_path, image, mode: str, name: str = "") -> list[str]:
    script = tmp_path / "check.lua"
    script.write_text(LUA)
    name = name or mode
    report = tmp_path / f"report-{name}.txt"
    env = environment(PR_OUT=str(report), PR_IMAGE=str(image), PR_MODE=mode, PR_EXPORT=str(tmp_path / "export.jpg"))
    run_lua(tmp_path / f"dt-{name}", script, env, timeout=400)
    lines = report.read_text().splitlines()
    assert any(line.startswith("ok=true") for line in lines), lines
    return lines


def _history(sidecar) -> list[dict]:
    tree = etree.parse(str(sidecar))
    return [dict(li.attrib) for li in tree.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li")
            if li.getparent().getparent().tag == f"{DT}history"]


def _make_jpeg(path) -> None:
    from PIL import Image
    Image.new("RGB", (96, 64), (150, 100, 60)).save(path, quality=90)


def test_darktable_round_trip(tmp_path):
    image = tmp_path / "holiday.jpg"
    _make_jpeg(image)
    sidecar = tmp_path / "holiday.jpg.xmp"
    _run_darktable(tmp_path, image, "edit")
    history = _history(sidecar)
    assert len(history) >= 2, "darktable wrote no edit history"

    outcome = xw.write_rating(image, make_rating("Alice", rank=7, stars=4, kind="group"))
    assert outcome.paths("updated") == [str(sidecar)]
    assert _history(sidecar) == history

    lines = _run_darktable(tmp_path, image, "check")
    assert "rating=4" in lines
    tags = {line[4:] for line in lines if line.startswith("tag=")}
    assert {"photorank|Alice|rank 007", "photorank|Alice|group"} <= tags
    operations = [line[8:] for line in lines if line.startswith("history=")]
    assert len(operations) == len(history)
    # darktable wrote the sidecar again from its database: same history, our data kept
    assert _history(sidecar) == history
    assert "photorank|Alice|rank 007" in sidecar.read_text("utf-8")

    # undo still works on the file as darktable rewrote it
    assert xw.undo(image).ok
    text = sidecar.read_text("utf-8")
    assert "photorank|" not in text and "<photorank:" not in text and "photorank:Rating" not in text
    assert 'xmp:Rating="0"' in text
    assert _history(sidecar) == history


def test_darktable_shows_the_rating_and_keywords_the_photo_carried(tmp_path):
    """A camera JPEG with its own rating (3) and keyword, no sidecar: darktable reads the sidecar
    we create instead of the file, so the sidecar must say what the file said."""
    image = tmp_path / "camera.jpg"
    jpeg_with_packet(image, camera_packet(rating="3", keywords=("holiday",)))
    outcome = xw.write_rating(image, make_rating("Alice", rank=7, stars=5))
    assert outcome.paths("created") == [str(image) + ".xmp"]
    lines = _run_darktable(tmp_path, image, "check")
    assert "rating=3" in lines
    tags = {line[4:] for line in lines if line.startswith("tag=")}
    assert {"holiday", "photorank|Alice|rank 007"} <= tags


def _darktable_view(tmp_path, photos, name: str) -> dict[str, tuple[int, list[str]]]:
    """{file name: (rating, tags but darktable's own)} as darktable shows the photos; darktable
    then writes their sidecars again from its database."""
    view: dict[str, tuple[int, list[str]]] = {}
    for line in _run_darktable(tmp_path, "\n".join(str(photo) for photo in photos), "view", name):
        field, _, value = line.partition("=")
        file, _, value = value.partition("\t")
        rating, tags = view.get(file, (0, []))
        if field == "rating":
            view[file] = (int(value), tags)
        elif field == "tag" and not value.startswith("darktable|"):
            view[file] = (rating, sorted(tags + [value]))
    return view


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool writes one of the sidecars and reads them back")
def test_darktable_keeps_every_hosts_keywords_through_our_write_its_own_write_and_undo(tmp_path):
    from host_sidecars import HOSTS

    folder = tmp_path / "photos"
    folder.mkdir()
    photos = []
    for host in HOSTS:
        photo = folder / f"{host.host}.jpg"
        _make_jpeg(photo)
        host.write(photo.with_name(photo.name + ".xmp"), photo)
        photos.append(photo)
    shutil.copytree(folder, tmp_path / "untouched")  # darktable rewrites the sidecars it imports
    before = _darktable_view(tmp_path, sorted((tmp_path / "untouched").glob("*.jpg")), "before")
    for host in HOSTS:
        rating, tags = before[f"{host.host}.jpg"]
        assert rating == host.rating and {"|".join(path) for path in host.keywords} <= set(tags), (host, tags)

    for rank, photo in enumerate(photos, start=1):
        assert xw.write_rating(photo, make_rating("Alice", rank=rank, stars=4)).ok
    ranked = _darktable_view(tmp_path, photos, "ranked")
    for rank, host in enumerate(HOSTS, start=1):
        rating, tags = ranked[f"{host.host}.jpg"]
        assert rating == host.rating, host.host
        assert set(before[f"{host.host}.jpg"][1]) | {f"photorank|Alice|rank {rank:03d}"} <= set(tags), (host, tags)
        # darktable wrote the sidecar again from what it showed: the user's keywords are still in it
        written = exiftool_json(folder / f"{host.host}.jpg.xmp")
        subjects = written["XMP-lr:HierarchicalSubject"]
        assert {"|".join(path) for path in host.keywords} <= set(subjects if isinstance(subjects, list) else [subjects])

    for photo in photos:
        assert xw.undo(photo).ok
    assert _darktable_view(tmp_path, photos, "undone") == before
    for photo in photos:
        text = photo.with_name(photo.name + ".xmp").read_text("utf-8")
        assert "photorank" not in text and "People/Alice" not in text, photo.name
