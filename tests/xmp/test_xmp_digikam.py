"""Real digiKam 7.9 (Debian's, headless under Xvfb) imports a folder before our write, after it
and after undo; its database must show the user's ratings and keywords each time, our tags under
photorank/, the face region filed as a person under People, and after undo exactly what it
showed before. Sidecars as exiftool, darktable, Lightroom and digiKam write them, and a photo
without one."""

from __future__ import annotations

import shutil

import pytest
from digikam_session import import_folder, missing_program
from host_sidecars import HOSTS
from xmp_helpers import make_rating

import xmp_writer as xw

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(missing_program() is not None, reason=missing_program() or ""),
    pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed (it writes one of the sidecars)"),
]

# digiKam's rectangle for make_rating's region (centre 0.5, 0.375, size 0.125 x 0.25 of 640 x 480)
ALICE_BOX = '<rect x="280" y="120" width="80" height="120"/>'
# and for the region digiKam itself wrote for Carol in host_sidecars.DIGIKAM
CAROL_BOX = '<rect x="96" y="108" width="64" height="72"/>'


def _collection(folder):
    """The photos with each host's sidecar and one without (for Alice), and Carol's photo: the
    user named her face in digiKam (its sidecar), photorank then ranks Carol."""
    from PIL import Image

    folder.mkdir()
    photos = {}
    for number, host in enumerate(HOSTS, start=1):
        image = folder / f"{host.host}.jpg"
        Image.new("RGB", (640, 480), (40 * number, 100, 60)).save(image, quality=90)
        host.write(image.with_name(image.name + ".xmp"), image)
        photos[image.name] = (image, host)
    plain = folder / "plain.jpg"
    Image.new("RGB", (640, 480), (10, 10, 10)).save(plain, quality=90)
    photos[plain.name] = (plain, None)
    carol = folder / "carol.jpg"
    Image.new("RGB", (640, 480), (90, 100, 60)).save(carol, quality=90)
    next(host for host in HOSTS if host.host == "digikam").write(carol.with_name(carol.name + ".xmp"), carol)
    return photos, carol


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """One collection as digiKam files it before our write, after it and after undo (each import
    a digiKam run of its own; the two tests share them): (Alice's photos, Carol's, before, after, undone)."""
    work = tmp_path_factory.mktemp("digikam")
    with pytest.MonkeyPatch.context() as monkeypatch:
        # as importing cv2 in an earlier test leaves it: Qt pointed into the OpenCV wheel
        monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", str(work / "not Qt plugins"))
        photos, carol = _collection(work / "photos")
        before = import_folder(work / "photos", work / "before")
        for rank, (image, _) in enumerate(photos.values(), start=1):
            assert xw.write_rating(image, make_rating("Alice", rank=rank, stars=4)).ok
        assert xw.write_rating(carol, make_rating("Carol", rank=1, stars=4)).ok
        after = import_folder(work / "photos", work / "after")
        for image in [*(image for image, _ in photos.values()), carol]:
            assert xw.undo(image).ok
        undone = import_folder(work / "photos", work / "undone")
    return photos, carol, before, after, undone


def test_digikam_shows_the_users_data_before_after_our_write_and_after_undo(imported):
    photos, _, before, after, restored = imported
    for name, (_, host) in photos.items():
        if host is not None:
            assert before[name].rating == host.rating, name
            # digiKam skips a hierarchicalSubject written as a Seq (darktable's) and shows dc:subject
            leaves = {tag.split("/")[-1] for tag in before[name].tags}
            assert {path[-1] for path in host.keywords} <= leaves, (name, before[name].tags)

    for rank, (name, (_, host)) in enumerate(photos.items(), start=1):
        filed = after[name]
        assert filed.rating == (4 if host is None else host.rating), name
        if host is not None:
            assert {"/".join(path) for path in host.keywords} <= filed.tags, (name, filed.tags)
        assert f"photorank/Alice/rank {rank:03d}" in filed.tags, (name, filed.tags)
        # the face: filed as the person People/Alice, with its box; not on photorank's keyword node
        assert ("People/Alice", ALICE_BOX) in filed.faces, (name, filed.faces)
        assert "People/Alice" in filed.persons and not any(p.startswith("photorank") for p in filed.persons), name
    assert ("People/Carol", CAROL_BOX) in after["digikam.jpg"].faces

    assert restored == {name: before[name] for name in restored}
    assert set(restored) == set(before)


def test_a_person_the_user_already_filed_in_digikam_stays_their_person(imported):
    """The user named Carol's face in digiKam (People/Carol, her region); photorank then ranks
    Carol: her region stays filed under People/Carol, never under photorank's keyword node."""
    _, carol, _, after, _ = imported
    filed = after[carol.name]
    assert "photorank/Carol/rank 001" in filed.tags, filed.tags
    assert ("People/Carol", CAROL_BOX) in filed.faces, filed.faces
    assert filed.persons == {"People/Carol"}, filed.persons
