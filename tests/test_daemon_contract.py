"""The gRPC contract: the committed stubs are what the .proto generates, and every JSON document
of docs/output.md travels through its message and back unchanged."""

from __future__ import annotations

import importlib
import inspect
import json
import pathlib
import sys

import pytest
from programs import run

from photorank.document import analyze_document, rank_document
from photorank.library import Library
from photorank.api import RankRequest
from photorank.rpc import to_document, to_message, without_absent
from photorank.v1 import photorank_pb2 as pb

REPO = pathlib.Path(__file__).resolve().parent.parent
GENERATED = ("photorank_pb2.py", "photorank_pb2.pyi", "photorank_pb2_grpc.py")


def test_committed_stubs_match_the_proto(tmp_path):
    pytest.importorskip("grpc_tools")
    done = run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(REPO / "protos"), f"--python_out={tmp_path}",
         f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", str(REPO / "protos/photorank/v1/photorank.proto")],
    )
    assert done.returncode == 0, done.stderr
    for name in GENERATED:
        committed = (REPO / "daemon/photorank/v1" / name).read_text()
        assert (tmp_path / "photorank/v1" / name).read_text() == committed, f"{name} is stale: regenerate it (see photorank/v1/__init__.py)"


@pytest.fixture(scope="module")
def documents(demo_collection):
    collection, reference = demo_collection
    with Library(cache_path=":memory:", workers=2) as library:
        report = library.rank(RankRequest([reference], [collection], person="Tom Hanks"))
        records = library.analyze([collection])
        return rank_document(report), analyze_document(library.engine.id, records)


@pytest.mark.slow
def test_documents_travel_through_their_messages_unchanged(documents):
    rank, analyze = documents
    assert rank["results"] and any(result["burst"] is None for result in rank["results"])
    assert rank["keyword_prefix"] and all(result["keywords"] for result in rank["results"])
    back = without_absent(to_document(to_message(rank, pb.RankReport)), ("xmp",))
    assert json.dumps(back, indent=2) == json.dumps(rank, indent=2)
    back = to_document(to_message(analyze, pb.AnalyzeReport))
    assert json.dumps(back, indent=2) == json.dumps(analyze, indent=2)


def test_a_field_the_proto_lacks_is_refused(documents):
    rank, _ = documents
    from google.protobuf.json_format import ParseError

    with pytest.raises(ParseError):
        to_message({**rank, "invented": 1}, pb.RankReport)


def test_both_backends_answer_every_call_of_the_backend_protocol_alike():
    from photorank.client import Backend, DaemonClient, LocalBackend

    calls = [name for name, member in vars(Backend).items() if callable(member) and not name.startswith("_")]
    assert set(calls) == {"rank", "index", "analyze", "undo", "close"}
    for backend in (LocalBackend, DaemonClient):
        for name in calls:
            assert inspect.signature(getattr(backend, name)) == inspect.signature(getattr(Backend, name)), (backend, name)
    assert LocalBackend.name == "in-process"


@pytest.mark.parametrize("main, program", [("photorank.cli", "photorank rank"), ("photorank.server", "photorankd")])
def test_workers_below_one_is_refused_alike_by_both_commands(main, program, capsys):
    module = importlib.import_module(main)
    with pytest.raises(SystemExit) as stopped:
        module.main(["rank", "--workers", "0", "photos"] if program == "photorank rank" else ["--workers", "0"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"{program}: error: argument --workers: expected a whole number of at least 1, got '0'")
