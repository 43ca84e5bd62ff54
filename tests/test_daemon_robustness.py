"""photorankd through odd names, damaged caches, kills and mistakes (issue 16): each test drives a
real photorankd process on a temp socket with a real grpcio client, or the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import sys
import threading
import time

import grpc
import pytest
from programs import Daemon, environment, photorank, photorankd, python, run, start
from PIL import Image

from photorank.v1 import photorank_pb2 as pb
from xmp_writer import rdf

LATIN1_NAME = b"caf\xe9.jpg"  # "café.jpg" as an old Windows archive names it: not UTF-8
HEAVY_MODULES = ("numpy", "cv2", "dlib", "lxml", "PIL", "onnxruntime")


def one_clear_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.fixture(scope="module")
def odd_folder(demo_collection, tmp_path_factory):
    """The example photos, one of them under a Latin-1 name, and the reference apart."""
    source, reference = demo_collection
    folder = tmp_path_factory.mktemp("odd") / "photos"
    shutil.copytree(source, folder)
    os.rename(folder / "portrait.jpg", os.path.join(os.fsencode(folder), LATIN1_NAME))
    return folder, reference


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory):
    running = Daemon(tmp_path_factory.mktemp("daemon"))
    yield running
    running.stop()


def reencoded(photo: str, folder, qualities: range):
    """`folder` holding `photo` saved at each of `qualities`: distinct files, the same faces."""
    folder.mkdir()
    image = Image.open(photo)
    for quality in qualities:
        image.save(folder / f"q{quality}.jpg", quality=quality)
    return folder


# --- file names that are not UTF-8 ----------------------------------------------------------------


@pytest.mark.slow
def test_a_name_that_is_not_utf8_travels_both_ways_unchanged(shared_daemon, odd_folder):
    folder, reference = odd_folder
    latin1_path = os.path.join(os.fsencode(folder), LATIN1_NAME)
    progress, report = shared_daemon.rank(pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(folder)]))
    from photorank.rpc import from_wire

    assert latin1_path in {os.fsencode(from_wire(result.path)) for result in report.results}
    assert latin1_path in {os.fsencode(from_wire(event.path)) for event in progress if event.path}
    analysed = shared_daemon.stub.Analyze(pb.AnalyzeRequest(paths=[str(folder)]))
    assert latin1_path in {os.fsencode(from_wire(result.path)) for result in analysed.results}
    # Sent back in a request, the path names the same file.
    again = shared_daemon.stub.Analyze(pb.AnalyzeRequest(paths=[[r.path for r in analysed.results if b"caf" in os.fsencode(from_wire(r.path))][0]]))
    assert len(again.results) == 1 and len(again.results[0].faces) == 1

    command = ("rank", "--ref", reference, str(folder), "--json")
    through_daemon = photorank(*command, "--daemon", shared_daemon.socket)
    in_process = photorank(*command, "--no-daemon", "--cache", str(folder.parent / "own.sqlite"))
    assert through_daemon.returncode == in_process.returncode == 0, through_daemon.stderr + in_process.stderr
    assert through_daemon.stdout == in_process.stdout
    assert "caf\\udce9.jpg" in through_daemon.stdout


# --- a damaged or unwritable cache ----------------------------------------------------------------


def damage(cache: str) -> None:
    """Garbage over the pages after the first: the header reads, the tables do not."""
    with open(cache, "r+b") as handle:
        handle.seek(4096)
        handle.write(os.urandom(os.path.getsize(cache) - 4096))


@pytest.mark.slow
def test_a_damaged_cache_is_moved_aside_and_rebuilt(tmp_path, demo_collection):
    source, reference = demo_collection
    first = Daemon(tmp_path)
    list(first.stub.Index(pb.IndexRequest(paths=[source])))
    assert first.stop() == 0
    damage(first.cache)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(first.cache).execute("SELECT COUNT(*) FROM faces").fetchone()

    again = Daemon(tmp_path)
    try:
        report = list(again.stub.Index(pb.IndexRequest(paths=[source])))[-1].report
        assert report.analysed == report.photos == 5
    finally:
        again.stop()
    moved = [name for name in os.listdir(tmp_path) if name.startswith("faces.sqlite.broken-") and "-wal" not in name and "-shm" not in name]
    assert len(moved) == 1
    assert sum("is damaged" in line for line in (tmp_path / "photorankd.log").read_text().splitlines()) == 1

    damage(first.cache)
    done = photorank("index", source, "--no-daemon", "--cache", first.cache)
    assert done.returncode == 0, done.stderr
    assert "is damaged" in done.stderr and "Traceback" not in done.stderr


def test_an_unwritable_cache_folder_is_one_clear_line(tmp_path):
    if os.getuid() == 0:  # root writes into any folder of a writable file system
        cache = "/sys/photorank-faces.sqlite"
    else:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
        cache = str(folder / "faces.sqlite")
    done = photorankd("--socket", str(tmp_path / "run" / "d.sock"), "--cache", cache)
    assert done.returncode == 1
    one_clear_line(done.stderr)
    assert "cannot use the face cache" in done.stderr and "--cache" in done.stderr


# --- a killed daemon ------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_ends_the_workers_forkserver_and_tracker(tmp_path, demo_collection):
    source, _ = demo_collection
    running = Daemon(tmp_path)
    calls = running.stub.Index(pb.IndexRequest(paths=[source]))
    next(event for event in calls if event.progress.path)  # workers are running
    started = running.note_children()
    assert len(started) >= 3  # the forkserver, the resource tracker, the workers
    running.stop(signal.SIGKILL)  # asserts that every one of them has ended


# --- what the socket path holds -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_socket_path_holding_something_else_is_left_alone(tmp_path, kind):
    target = tmp_path / "precious.txt"
    target.write_text("mine")
    path = tmp_path / "run.sock"
    if kind == "file":
        path.write_text("mine too")
    else:
        path.symlink_to(target)
    done = photorankd("--socket", str(path), "--cache", str(tmp_path / "faces.sqlite"))
    assert done.returncode == 1
    one_clear_line(done.stderr)
    assert "not a socket" in done.stderr
    assert path.is_symlink() == (kind == "symlink") and path.read_text() == ("mine" if kind == "symlink" else "mine too")


# --- writing back through odd folders, temp names and links ---------------------------------------


@pytest.mark.slow
def test_write_back_through_odd_folders_temp_names_and_symlinks(shared_daemon, demo_collection, tmp_path):
    source, reference = demo_collection
    folder = tmp_path / "photos"
    shutil.copytree(source, folder)
    (folder / "portrait_dark.jpg.xmp").mkdir()  # a folder named like a sidecar
    dead = start(["true"])  # a pid that no longer runs
    dead.wait()
    users = [f"notes.photorank-tmp-{dead.pid}.txt", f".plan.photorank-tmp-{dead.pid}-draft"]
    for name in users:
        (folder / name).write_text("the user's")
    ours = folder / f".old.xmp.photorank-tmp-{dead.pid}-0123abcd"  # left by a killed writer
    ours.write_text("<x/>")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(folder / "portrait.jpg", elsewhere / "portrait.jpg")
    (folder / "portrait.jpg").symlink_to(elsewhere / "portrait.jpg")
    sidecar_target = elsewhere / "portrait_soft.jpg.xmp"
    sidecar_target.write_bytes(rdf.EMPTY_SIDECAR)
    (folder / "portrait_soft.jpg.xmp").symlink_to(sidecar_target)

    request = pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(folder)], person="Tom", write_xmp=True,
                             xmp=pb.XmpOptions(embed=True))
    _, report = shared_daemon.rank(request)
    dark = str(folder / "portrait_dark.jpg.xmp")
    errors = {error.path: error.error for error in report.xmp.errors}
    assert list(errors) == [dark] and "directory" in errors[dark], errors
    assert report.xmp.files["created"] >= 2  # the other sidecars were written and reported
    assert os.path.exists(str(folder / "group_with_person.jpg") + ".xmp")
    for name in users:
        assert (folder / name).read_text() == "the user's"
    assert not ours.exists()
    assert (folder / "portrait.jpg").is_symlink() and b"photorank" in (elsewhere / "portrait.jpg").read_bytes()
    assert (folder / "portrait_soft.jpg.xmp").is_symlink() and b"photorank" in sidecar_target.read_bytes()


# --- TCP ports ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_taken_tcp_port_is_refused(tmp_path):
    port = free_port()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Daemon(tmp_path / "a", "--tcp", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "token"))
    try:
        second = photorankd("--socket", str(tmp_path / "b" / "d.sock"), "--cache", str(tmp_path / "b" / "faces.sqlite"),
                            "--tcp", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "token"))
        assert second.returncode == 1
        assert "port is taken" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.stop()
    with socket.socket() as other_program:  # another user's daemon, or any program, on the port
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        third = photorankd("--socket", str(tmp_path / "b" / "d.sock"), "--cache", str(tmp_path / "b" / "faces.sqlite"),
                           "--tcp", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "token"))
    assert third.returncode == 1 and "port is taken" in third.stderr and "Traceback" not in third.stderr


def test_localhost_with_its_port_taken_on_one_of_its_addresses_is_refused(tmp_path):
    """localhost names 127.0.0.1 and ::1: a program on either one's port must not share clients
    with a photorankd bound to the other."""
    with socket.socket(socket.AF_INET6) as other_program:
        try:
            other_program.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback here")
        other_program.listen()
        port = other_program.getsockname()[1]
        refused = photorankd("--socket", str(tmp_path / "d.sock"), "--cache", str(tmp_path / "faces.sqlite"),
                             "--tcp", f"localhost:{port}", "--token-file", str(tmp_path / "token"))
    assert refused.returncode == 1 and "port is taken" in refused.stderr
    one_clear_line(refused.stderr)  # gRPC is not asked to bind: none of its own log lines either


# --- bad options ----------------------------------------------------------------------------------


def test_bad_xmp_options_are_refused_before_any_work(shared_daemon, demo_collection):
    source, reference = demo_collection
    started = shared_daemon.status().analyses_started
    for options, words in [(pb.XmpOptions(naming="bogus"), "naming"), (pb.XmpOptions(unrated=[7]), "unrated")]:
        with pytest.raises(grpc.RpcError) as caught:
            list(shared_daemon.stub.Rank(pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[source], person="Tom",
                                                        write_xmp=True, xmp=options)))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in caught.value.details()
    assert shared_daemon.status().analyses_started == started


# --- private files --------------------------------------------------------------------------------


def test_cache_and_its_folder_are_private_and_a_readable_token_is_refused(tmp_path):
    env = environment(XDG_CACHE_HOME=str(tmp_path / "cache-home"))
    token = tmp_path / "token"
    token.write_text("secret\n")
    token.chmod(0o644)
    done = photorankd("--socket", str(tmp_path / "run" / "d.sock"), "--tcp", f"127.0.0.1:{free_port()}", "--token-file", str(token), env=env)
    assert done.returncode == 1
    one_clear_line(done.stderr)
    assert "other users" in done.stderr

    running = Daemon(tmp_path, env=env)
    running.stop()
    from photorank.cache import FaceCache

    default = python("from photorank.cache import FaceCache; print(FaceCache().path)", env=env, check=True).stdout.strip()
    assert default.startswith(str(tmp_path / "cache-home"))
    assert stat.S_IMODE(os.stat(default).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(default)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(running.cache).st_mode) == 0o600
    old = tmp_path / "old.sqlite"
    FaceCache(str(old)).close()
    old.chmod(0o644)
    FaceCache(str(old)).close()
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o600


# --- the runtime folder ---------------------------------------------------------------------------


def test_a_runtime_folder_of_another_user_is_one_clear_line(tmp_path):
    if os.getuid() != 0:
        pytest.skip("making a folder owned by another user needs root")
    temp = tmp_path / "tmp"
    (temp / f"runtime-{os.getuid()}").mkdir(parents=True)
    os.chown(temp / f"runtime-{os.getuid()}", 65534, 65534)
    env = environment(XDG_RUNTIME_DIR=None)
    env["TMPDIR"] = str(temp)
    done = photorankd("--cache", str(tmp_path / "faces.sqlite"), env=env)
    assert done.returncode == 1
    one_clear_line(done.stderr)
    assert "XDG_RUNTIME_DIR" in done.stderr
    status = photorank("status", env=env, timeout=60)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    missing = photorank("rank", "--ref", str(tmp_path / "nobody.jpg"), str(tmp_path), env=env, timeout=120)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


# --- messages in sentences ------------------------------------------------------------------------


def test_status_messages_are_sentences(shared_daemon, demo_collection, tmp_path):
    _, reference = demo_collection
    huge = "/" + "x" * (50 * 1024 * 1024)
    with pytest.raises(grpc.RpcError) as caught:
        list(shared_daemon.stub.Rank(pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[huge])))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "characters left out" in caught.value.details() and len(caught.value.details()) < 2000
    done = photorankd("--socket", str(tmp_path / "d.sock"), "--tcp", "127.0.0.1:99999")
    assert done.returncode == 1 and "give a loopback address and port" in done.stderr


@pytest.mark.slow
def test_sigterm_tells_running_calls_why_in_a_sentence(tmp_path, demo_collection):
    source, _ = demo_collection
    folder = reencoded(os.path.join(source, "group_with_person.jpg"), tmp_path / "many", range(50, 95))  # outlasts the grace
    running = Daemon(tmp_path, "--workers", "1")
    calls = running.stub.Index(pb.IndexRequest(paths=[str(folder)]))
    next(event for event in calls if event.progress.path)
    running.process.send_signal(signal.SIGTERM)
    with pytest.raises(grpc.RpcError) as caught:
        list(calls)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "photorankd is stopping" in caught.value.details()
    assert running.stop() == 0


# --- each photo analysed once ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_photo_finished_by_another_request_is_not_analysed_again(tmp_path, demo_collection):
    source, _ = demo_collection
    folder = reencoded(os.path.join(source, "group_with_person.jpg"), tmp_path / "twelve", range(60, 72))
    last = str(folder / "q71.jpg")
    running = Daemon(tmp_path, "--workers", "1")
    try:
        whole = threading.Thread(target=lambda: list(running.stub.Index(pb.IndexRequest(paths=[str(folder)]))))
        whole.start()
        time.sleep(0.5)  # the whole folder is listed (nothing cached) before the last photo is done alone
        alone = list(running.stub.Index(pb.IndexRequest(paths=[last])))[-1].report
        whole.join(timeout=600)
        assert alone.analysed == 1
        assert running.status().analyses_started == 12
    finally:
        running.stop()


# --- what the CLI loads to ask the daemon ---------------------------------------------------------


def test_the_cli_asking_the_daemon_loads_no_analysis_code(shared_daemon, demo_collection):
    source, reference = demo_collection
    done = run([sys.executable, "-X", "importtime", "-m", "photorank.cli", "analyze", "--daemon", shared_daemon.socket, "--json",
                os.path.join(source, "portrait.jpg")])
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "grpc" in imported and "photorank.client" in imported
    assert not [name for name in imported if name.split(".")[0] in HEAVY_MODULES]
    assert json.loads(done.stdout)["results"][0]["faces"]
