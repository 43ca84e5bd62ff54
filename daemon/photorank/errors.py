"""The one base type for errors a user can act on.

Anything raised as a `PhotorankError` carries a sentence meant for the user (a missing path, a
reference with no face, a model not installed, a bad setting). The CLI prints it on one line of
stderr and exits non-zero; the daemon turns it into a gRPC status with the same sentence.
Anything else is a bug or a per-file problem, never shown to the user as a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading


class PhotorankError(Exception):
    """An error with a message for the user; `kind` says which sort of mistake it is."""

    kind = "failed"  # "usage": the request itself is wrong; "not_found": a named path is missing


class UsageError(PhotorankError):
    """The request is wrong as asked (a bad option, a face number out of range, too many paths)."""

    kind = "usage"


class PathNotFound(PhotorankError):
    """A photo, folder or reference named by the user does not exist or cannot be read."""

    kind = "not_found"


class Cancelled(PhotorankError):
    """The client cancelled the request or went away; what was analysed so far is kept."""


def stop_if_cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled; what was analysed so far is kept")
