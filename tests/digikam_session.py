"""Imports a folder into a real digiKam 7.9 (Debian's), headless under an Xvfb of its own, and
reads what digiKam filed from its SQLite database: ratings, tags, face regions and their persons.
Used by tests/xmp/test_xmp_digikam.py.

What digiKam needs to start without a user (found by trying): a digikamrc with an
`[Album Settings]` key skips the first-run wizard; `[Database Settings]` points its SQLite files
into a folder of the test's own; `--database-directory` makes it create its schema there; as root
it needs QTWEBENGINE_DISABLE_SANDBOX=1; it runs under `dbus-run-session`. A collection is a row
of its `AlbumRoots` table: digiKam scans it at start-up, reading the XMP sidecars, and writes the
`Scanned` setting when that scan is complete (the run that only creates the schema is stopped
before it scans anything).
"""

from __future__ import annotations

import pathlib
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass

from darktable_session import start_xvfb
from programs import environment, start, stop, wait_for

PROGRAMS = ("digikam", "dbus-run-session", "Xvfb")
DIGIKAMRC = """[Album Settings]
Album Path={folder}

[Database Settings]
Database Type=QSQLITE
Database Name={db}/
Database Name Thumbnails={db}/
Database Name Face={db}/
Database Name Similarity={db}/

[Metadata Settings]
Use XMP Sidecar For Reading=true
"""
INTERNAL_TAGS = "_Digikam_Internal_Tags_"


def missing_program() -> str | None:
    """Why digiKam cannot run here, or None."""
    for program in PROGRAMS:
        if shutil.which(program) is None:
            return f"{program} is not installed (digiKam under Xvfb; .ci/run installs it)"
    return None


@dataclass(frozen=True)
class FiledPhoto:
    """A photo as digiKam filed it."""

    rating: int  # -1: no rating
    tags: frozenset[str]  # full tag paths ("People/Alice", "photorank/Alice/rank 007"), internal tags left out
    faces: frozenset[tuple[str, str]]  # (the person's tag path, the region digiKam stores)
    persons: frozenset[str]  # tag paths digiKam marks as persons, of this photo's faces


def import_folder(folder: pathlib.Path, work: pathlib.Path, timeout: float = 300) -> dict[str, FiledPhoto]:
    """Start digiKam on a fresh database with `folder` as its collection, let it scan every photo
    there, stop it, and return {file name: FiledPhoto}."""
    photos = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() != ".xmp"]
    database = work / "db"
    database.mkdir(parents=True)
    _run(work, database, folder, until=lambda: _has_schema(database / "digikam4.db"), timeout=timeout)
    with sqlite3.connect(database / "digikam4.db") as connection:
        connection.execute("INSERT INTO AlbumRoots (label, status, type, identifier, specificPath) "
                           "VALUES ('photos', 0, 1, ?, '/')", (f"volumeid:?path={folder}",))
    _run(work, database, folder, until=_scanned(database / "digikam4.db", len(photos)), timeout=timeout)
    return read_database(database / "digikam4.db")


def _run(work: pathlib.Path, database: pathlib.Path, folder: pathlib.Path, until, timeout: float) -> None:
    """Run digiKam until `until()` holds, then stop it."""
    home = work / "home"
    runtime = work / "runtime"
    for place in (home, runtime, work / "config"):
        place.mkdir(mode=0o700, exist_ok=True)
    (work / "config" / "digikamrc").write_text(DIGIKAMRC.format(folder=folder, db=database))
    xvfb, display = start_xvfb()
    env = dict(_system_env(), DISPLAY=display, HOME=str(home), XDG_CONFIG_HOME=str(work / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_RUNTIME_DIR=str(runtime), QTWEBENGINE_DISABLE_SANDBOX="1")
    log = open(work / "digikam.log", "ab")
    process = start(["dbus-run-session", "--", "digikam", "--database-directory", str(database)],
                    env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_for(until, timeout, process, every=1):
            if process.poll() is not None:
                raise AssertionError(f"digiKam stopped early ({process.returncode}): {_tail(work)}")
            raise AssertionError(f"digiKam did not scan {folder} in {timeout:.0f} s: {_tail(work)}")
    finally:
        stop(process)  # dbus-run-session, digiKam and its helpers
        log.close()
        stop(xvfb)


def _system_env() -> dict:
    """This process's environment without what Python packages set for their own Qt: importing
    cv2 (OpenCV's wheel) points QT_QPA_PLATFORM_PLUGIN_PATH, QT_QPA_FONTDIR and LD_LIBRARY_PATH
    into the wheel, and Debian's digiKam then finds no usable xcb platform plugin."""
    return {key: value for key, value in environment().items() if not key.startswith("QT_") and key != "LD_LIBRARY_PATH"}


def _tail(work: pathlib.Path) -> str:
    return (work / "digikam.log").read_text(errors="replace")[-2000:]


def _query(path: pathlib.Path, sql: str) -> list[tuple]:
    """Rows of a read while digiKam writes; none when the database or table is not there yet."""
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def _has_schema(path: pathlib.Path) -> bool:
    return bool(_query(path, "SELECT value FROM Settings WHERE keyword = 'DBVersion'"))


def _scanned(path: pathlib.Path, photos: int):
    """A condition: digiKam says its scan is complete, every photo is in the database, and nothing
    changed since the previous look (a second earlier)."""
    seen = {"state": None}

    def done() -> bool:
        state = (_query(path, "SELECT value FROM Settings WHERE keyword = 'Scanned'"),
                 _query(path, "SELECT COUNT(*) FROM Images"), _query(path, "SELECT COUNT(*) FROM ImageTags"),
                 _query(path, "SELECT COUNT(*) FROM ImageTagProperties"), _query(path, "SELECT COUNT(*) FROM ImageInformation"))
        settled, seen["state"] = state == seen["state"], state
        return settled and bool(state[0]) and bool(state[1]) and state[1][0][0] >= photos

    return done


def read_database(path: pathlib.Path) -> dict[str, FiledPhoto]:
    """{file name: FiledPhoto} of every photo in a digiKam database."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tags = {tag_id: (parent, name) for tag_id, parent, name in connection.execute("SELECT id, pid, name FROM Tags")}
        persons = {tag_id for (tag_id,) in connection.execute("SELECT tagid FROM TagProperties WHERE property = 'person'")}
        images = connection.execute(
            "SELECT Images.id, Images.name, COALESCE(ImageInformation.rating, -1) FROM Images "
            "LEFT JOIN ImageInformation ON ImageInformation.imageid = Images.id").fetchall()
        image_tags = connection.execute("SELECT imageid, tagid FROM ImageTags").fetchall()
        regions = connection.execute(
            "SELECT imageid, tagid, value FROM ImageTagProperties WHERE property = 'tagRegion'").fetchall()

    def tag_path(tag_id: int) -> list[str]:
        parent, name = tags[tag_id]
        return (tag_path(parent) if parent in tags else []) + [name]

    def visible(tag_id: int) -> bool:
        return tag_path(tag_id)[0] != INTERNAL_TAGS

    filed = {}
    for image_id, name, rating in images:
        faces = frozenset(("/".join(tag_path(t)), value) for i, t, value in regions if i == image_id)
        filed[name] = FiledPhoto(
            rating=rating,
            tags=frozenset("/".join(tag_path(t)) for i, t in image_tags if i == image_id and visible(t)),
            faces=faces,
            persons=frozenset("/".join(tag_path(t)) for i, t, _ in regions if i == image_id and t in persons),
        )
    return filed
