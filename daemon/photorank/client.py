"""How the CLI gets its answers: from a running photorankd, or from a Library of its own.

Both backends take the same requests and return the same JSON documents (document.py), so
`photorank rank --json` prints the same document either way. Talking to the daemon imports
only grpc and the messages (no numpy, no decoders), so that path starts in a fraction of the
in-process one.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Protocol

import grpc

from . import rpc
from .document import analyze_document, rank_document
from .errors import PathNotFound, PhotorankError, UsageError
from .api import PeopleRequest, Progress, ProgressEvent, RankRequest, XmpOptions
from .v1 import photorank_pb2 as pb
from .v1 import photorank_pb2_grpc as pb_grpc

if TYPE_CHECKING:  # the daemon's clients load no analysis code: asking photorankd stays fast
    from .library import Library

# How long the CLI waits for a daemon whose socket exists before running in-process.
CONNECT_SECONDS = 2.0
ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT: UsageError,
    grpc.StatusCode.NOT_FOUND: PathNotFound,
}


class Backend(Protocol):
    """What the CLI asks of either backend; each answer is the JSON document of docs/output.md."""

    name: str  # said in messages: "in-process" or "photorankd at ADDRESS"

    def rank(self, request: RankRequest | PeopleRequest, progress: Progress | None = None) -> dict: ...

    def index(self, paths: list[str], recursive: bool, progress: Progress | None = None) -> dict: ...

    def analyze(self, paths: list[str], recursive: bool, progress: Progress | None = None) -> dict: ...

    def undo(self, paths: list[str], recursive: bool, person: str | None, options: XmpOptions) -> dict: ...

    def close(self) -> None: ...


class LocalBackend:
    """A Library in this process, for one command."""

    name = "in-process"

    def __init__(self, library: Library):
        self.library = library

    def rank(self, request: RankRequest | PeopleRequest, progress: Progress | None = None) -> dict:
        return rank_document(self.library.rank(request, progress))

    def index(self, paths: list[str], recursive: bool, progress: Progress | None = None) -> dict:
        return self.library.index(paths, recursive, progress).as_dict()

    def analyze(self, paths: list[str], recursive: bool, progress: Progress | None = None) -> dict:
        return analyze_document(self.library.engine.id, self.library.analyze(paths, recursive, progress))

    def undo(self, paths: list[str], recursive: bool, person: str | None, options: XmpOptions) -> dict:
        return self.library.undo(paths, recursive, person, options).as_dict()

    def close(self) -> None:
        self.library.close()


class DaemonClient:
    """photorankd over gRPC. Paths are sent absolute: the daemon's working folder is not ours."""

    def __init__(self, address: str, token: str | None = None):
        self.address = address
        self.channel = grpc.insecure_channel(rpc.client_target(address), options=rpc.CHANNEL_OPTIONS)
        self.stub = pb_grpc.PhotorankStub(self.channel)
        self.metadata = ((rpc.TOKEN_HEADER, f"Bearer {token}"),) if token else ()
        self.name = f"photorankd at {address}"

    def rank(self, request: RankRequest | PeopleRequest, progress: Progress | None = None) -> dict:
        calls = self.stub.Rank(rpc.rank_message(request), metadata=self.metadata)
        return rpc.without_absent(self._streamed(calls, progress), ("xmp",))

    def index(self, paths: list[str], recursive: bool, progress: Progress | None = None) -> dict:
        request = pb.IndexRequest(paths=rpc.wire_paths(paths), recursive=recursive)
        return self._streamed(self.stub.Index(request, metadata=self.metadata), progress)

    def analyze(self, paths: list[str], recursive: bool, progress: Progress | None = None) -> dict:
        request = pb.AnalyzeRequest(paths=rpc.wire_paths(paths), recursive=recursive)
        return rpc.to_document(self._call(self.stub.Analyze, request))

    def undo(self, paths: list[str], recursive: bool, person: str | None, options: XmpOptions) -> dict:
        request = pb.UndoRequest(paths=rpc.wire_paths(paths), recursive=recursive, person=rpc.to_wire(person or ""), xmp=rpc.xmp_message(options))
        return rpc.to_document(self._call(self.stub.Undo, request))

    def status(self) -> dict:
        return rpc.to_document(self._call(self.stub.Status, pb.StatusRequest()))

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request):
        try:
            return method(request, metadata=self.metadata)
        except grpc.RpcError as error:
            raise self._error(error) from None

    def _streamed(self, calls, progress: Progress | None) -> dict:
        """Progress events to `progress`, the final report as its document. Ctrl-C cancels the call."""
        try:
            for event in calls:
                if event.HasField("progress"):
                    if progress:
                        document = rpc.to_document(event.progress)
                        progress(ProgressEvent(document["phase"], document["done"], document["total"], document["path"]))
                else:
                    return rpc.to_document(event.report)
        except grpc.RpcError as error:
            raise self._error(error) from None
        except KeyboardInterrupt:
            calls.cancel()
            raise
        raise PhotorankError(f"{self.name} ended the call without a report")

    def _error(self, error: grpc.RpcError) -> PhotorankError:
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            return PhotorankError(f"{self.name} is not answering ({error.details()}); start it with photorankd, or use --no-daemon")
        return ERRORS.get(error.code(), PhotorankError)(error.details())


def listening(target: str, seconds: float = CONNECT_SECONDS) -> bool:
    """Whether something accepts connections at a gRPC target: a plain connect, far cheaper than
    gRPC's readiness watch (whose channel then takes a fifth of a second to close)."""
    if target.startswith("unix:"):
        family, where = socket.AF_UNIX, target[len("unix:"):]
    else:
        host, _, port = target.rpartition(":")
        family, where = (socket.AF_INET6 if ":" in host else socket.AF_INET), (host.strip("[]"), int(port))
    with socket.socket(family) as probe:
        probe.settimeout(seconds)
        try:
            probe.connect(where)
        except OSError:
            return False
    return True


def private_folder(path: str) -> bool:
    """Whether the folder holding `path` is the user's own and closed to others: a socket that
    another user could have put there is never trusted with our paths."""
    try:
        folder = os.stat(os.path.dirname(path))
    except OSError:
        return False
    return folder.st_uid == os.getuid() and not folder.st_mode & 0o022


def find_daemon(address: str | None = None, token_file: str | None = None) -> DaemonClient | None:
    """The daemon at `address` (which must answer), else the one on the default socket if it answers."""
    if address:
        target = rpc.client_target(address)
        if not listening(target):
            raise PhotorankError(f"no photorankd answers at {address}")
        return DaemonClient(address, None if target.startswith("unix:") else rpc.read_token(token_file or rpc.default_token_file()))
    try:
        socket_path = rpc.default_socket()
    except PhotorankError:  # no private runtime folder: no daemon of ours can be there
        return None
    if not (private_folder(socket_path) and listening(rpc.unix_target(socket_path))):
        return None
    return DaemonClient(socket_path)

