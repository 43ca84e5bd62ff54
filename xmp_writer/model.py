"""Plain data types of the public API."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("single", "group", "together", "some")  # "together"/"some": a set of people, all or some of them
NAMINGS = ("auto", "name.ext.xmp", "name.xmp")


class XmpError(Exception):
    """A sidecar could not be read or written; the message is meant for the user."""


@dataclass(frozen=True)
class FaceRegion:
    """The target face: centre and size normalised to 0..1 of the image."""

    cx: float
    cy: float
    w: float
    h: float
    image_width: int
    image_height: int

    def __post_init__(self) -> None:
        for name in ("cx", "cy", "w", "h"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"FaceRegion.{name} must be within 0..1, got {value!r}")
        if self.image_width <= 0 or self.image_height <= 0:
            raise ValueError("FaceRegion image size must be positive")


@dataclass(frozen=True)
class PersonRating:
    """What photorank found for one person in one photo."""

    person: str
    rank: int
    score: float
    stars: int
    kind: str = "single"
    tags: tuple[str, ...] = ()
    region: FaceRegion | None = None
    # A set of people ("Alice + Bob"): each member's face region, by the member's name.
    member_regions: tuple[tuple[str, FaceRegion], ...] = ()
    engine: str = ""
    version: str = ""
    run_time: str = ""

    def __post_init__(self) -> None:
        if not self.person.strip():
            raise ValueError("PersonRating.person must not be empty")
        if self.rank < 1:
            raise ValueError(f"PersonRating.rank must be >= 1, got {self.rank!r}")
        if not 0 <= self.stars <= 5:
            raise ValueError(f"PersonRating.stars must be within 0..5, got {self.stars!r}")
        if self.kind not in KINDS:
            raise ValueError(f"PersonRating.kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "member_regions", tuple(self.member_regions))


@dataclass(frozen=True)
class FileResult:
    """What happened to one file.

    action: "created", "updated", "unchanged", "removed" or "error".
    notes: human-readable remarks, e.g. "rating kept: set by user".
    changes: in a dry run, what would change, e.g. "xmp:Rating: none -> 4",
    "lr:hierarchicalSubject + photorank|Alice|rank 007".
    """

    path: str
    action: str
    notes: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


@dataclass
class WriteOutcome:
    files: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.action != "error" for f in self.files)

    def paths(self, action: str) -> list[str]:
        return [f.path for f in self.files if f.action == action]

    def __str__(self) -> str:
        lines = []
        for f in self.files:
            note = f" ({'; '.join(f.notes)})" if f.notes else ""
            lines.append(f"{f.action}: {f.path}{note}")
        return "\n".join(lines)
