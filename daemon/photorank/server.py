"""photorankd: the sidecar daemon. One Library, kept for the daemon's life, served over gRPC.

    photorankd                      # foreground, on $XDG_RUNTIME_DIR/photorank/photorankd.sock
    photorankd --tcp 127.0.0.1:50551 --watch ~/Pictures

The servicer only turns messages into library calls and documents back into messages; every
decision lives in the library. The Unix socket is made 0600 in a 0700 folder: only the user who
runs the daemon can ask it to read or write their files. TCP is opt-in, loopback only, and every
call on it must carry the token of a 0600 file.
"""

from __future__ import annotations

import argparse
import errno
import hmac
import logging
import os
import queue
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from . import __version__, rpc
from .cli import add_engine_arguments, engine_argument, positive_int
from .config import load_settings
from .document import analyze_document, progress_document, rank_document
from .errors import Cancelled, PhotorankError
from .library import Library
from .reindex import Reindexer
from .v1 import photorank_pb2 as pb
from .v1 import photorank_pb2_grpc as pb_grpc

log = logging.getLogger("photorankd")

SERVICE = pb.DESCRIPTOR.services_by_name["Photorank"].full_name
STATUS_CODES = {"usage": grpc.StatusCode.INVALID_ARGUMENT, "not_found": grpc.StatusCode.NOT_FOUND}
# Seconds SIGTERM leaves running requests to finish before they are cut (what they analysed is kept).
STOP_GRACE_SECONDS = 5.0
SIGNAL_POLL_SECONDS = 0.5
REQUEST_THREADS = 16
STOPPING = "photorankd is stopping; what was analysed so far is kept: run again once it is back"
# After a name the file watcher cannot report, how long before the folders are indexed again.
WATCH_RETRY_SECONDS = 1.0
# How often the watcher yields with no change (its first yield starts the full pass).
WATCH_POLL_MS = 1000


class Calls:
    """The calls running now, each with the event that stops its work: at shutdown those still
    running after the grace period are told so in a sentence, not cut by gRPC."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: set[threading.Event] = set()
        self.stopping = threading.Event()

    def begin(self, context: grpc.ServicerContext) -> threading.Event:
        """The call's cancel event: set when the call ends for any reason (the client cancelled,
        went away, timed out) or the daemon stops."""
        cancel = threading.Event()
        with self._lock:
            self._running.add(cancel)
        context.add_callback(lambda: self.end(cancel))
        if self.stopping.is_set():
            cancel.set()
        return cancel

    def end(self, cancel: threading.Event) -> None:
        cancel.set()
        with self._lock:
            self._running.discard(cancel)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._running)

    def wait_idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    return
            time.sleep(0.05)

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            for cancel in self._running:
                cancel.set()


class PhotorankServicer(pb_grpc.PhotorankServicer):
    def __init__(self, library: Library, address: str, stop: threading.Event):
        self.library = library
        self.address = address
        self.started = time.monotonic()
        self.calls = Calls()
        self.reindexer = Reindexer(library, self.calls.busy, stop)

    def Rank(self, request: pb.RankRequest, context: grpc.ServicerContext) -> Iterator[pb.RankEvent]:
        work = lambda progress, cancel: rank_document(self.library.rank(rpc.rank_request(request), progress, cancel))  # noqa: E731
        for kind, document in streamed(work, context, self.calls):
            yield pb.RankEvent(**{kind: rpc.to_message(document, pb.Progress if kind == "progress" else pb.RankReport)})

    def Index(self, request: pb.IndexRequest, context: grpc.ServicerContext) -> Iterator[pb.IndexEvent]:
        def work(progress, cancel):
            return self.library.index(rpc.request_paths(request.paths), request.recursive, progress, cancel).as_dict()

        for kind, document in streamed(work, context, self.calls):
            yield pb.IndexEvent(**{kind: rpc.to_message(document, pb.Progress if kind == "progress" else pb.IndexReport)})

    def Analyze(self, request: pb.AnalyzeRequest, context: grpc.ServicerContext) -> pb.AnalyzeReport:
        cancel = self.calls.begin(context)
        with answering(context, self.calls):
            records = self.library.analyze(rpc.request_paths(request.paths), request.recursive, cancel=cancel)
            return rpc.to_message(analyze_document(self.library.engine.id, records), pb.AnalyzeReport)

    def Undo(self, request: pb.UndoRequest, context: grpc.ServicerContext) -> pb.WriteBack:
        self.calls.begin(context)  # counted as running: a shutdown gives it the grace period
        with answering(context, self.calls):
            person = rpc.from_wire(request.person).strip() or None
            summary = self.library.undo(rpc.request_paths(request.paths), request.recursive, person, rpc.xmp_options(request.xmp))
            return rpc.to_message(summary.as_dict(), pb.WriteBack)

    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.StatusReport:
        status = self.library.status()
        return pb.StatusReport(
            **vars(status), uptime_seconds=round(time.monotonic() - self.started, 1), pid=os.getpid(), address=self.address,
            reindex=pb.Reindex(**vars(self.reindexer.status())),
        )


class answering:
    """Turns the library's errors into gRPC statuses carrying the user's sentence (undecodable
    bytes of a name shown as \\xNN, a long one shortened)."""

    def __init__(self, context: grpc.ServicerContext, calls: Calls):
        self.context = context
        self.calls = calls

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or isinstance(error, (GeneratorExit, grpc.RpcError)) or not isinstance(error, Exception):
            return False
        if isinstance(error, Cancelled):
            if self.calls.stopping.is_set():
                self.context.abort(grpc.StatusCode.UNAVAILABLE, STOPPING)
            self.context.abort(grpc.StatusCode.CANCELLED, rpc.readable(str(error)))
        if isinstance(error, PhotorankError):
            self.context.abort(STATUS_CODES.get(error.kind, grpc.StatusCode.FAILED_PRECONDITION), rpc.readable(str(error)))
        log.exception("request failed")
        self.context.abort(grpc.StatusCode.INTERNAL, rpc.readable(f"photorankd failed: {type(error).__name__}: {error} (see its log)"))
        return False


def streamed(work: Callable, context: grpc.ServicerContext, calls: Calls) -> Iterator[tuple[str, dict]]:
    """Run `work(progress, cancel)` beside the call, yielding ("progress", event) documents as
    they come and ("report", document) at the end."""
    events: queue.Queue = queue.Queue()
    cancel = calls.begin(context)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = work(lambda event: events.put(progress_document(event)), cancel)
        except BaseException as error:  # noqa: BLE001 - re-raised in the call's thread below
            outcome["error"] = error
        finally:
            events.put(None)

    threading.Thread(target=run, name="photorank-request", daemon=True).start()
    with answering(context, calls):
        while (event := events.get()) is not None:
            yield "progress", event
        if "error" in outcome:
            raise outcome["error"]
        yield "report", outcome["report"]


class TokenCheck(grpc.ServerInterceptor):
    """On TCP every call but the health check must carry `authorization: Bearer <token>`."""

    def __init__(self, token: str):
        self.expected = f"Bearer {token}".encode()

        def refuse(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid token is needed on TCP (see photorankd --token-file)")

        self.refusals = {False: grpc.unary_unary_rpc_method_handler(refuse), True: grpc.unary_stream_rpc_method_handler(refuse)}

    def intercept_service(self, continuation, details):
        if details.method.startswith("/grpc.health.v1.Health/"):
            return continuation(details)
        presented = dict(details.invocation_metadata or ()).get(rpc.TOKEN_HEADER, "")
        handler = continuation(details)
        if hmac.compare_digest(presented.encode(), self.expected) or handler is None:
            return handler
        return self.refusals[handler.response_streaming]


def build_server(servicer: PhotorankServicer, health_servicer: health.HealthServicer, interceptors=()) -> grpc.Server:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="photorank-call"),
        interceptors=list(interceptors),
        options=[
            *rpc.CHANNEL_OPTIONS,
            ("grpc.so_reuseport", 0),  # a second daemon must not share the first one's TCP port
        ],
    )
    pb_grpc.add_PhotorankServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    return server


def prepare_socket(path: str, private_folder: bool) -> None:
    """A private folder for the socket, and no stale socket in the way; refuse if a daemon
    answers, or if PATH is anything but a socket (a file or a link is the user's, not ours)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700)
        if private_folder:
            os.chmod(folder, 0o700)
        found = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise PhotorankError(f"cannot make the socket folder {folder}: {error.strerror}") from None
    if not stat.S_ISSOCK(found.st_mode):
        raise PhotorankError(f"--socket {path}: something that is not a socket is there; name another path (it is left as it is)")
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # a socket left by a daemon that was killed
    else:
        raise PhotorankError(f"another photorankd is already serving on {path}")
    finally:
        probe.close()


def bind_unix(server: grpc.Server, path: str) -> None:
    previous = os.umask(0o177)  # the socket is born 0600: no moment when others could connect
    try:
        if not server.add_insecure_port(rpc.unix_target(path)):
            raise PhotorankError(f"cannot listen on {path}")
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)


def port_taken(address: str) -> bool:
    """Whether something listens on the port at any address `address` names (localhost: both
    127.0.0.1 and ::1). gRPC binds those it can and serves there: a port taken on one of them
    would split the clients between photorankd and the other program."""
    host, _, port = address.rpartition(":")
    if int(port) == 0:
        return False
    hosts = ("127.0.0.1", "::1") if host == "localhost" else (host.strip("[]"),)  # as gRPC takes localhost
    for numeric in hosts:
        family = socket.AF_INET6 if ":" in numeric else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds: only a listener is in the way
            try:
                probe.bind((numeric, int(port)))
            except OSError as error:  # no ::1 here (EADDRNOTAVAIL): gRPC cannot bind it either
                if error.errno == errno.EADDRINUSE:
                    return True
    return False


def bind_tcp(server: grpc.Server, address: str) -> str:
    """Listen on loopback `address`; the address actually bound (port 0 picks one)."""
    try:
        port = 0 if port_taken(address) else server.add_insecure_port(address)
    except RuntimeError:  # newer grpcio raises where older ones return 0
        port = 0
    if not port:
        raise PhotorankError(f"--tcp {address}: cannot listen there; the port is taken (another photorankd, or another program)")
    return f"{address.rpartition(':')[0]}:{port}"


def watch(library: Library, folders: list[str], stop: threading.Event) -> None:
    """Keep the index current as photos arrive or change in `folders`.

    The full pass over the folders runs once the watcher runs (its first yield), so a photo
    that arrives at any moment is either seen by the pass or reported by the watcher. The
    watcher cannot report a name that is not UTF-8 (it fails the whole batch): then it starts
    again with a new full pass, which finds such photos too (cached ones cost a stat each).
    Nothing ends this loop but `stop`."""
    import watchfiles

    from .images import is_image_path

    while not stop.is_set():
        try:
            pending_pass = True
            for changes in watchfiles.watch(*folders, stop_event=stop, recursive=True, yield_on_timeout=True, rust_timeout=WATCH_POLL_MS):
                if pending_pass:
                    for folder in folders:
                        summary = library.index([folder], recursive=True)
                        log.info("watching %s: %d photos (%d analysed now)", folder, summary.photos, summary.analysed)
                    pending_pass = False
                changed = sorted({path for change, path in changes if change != watchfiles.Change.deleted and is_image_path(path) and os.path.isfile(path)})
                if changed:
                    try:
                        summary = library.index(changed)
                        log.info("watch: %d new or changed photos analysed", summary.analysed)
                    except PhotorankError as error:  # a file gone between the event and now
                        log.warning("watch: %s", error)
        except Exception as error:  # noqa: BLE001 - logged; the folders are indexed again and watched on
            log.warning("watch: %s; indexing the watched folders again", rpc.readable(str(error)))
            stop.wait(WATCH_RETRY_SECONDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photorankd",
        description="photorank's daemon: keeps the face models and every cached face in memory and answers "
        "photorank (the CLI) and the darktable plugin over gRPC. Runs in the foreground; logs to stderr.",
    )
    parser.add_argument("--version", action="version", version=f"photorankd {__version__}")
    parser.add_argument("--socket", metavar="PATH", help="Unix socket to listen on (default: $XDG_RUNTIME_DIR/photorank/photorankd.sock)")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="also listen on TCP, loopback only (127.0.0.1:PORT or [::1]:PORT); calls need the token")
    parser.add_argument("--token-file", metavar="FILE", help=f"the TCP token, made on first use with mode 0600 (default: {rpc.default_token_file()})")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--cache", metavar="FILE", help="face cache file (default: in the user cache dir)")
    parser.add_argument("--workers", type=positive_int, metavar="N", help="analysis processes (default: all cores)")
    add_engine_arguments(parser, "photos analysed under another engine are analysed again when asked for")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: the user's config.toml, if any)")
    parser.add_argument("--watch", action="append", metavar="FOLDER", default=[], help="keep the index of FOLDER (and sub-folders) current as photos arrive (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sys.stderr.reconfigure(errors="backslashreplace")  # a log line naming a file that is not UTF-8
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return serve(args)
    except PhotorankError as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt:
        return 130


def serve(args: argparse.Namespace) -> int:
    socket_path = os.path.abspath(args.socket or rpc.default_socket())
    tcp = rpc.loopback_address(args.tcp) if args.tcp else None
    for folder in args.watch:
        if not os.path.isdir(folder):
            raise PhotorankError(f"--watch {folder}: no such folder")
    engine = engine_argument(args)
    settings = load_settings(args.config)
    token = rpc.read_or_create_token(args.token_file or rpc.default_token_file()) if tcp else None
    prepare_socket(socket_path, private_folder=args.socket is None)
    began = time.monotonic()
    library = Library(settings, engine=engine, cache_path=args.cache, workers=args.workers, preload=True)
    library.analyser.start_forkserver()  # from the main thread, so the workers end with this process
    if settings.daemon.warm_workers:
        library.analyser.start()
    health_servicer = health.HealthServicer()
    stop = threading.Event()
    servicer = PhotorankServicer(library, rpc.unix_target(socket_path), stop)
    servers = [build_server(servicer, health_servicer)]
    try:
        bind_unix(servers[0], socket_path)
        if tcp:
            servers.append(build_server(servicer, health_servicer, [TokenCheck(token)]))
            tcp = bind_tcp(servers[1], tcp)
    except BaseException:
        library.close()
        raise
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda number, frame: stop.set())
    for server in servers:
        server.start()
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    status = library.status()
    log.info(
        "serving on %s%s: engine %s, %d faces of %d images in memory (%.1f MB), ready in %.2f s",
        socket_path, f" and {tcp}" if tcp else "", status.engine, status.index_faces, status.images,
        status.index_bytes / 1e6, time.monotonic() - began,
    )
    if args.watch:
        threading.Thread(target=watch, args=(library, args.watch, stop), name="photorank-watch", daemon=True).start()
    if settings.daemon.reindex_in_background:
        servicer.reindexer.start()
    # Waited for in slices: SIGTERM given by the kernel to one of gRPC's threads does not wake an
    # endless lock wait in this one, so the handler that sets `stop` would never run.
    while not stop.wait(SIGNAL_POLL_SECONDS):
        pass
    log.info("stopping: no new calls; running ones have %.0f s to finish", STOP_GRACE_SECONDS)
    health_servicer.enter_graceful_shutdown()
    # gRPC refuses new calls at once; those still running after the grace are told why in a
    # sentence (STOPPING) before gRPC would cut them.
    stopped = [server.stop(STOP_GRACE_SECONDS + 2) for server in servers]
    servicer.calls.wait_idle(STOP_GRACE_SECONDS)
    servicer.calls.stop_all()
    for done in stopped:
        done.wait()
    servicer.reindexer.join(STOP_GRACE_SECONDS)  # it ends within a photo of `stop`
    library.close()
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
