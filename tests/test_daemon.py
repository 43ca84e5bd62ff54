"""photorankd for real: a daemon process on a temp socket, driven through gRPC and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from PIL import Image

from programs import Daemon, environment, loads, photorank

from photorank.client import DaemonClient
from photorank.faces import DEFAULT_ENGINE
from photorank.api import RankRequest, ReferenceSpec
from photorank.v1 import photorank_pb2 as pb
from photorank.v1 import photorank_pb2_grpc as pb_grpc


@pytest.fixture
def photos(demo_collection, tmp_path):
    """The example collection plus re-encoded copies: twelve photos, and the reference apart."""
    collection, reference = demo_collection
    folder = tmp_path / "photos"
    shutil.copytree(collection, folder)
    for quality, name in [(80, "portrait.jpg"), (70, "portrait.jpg"), (60, "group_with_person.jpg"), (85, "group_without_person.jpg"),
                          (75, "portrait_soft.jpg"), (65, "portrait_dark.jpg"), (90, "group_with_person.jpg")]:
        Image.open(folder / name).save(folder / f"q{quality}_{name}", quality=quality)
    return folder, reference


@pytest.fixture
def daemon(tmp_path):
    running = Daemon(tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def idle_daemon(tmp_path_factory):
    """One daemon for the tests that only look at it (no request that changes its state)."""
    running = Daemon(tmp_path_factory.mktemp("idle-daemon"))
    yield running
    running.stop()


@pytest.fixture
def warm_daemon(tmp_path):
    running = Daemon(tmp_path, warm=True)
    yield running
    running.stop()


@pytest.mark.slow
def test_rank_streams_progress_then_the_same_document_as_the_cli_in_process(warm_daemon, photos, tmp_path):
    daemon = warm_daemon
    # [daemon] warm_workers (the default): both workers run, their models loaded, before any request
    daemon.wait_until(lambda: len(workers := daemon.analysis_workers()) == 2 and all(loads(pid, "onnxruntime") for pid in workers))
    assert daemon.status().analyses_started == 0
    folder, reference = photos
    request = pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(folder)])
    progress, report = daemon.rank(request)
    indexing = [event for event in progress if event.phase == "indexing"]
    assert indexing[-1].done == indexing[-1].total == 12
    assert sum(1 for event in indexing if event.path) == 12  # one event per photo analysed
    assert {event.phase for event in progress} >= {"references", "indexing", "ranking"}
    assert len(report.results) == 10 and report.not_found == 2

    command = ["rank", "--ref", reference, str(folder), "--json"]
    through_daemon = photorank(*command, "--daemon", daemon.socket)
    in_process = photorank(*command, "--cache", str(tmp_path / "own.sqlite"))
    assert through_daemon.returncode == in_process.returncode == 0, through_daemon.stderr + in_process.stderr
    assert through_daemon.stdout == in_process.stdout
    assert json.loads(through_daemon.stdout)["found"] == 10


@pytest.mark.slow
def test_second_rank_is_answered_from_memory(daemon, photos):
    folder, reference = photos
    request = pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(folder)], top=3)
    daemon.rank(request)
    started = daemon.status().analyses_started
    progress, report = daemon.rank(request)
    assert daemon.status().analyses_started == started  # nothing analysed again
    assert not [event for event in progress if event.path]
    assert [result.rank for result in report.results] == [1, 2, 3]
    status = daemon.status()
    assert status.images == 13 and status.faces == status.index_faces > 0


@pytest.mark.slow
def test_index_analyze_undo_and_status(daemon, photos):
    folder, reference = photos
    events = list(daemon.stub.Index(pb.IndexRequest(paths=[str(folder)])))
    assert events[-1].report.photos == 12 and events[-1].report.analysed == 12
    again = list(daemon.stub.Index(pb.IndexRequest(paths=[str(folder)])))
    assert again[-1].report.analysed == 0 and again[-1].report.cached == 12

    analysed = daemon.stub.Analyze(pb.AnalyzeRequest(paths=[str(folder / "group_with_person.jpg")]))
    assert len(analysed.results[0].faces) == 7

    client = DaemonClient(daemon.socket)
    document = client.rank(RankRequest([ReferenceSpec(reference)], [str(folder)], person="Tom", write_xmp=True))
    assert document["xmp"]["files"]["created"] == 10
    assert os.path.exists(str(folder / "portrait.jpg") + ".xmp")
    planned = client.undo([str(folder)], False, "Tom", pb_options(dry_run=True))  # what would change, per sidecar
    assert planned["dry_run"] and planned["files"] == {"removed": 10} and len(planned["changes"]) == 10
    assert all(change["action"] == "removed" and "photorank data - Tom" in change["changes"] for change in planned["changes"])
    assert os.path.exists(str(folder / "portrait.jpg") + ".xmp")
    undone = client.undo([str(folder)], False, "Tom", pb_options())
    assert undone["files"]["removed"] == 10
    assert not os.path.exists(str(folder / "portrait.jpg") + ".xmp")
    client.close()

    status = daemon.status()
    assert status.version and status.engine.startswith(f"{DEFAULT_ENGINE}-") and status.pid == daemon.process.pid
    assert status.cache_path == daemon.cache and status.workers == 2 and status.uptime_seconds > 0


def pb_options(**options):
    from photorank.api import XmpOptions

    return XmpOptions(**options)


def test_health_and_reflection(idle_daemon):
    daemon = idle_daemon
    health = health_pb2_grpc.HealthStub(daemon.channel)
    for service in ("", "photorank.v1.Photorank"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(daemon.channel)
    [answer] = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {service.name for service in answer.list_services_response.service}
    assert {"photorank.v1.Photorank", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_socket_is_private(idle_daemon):
    daemon = idle_daemon
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(daemon.socket)).st_mode) == 0o700


@pytest.mark.slow
def test_bad_requests_get_a_clear_status_and_the_daemon_keeps_serving(daemon, photos, tmp_path):
    folder, reference = photos
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), (90, 90, 90)).save(blank)

    def rank_error(references, paths) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            list(daemon.stub.Rank(pb.RankRequest(references=references, paths=paths)))
        return caught.value

    cases = [
        ([pb.ReferencePhoto(path=reference)], [str(tmp_path / "nowhere")], grpc.StatusCode.NOT_FOUND, "no such photo or folder"),
        ([pb.ReferencePhoto(path=str(tmp_path / "gone.jpg"))], [str(folder)], grpc.StatusCode.NOT_FOUND, "no such reference"),
        ([pb.ReferencePhoto(path=reference)], ["relative/folder"], grpc.StatusCode.INVALID_ARGUMENT, "must be absolute"),
        ([], [str(folder)], grpc.StatusCode.INVALID_ARGUMENT, "no reference"),
        ([pb.ReferencePhoto(path=reference, face=4)], [str(folder)], grpc.StatusCode.INVALID_ARGUMENT, "no face number 4"),
        ([pb.ReferencePhoto(path=reference, box=[1, 2])], [str(folder)], grpc.StatusCode.INVALID_ARGUMENT, "a box is"),
        ([pb.ReferencePhoto(path=str(blank))], [str(folder)], grpc.StatusCode.FAILED_PRECONDITION, "no face found"),
    ]
    started = daemon.status().analyses_started
    for references, paths, code, words in cases:
        error = rank_error(references, paths)
        assert error.code() == code and words in error.details(), (error.code(), error.details())
    assert daemon.status().analyses_started <= started + 2  # the reference photos only: no collection was analysed
    with pytest.raises(grpc.RpcError) as caught:
        daemon.stub.Analyze(pb.AnalyzeRequest(paths=[str(tmp_path / "nowhere")]))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    progress, report = daemon.rank(pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(folder)]))
    assert report.found == 10


@pytest.mark.slow
def test_overlapping_indexes_analyse_each_photo_once_and_ranks_answer_meanwhile(daemon, photos, tmp_path):
    folder, reference = photos
    cached = tmp_path / "cached"
    cached.mkdir()
    for name in ("portrait.jpg", "group_without_person.jpg"):
        shutil.copy(folder / name, cached / f"c_{name}")
    list(daemon.stub.Index(pb.IndexRequest(paths=[str(cached), reference])))
    before = daemon.status().analyses_started

    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(list(daemon.stub.Index(pb.IndexRequest(paths=[str(folder)])))[-1].report))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    # The rank goes as soon as the indexes analyse: with warm workers ten photos take well under a second.
    while daemon.status().analyses_started == before:
        time.sleep(0.02)
    # A rank over cached photos is answered while both indexes run.
    _, report = daemon.rank(pb.RankRequest(references=[pb.ReferencePhoto(path=reference)], paths=[str(cached)]))
    assert report.found == 1
    indexing_still = any(thread.is_alive() for thread in threads)
    for thread in threads:
        thread.join(timeout=600)
    assert indexing_still
    # twelve photos, two of them known by their content (the copies indexed above): ten analysed, each once
    assert daemon.status().analyses_started - before == 10
    assert [r.photos for r in reports] == [12, 12]


@pytest.mark.slow
def test_a_cancelled_rank_stops_its_work(daemon, photos):
    folder, reference = photos
    calls = daemon.stub.Index(pb.IndexRequest(paths=[str(folder)]))
    for event in calls:
        if event.progress.path:  # the first photo is done
            calls.cancel()
            break
    time.sleep(3)
    status = daemon.status()
    assert status.queued == 0
    assert status.analyses_started < 12


def test_tcp_needs_the_token(tmp_path, photos):
    folder, reference = photos
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_file = tmp_path / "token"
    running = Daemon(tmp_path, "--tcp", f"127.0.0.1:{port}", "--token-file", str(token_file))
    try:
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = pb_grpc.PhotorankStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Status(pb.StatusRequest())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Index(pb.IndexRequest(paths=[str(folder)]), metadata=(("authorization", "Bearer wrong"),)))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert stub.Status(pb.StatusRequest(), metadata=(("authorization", f"Bearer {token}"),)).pid == running.process.pid
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
        channel.close()
        with pytest.raises(Exception, match="loopback"):
            from photorank.rpc import loopback_address

            loopback_address("0.0.0.0:50551")
    finally:
        running.stop()


def test_sigterm_stops_cleanly(tmp_path):
    running = Daemon(tmp_path)
    assert running.stop(signal.SIGTERM) == 0
    assert not os.path.exists(running.socket)
    assert "stopped" in open(tmp_path / "photorankd.log").read()


@pytest.mark.slow
def test_kill_9_during_an_index_loses_at_most_the_photos_in_flight(tmp_path, photos):
    folder, _ = photos
    running = Daemon(tmp_path)
    calls = running.stub.Index(pb.IndexRequest(paths=[str(folder)]))
    finished = 0
    for event in calls:
        if event.progress.path:
            finished += 1
            if finished == 4:
                break
    running.stop(signal.SIGKILL)
    restarted = Daemon(tmp_path)  # a stale socket is cleaned up; the cache is consistent
    try:
        stored = restarted.status().images
        assert 4 <= stored < 12
        report = list(restarted.stub.Index(pb.IndexRequest(paths=[str(folder)])))[-1].report
        assert report.analysed == 12 - stored  # what was stored before the kill is not analysed again
        assert report.cached == stored
        assert restarted.status().analyses_started == 12 - stored
    finally:
        restarted.stop()


@pytest.mark.slow
def test_cli_finds_the_daemon_and_reports_status(daemon, photos, tmp_path):
    folder, reference = photos
    done = photorank("status", "--daemon", daemon.socket, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["running"] is True
    done = photorank("status", env=environment(XDG_RUNTIME_DIR=str(tmp_path / "nobody")))
    assert done.returncode == 1 and "not running" in done.stdout and "photorankd" in done.stdout
    jsonl = photorank("rank", "--ref", reference, str(folder), "--daemon", daemon.socket, "--progress", "jsonl")
    assert jsonl.returncode == 0, jsonl.stderr
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert all(line["event"] == "progress" for line in lines[:-1]) and len(lines) > 3
    assert lines[-1]["found"] == 10


def test_watch_indexes_photos_as_they_arrive(tmp_path, photos):
    folder, _ = photos
    watched = tmp_path / "incoming"
    watched.mkdir()
    running = Daemon(tmp_path, "--watch", str(watched))

    def arrives(name: str, images: int) -> None:
        shutil.copy(folder / name, watched / name)
        running.wait_until(lambda: running.status().images >= images)

    try:
        running.wait_until(lambda: "watching" in running.text_log())  # the watcher runs, and the folder was looked through
        arrives("q80_portrait.jpg", 1)
        report = list(running.stub.Index(pb.IndexRequest(paths=[str(watched)])))[-1].report
        assert report.cached == 1 and report.analysed == 0  # already analysed when it arrived
        # A name the watcher cannot report (not UTF-8, even of no photo) must not end the watching.
        with open(os.path.join(os.fsencode(watched), b"notes-\xe9.txt"), "wb") as handle:
            handle.write(b"not a photo")
        time.sleep(1.5)
        arrives("q70_portrait.jpg", 2)
        assert "indexing the watched folders again" in running.text_log()
    finally:
        running.stop()
