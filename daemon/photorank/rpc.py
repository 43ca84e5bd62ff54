"""The wire between photorankd and its clients: addresses, the TCP token, and the conversion
of library requests and JSON documents to and from the protobuf messages of photorank.v1.

The messages mirror the documents of document.py name for name, so one generic conversion
serves every report, and the CLI prints the same document whether it ran in-process or asked
the daemon.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import warnings

import platformdirs
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from .config import APP_NAME
from .errors import UsageError
from .ranking import RankRequest, ReferenceSpec
from .records import XmpOptions
from .v1 import photorank_pb2 as pb

SOCKET_NAME = "photorankd.sock"
TOKEN_NAME = "photorankd.token"
TOKEN_HEADER = "authorization"
# Large enough for a request naming 100 000 photos, or a report of as many results.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# Paths one request may name (photos and folders): a folder counts once, whatever it holds.
MAX_PATHS = 200_000


def runtime_dir() -> str:
    """$XDG_RUNTIME_DIR/photorank (a private per-user folder), or platformdirs' fallback."""
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (a container, a cron job): the fallback is fine
        warnings.simplefilter("ignore")
        return platformdirs.user_runtime_dir(APP_NAME)


def default_socket() -> str:
    return os.path.join(runtime_dir(), SOCKET_NAME)


def default_token_file() -> str:
    return os.path.join(platformdirs.user_config_dir(APP_NAME), TOKEN_NAME)


def unix_target(path: str) -> str:
    return f"unix:{os.path.abspath(path)}"


def client_target(address: str) -> str:
    """A gRPC target from what a user types: a socket path, `unix:PATH`, or HOST:PORT."""
    if address.startswith("unix:"):
        return unix_target(address[len("unix:"):])
    if os.sep in address or address.endswith(".sock"):
        return unix_target(address)
    return address


def loopback_address(address: str) -> str:
    """HOST:PORT for TCP, refused unless HOST is a loopback address (the daemon reads and writes
    the user's files: it must not be reachable from the network)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or not port.isdigit():
        raise UsageError(f"--tcp {address}: give a loopback address and port, such as 127.0.0.1:50551 or [::1]:50551")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def read_or_create_token(path: str) -> str:
    """The shared secret of TCP clients, in a file only the user can read (made on first use)."""
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def read_token(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


# --- documents <-> messages ---------------------------------------------------------------------


def to_message(document: dict, message_type: type[Message]) -> Message:
    """A JSON document (document.py) as its message; a key the message lacks is a bug, not ignored."""
    return json_format.ParseDict(document, message_type())


def to_document(message: Message) -> dict:
    """A message as the JSON document it mirrors: every field present, unset optionals as null."""
    document = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.Struct":
            document[field.name] = dict(sorted(json_format.MessageToDict(value).items())) if message.HasField(field.name) else {}
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            document[field.name] = dict(sorted(value.items()))
        elif field.is_repeated:
            document[field.name] = [to_document(item) if isinstance(item, Message) else item for item in value]
        elif field.has_presence and not message.HasField(field.name):
            document[field.name] = None
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            document[field.name] = to_document(value)
        else:
            document[field.name] = value
    return document


def without_absent(document: dict, absent_means_missing: tuple[str, ...]) -> dict:
    """Drop top-level keys a document only has when they apply (a rank report's `xmp`)."""
    return {key: value for key, value in document.items() if not (key in absent_means_missing and value is None)}


# --- requests -----------------------------------------------------------------------------------


def xmp_message(options: XmpOptions) -> pb.XmpOptions:
    message = pb.XmpOptions(unrated=options.unrated or [], dry_run=options.dry_run)
    for name in ("naming", "overwrite_ratings", "embed"):
        if getattr(options, name) is not None:
            setattr(message, name, getattr(options, name))
    return message


def xmp_options(message: pb.XmpOptions) -> XmpOptions:
    present = lambda name: getattr(message, name) if message.HasField(name) else None  # noqa: E731
    return XmpOptions(
        naming=present("naming"),
        overwrite_ratings=present("overwrite_ratings"),
        unrated=list(message.unrated) or None,
        embed=present("embed"),
        dry_run=message.dry_run,
    )


def rank_message(request: RankRequest) -> pb.RankRequest:
    return pb.RankRequest(
        references=[
            pb.ReferencePhoto(path=os.path.abspath(spec.path), box=list(spec.box or ()), **({"face": spec.face} if spec.face else {}))
            for spec in request.references
        ],
        paths=[os.path.abspath(path) for path in request.paths],
        recursive=request.recursive,
        top=request.top or 0,
        best_of_burst=request.best_of_burst,
        include_unsure=request.include_unsure,
        person=request.person or "",
        write_xmp=request.write_xmp,
        xmp=xmp_message(request.xmp),
    )


def rank_request(message: pb.RankRequest) -> RankRequest:
    """The library's request from a message, checked for what the message type cannot say."""
    check_request_paths([reference.path for reference in message.references] + list(message.paths))
    references = []
    for reference in message.references:
        if reference.box and len(reference.box) != 4:
            raise UsageError(f"reference {reference.path}: a box is [x, y, width, height], got {list(reference.box)}")
        if reference.HasField("face") and reference.face < 1:
            raise UsageError(f"reference {reference.path}: faces are numbered from 1")
        references.append(ReferenceSpec(
            reference.path,
            reference.face if reference.HasField("face") else None,
            tuple(reference.box) if reference.box else None,
        ))
    if not references and not message.person.strip():
        raise UsageError("no reference photo given, and no person's name whose tagged faces would serve as references")
    return RankRequest(
        references=references,
        paths=list(message.paths),
        recursive=message.recursive,
        top=message.top or None,
        best_of_burst=message.best_of_burst,
        include_unsure=message.include_unsure,
        person=message.person or None,
        write_xmp=message.write_xmp,
        xmp=xmp_options(message.xmp),
    )


def check_request_paths(paths: list[str]) -> None:
    """What the daemon asks of every path before any work: absolute (its working folder is not
    the client's), and not more than it will take."""
    if len(paths) > MAX_PATHS:
        raise UsageError(f"{len(paths)} paths in one request; at most {MAX_PATHS} (name folders instead of their photos)")
    for path in paths:
        if not os.path.isabs(path):
            raise UsageError(f"{path}: paths sent to the daemon must be absolute")
