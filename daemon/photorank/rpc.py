"""The wire between photorankd and its clients: addresses, the TCP token, and the conversion
of library requests and JSON documents to and from the protobuf messages of photorank.v1.

The messages mirror the documents of document.py name for name, so one generic conversion
serves every report, and the CLI prints the same document whether it ran in-process or asked
the daemon.

A file name need not be UTF-8 (an old Windows archive in Latin-1); Python gives its bytes as
lone surrogates (os.fsdecode), which a protobuf string cannot carry. On the wire each such byte
is NUL and two hex digits: NUL never occurs in a path, so the escape is lossless, and names
that are UTF-8 travel as they are.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import warnings

import platformdirs
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from . import APP_NAME
from .config import ConfigError, load_defaults, validate
from .errors import PhotorankError, UsageError
from .api import PeopleRequest, Person, RankRequest, ReferenceSpec, XmpOptions
from .v1 import photorank_pb2 as pb

SOCKET_NAME = "photorankd.sock"
TOKEN_NAME = "photorankd.token"
TOKEN_HEADER = "authorization"
# Large enough for a request naming 100 000 photos, or a report of as many results.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# The options of both ends of a channel: the daemon's server and every client.
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)
# Paths one request may name (photos and folders): a folder counts once, whatever it holds.
MAX_PATHS = 200_000
# Longest status message: a sentence, never a whole request echoed back (gRPC caps metadata).
MAX_DETAILS_CHARS = 1000
WIRE_ESCAPE = "\0"
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")
_ESCAPED_BYTE = re.compile("\0([0-9a-f]{2})")


def runtime_dir() -> str:
    """$XDG_RUNTIME_DIR/photorank (a private per-user folder), or platformdirs' fallback
    (/tmp/runtime-$UID), which it refuses when that folder is not the user's own."""
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (a container, a cron job): the fallback is fine
        warnings.simplefilter("ignore")
        try:
            return platformdirs.user_runtime_dir(APP_NAME)
        except PermissionError as error:
            raise PhotorankError(
                f"no private folder for photorankd's socket ({error}); set XDG_RUNTIME_DIR to a folder of yours, or name one with --socket PATH"
            ) from None


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
    if not loopback or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--tcp {address}: give a loopback address and port, such as 127.0.0.1:50551 or [::1]:50551")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def read_or_create_token(path: str) -> str:
    """The shared secret of TCP clients, in a file only the user can read (made on first use).
    A token that others could read is refused: anyone who read it could use the daemon as us."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode & 0o777
            token = handle.read().strip()
        if mode & 0o077:
            raise PhotorankError(
                f"the token file {path} can be read by other users (mode {mode:04o}); make a new one: rm {path} (photorankd writes it 0600)"
            )
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
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as error:
        raise PhotorankError(f"cannot read the token file {path}: {error.strerror}; pass --token-file FILE") from None


# --- paths and sentences on the wire -------------------------------------------------------------


def to_wire(text: str) -> str:
    """A str as a protobuf string: each undecodable byte of a file name as NUL + two hex digits."""
    return _UNDECODED_BYTE.sub(lambda byte: f"{WIRE_ESCAPE}{ord(byte.group()) - 0xDC00:02x}", text)


def from_wire(text: str) -> str:
    """The str that `to_wire` was given: the same name, the same bytes on disk."""
    return _ESCAPED_BYTE.sub(lambda byte: chr(0xDC00 + int(byte.group(1), 16)), text) if WIRE_ESCAPE in text else text


def readable(message: str) -> str:
    """A status message for people: undecodable bytes shown as \\xNN, at most MAX_DETAILS_CHARS."""
    text = message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if len(text) <= MAX_DETAILS_CHARS:
        return text
    half = MAX_DETAILS_CHARS // 2
    return f"{text[:half]} ... ({len(text) - 2 * half} characters left out) ... {text[-half:]}"


def _mapped(value, convert):
    """`value` with `convert` applied to every string in it (documents are dicts, lists, scalars)."""
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, dict):
        return {key: _mapped(item, convert) for key, item in value.items()}
    if isinstance(value, list):
        return [_mapped(item, convert) for item in value]
    return value


# --- documents <-> messages ---------------------------------------------------------------------


def to_message(document: dict, message_type: type[Message]) -> Message:
    """A JSON document (document.py) as its message; a key the message lacks is a bug, not ignored."""
    return json_format.ParseDict(_mapped(document, to_wire), message_type())


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
            document[field.name] = [to_document(item) if isinstance(item, Message) else _mapped(item, from_wire) for item in value]
        elif field.has_presence and not message.HasField(field.name):
            document[field.name] = None
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            document[field.name] = to_document(value)
        else:
            document[field.name] = _mapped(value, from_wire)
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
    """A request's write-back choices, checked as the [xmp] settings are (before any work)."""
    present = lambda name: getattr(message, name) if message.HasField(name) else None  # noqa: E731
    options = XmpOptions(
        naming=present("naming"),
        overwrite_ratings=present("overwrite_ratings"),
        unrated=list(message.unrated) or None,
        embed=present("embed"),
        dry_run=message.dry_run,
    )
    chosen = {key: value for key, value in vars(options).items() if value is not None and key != "dry_run"}
    try:
        validate({"xmp": chosen}, load_defaults(), "the request's xmp options")
    except ConfigError as error:
        raise UsageError(str(error)) from None
    return options


def reference_messages(specs: list[ReferenceSpec]) -> list[pb.ReferencePhoto]:
    return [
        pb.ReferencePhoto(path=wire_path(spec.path), box=list(spec.box or ()), **({"face": spec.face} if spec.face else {}))
        for spec in specs
    ]


def rank_message(request: RankRequest | PeopleRequest) -> pb.RankRequest:
    """One person's request (references and `person`), or a set's (`people` and `mode`)."""
    if isinstance(request, PeopleRequest):
        who = {
            "people": [pb.Person(name=to_wire(person.name), references=reference_messages(person.references)) for person in request.people],
            "mode": request.mode,
        }
    else:
        who = {"references": reference_messages(request.references), "person": to_wire(request.person or "")}
    return pb.RankRequest(
        **who,
        paths=wire_paths(request.paths),
        recursive=request.recursive,
        top=request.top or 0,
        best_of_burst=request.best_of_burst,
        include_unsure=request.include_unsure,
        write_xmp=request.write_xmp,
        xmp=xmp_message(request.xmp),
    )


def reference_specs(messages) -> list[ReferenceSpec]:
    """ReferencePhoto messages as the library's specs, checked for what the message type cannot say."""
    references = []
    for reference, path in zip(messages, request_paths([reference.path for reference in messages])):
        if reference.box and len(reference.box) != 4:
            raise UsageError(f"reference {path}: a box is [x, y, width, height], got {list(reference.box)}")
        if reference.HasField("face") and reference.face < 1:
            raise UsageError(f"reference {path}: faces are numbered from 1")
        references.append(ReferenceSpec(
            path,
            reference.face if reference.HasField("face") else None,
            tuple(reference.box) if reference.box else None,
        ))
    return references


def rank_request(message: pb.RankRequest) -> RankRequest | PeopleRequest:
    """The library's request from a message, checked for what the message type cannot say."""
    common = {
        "paths": request_paths(message.paths),
        "recursive": message.recursive,
        "top": message.top or None,
        "best_of_burst": message.best_of_burst,
        "include_unsure": message.include_unsure,
        "write_xmp": message.write_xmp,
        "xmp": xmp_options(message.xmp),
    }
    if message.people:
        if message.references:
            raise UsageError("a request names either one person's references or people, not both")
        people = [Person(from_wire(person.name), reference_specs(person.references)) for person in message.people]
        return PeopleRequest(people=people, mode=message.mode or "together", **common)
    return RankRequest(references=reference_specs(message.references), person=from_wire(message.person), **common)


def wire_path(path: str) -> str:
    """A path as a client sends it: absolute (the daemon's working folder is not the client's), escaped.
    The one place a client's paths are made absolute."""
    return to_wire(os.path.abspath(path))


def wire_paths(paths: list[str]) -> list[str]:
    return [wire_path(path) for path in paths]


def request_paths(paths) -> list[str]:
    """A request's paths as the daemon uses them, checked before any work: absolute, and not
    more than it will take."""
    if len(paths) > MAX_PATHS:
        raise UsageError(f"{len(paths)} paths in one request; at most {MAX_PATHS} (name folders instead of their photos)")
    paths = [from_wire(path) for path in paths]
    for path in paths:
        if not os.path.isabs(path):
            raise UsageError(f"{path}: paths sent to the daemon must be absolute")
    return paths
