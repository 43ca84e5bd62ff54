"""Stage 5 for several people: the photos of a set of people, judged on every one of them.

    report = library.rank(PeopleRequest([Person("Alice", [ReferenceSpec("alice.jpg")]),
                                         Person("Bob", [ReferenceSpec("bob.jpg")])], ["~/Wedding"]))

`together` (the default): the photos all of them are in, each as good as its worst-looking member,
times how they are framed together (none hidden behind another, none tiny against the others).
`any`: the photos at least one of them is in, as good as the best-looking member present; the
photos of all of them are told apart from those of some (kind "together" or "some").

Pure functions over records: the Library finds each member's face (identity.find_people, one pass
over the cached faces for the whole set) and hands the photos here.
"""

from __future__ import annotations

from . import identity, scoring
from .api import MemberResult, SetResult
from .ranking import judge_photo, prominent_faces
from .records import Box, DetectedFace, ImageRecord
from .settings import ScoringSettings, Settings, TogetherSettings


def one_face_each(matches: dict[str, dict[int, identity.Match]]) -> dict[int, dict[str, identity.Match]]:
    """photo -> name -> that member's match, from each member's matches (photo -> match). One face
    is one person: a face two members claim goes to the one it resembles more (the first named
    on a tie); the other is not found in that photo."""
    by_photo: dict[int, dict[str, identity.Match]] = {}
    for name, photos in matches.items():
        for photo, match in photos.items():
            by_photo.setdefault(photo, {})[name] = match
    for photo, members in by_photo.items():
        claimed: dict[int, tuple[str, identity.Match]] = {}
        for name, match in members.items():
            if match.face not in claimed or match.similarity > claimed[match.face][1].similarity:
                claimed[match.face] = (name, match)
        by_photo[photo] = {name: match for name, match in claimed.values()}
    return by_photo


# A member's face, how similar it is to their references, and whether the collection is sure.
MemberMatch = tuple[DetectedFace, float, bool]


def judge_set(
    record: ImageRecord, found: dict[str, MemberMatch], names: list[str], mode: str, settings: Settings,
) -> SetResult | None:
    """The photo's result for the set, or None when it does not qualify (together: someone is
    missing; any: nobody is there). `found`: name -> the member's match in this photo."""
    present = [name for name in names if name in found]
    if not present or (mode == "together" and len(present) < len(names)):
        return None
    judged = {name: judge_photo(record, *found[name], settings) for name in present}
    scores = {name: judged[name].score for name in present}
    deciding = (min if mode == "together" else max)(present, key=scores.__getitem__)
    boxes = {name: found[name][0].box for name in present}
    togetherness, apart = framing_together(boxes, settings.together)
    base = judged[deciding]
    members = [
        MemberResult(name, result.score, result.similarity, result.match, result.target_face,
                     *named_reasons(name, result.target_face.signals, settings.scoring), result.components)
        for name, result in judged.items()
    ]
    sure = all(member.match == "sure" for member in members) if mode == "together" else base.match == "sure"
    return SetResult(
        path=record.path,
        score=round(scores[deciding] * togetherness ** settings.together.weight, 1),
        kind="together" if len(present) == len(names) else "some",
        similarity=min(member.similarity for member in members),
        faces=base.faces,
        prominent_faces=base.prominent_faces,
        target_face=base.target_face,
        width=record.width,
        height=record.height,
        captured_at=record.captured_at,
        reasons=set_reasons(members, apart, others_faults(record, found, base.target_face, settings)),
        components={**base.components, "together": round(togetherness, 3)},
        thumbnail=record.thumbnail,
        match="sure" if sure else "unsure",
        members=members,
    )


def framing_together(boxes: dict[str, Box], s: TogetherSettings) -> tuple[float, list[str]]:
    """How well the members are framed together (0-1), and what is wrong in words: a member's face
    covered by another member's (hidden behind them), or tiny beside the largest member's face.
    A member cut by the frame is judged on their own (the cut aspect) and named there."""
    quality = 1.0
    said: list[str] = []
    widest = max(box[2] for box in boxes.values())
    for name, box in boxes.items():
        hidden_by = max(((covered(box, other), who) for who, other in boxes.items() if who != name), default=(0.0, ""))
        quality *= scoring.logistic(-hidden_by[0], -s.hidden_fraction, s.hidden_width)
        if hidden_by[0] >= s.hidden_fraction:
            said.append(f"{name} hidden behind {hidden_by[1]}")
        ratio = box[2] / widest
        quality *= scoring.logistic(ratio, s.small_ratio, s.small_width)
        if ratio < s.small_ratio:
            said.append(f"{name} small beside the others")
    return quality, said


def covered(box: Box, other: Box) -> float:
    """The share of `box`'s area that `other` covers."""
    width = min(box[0] + box[2], other[0] + other[2]) - max(box[0], other[0])
    height = min(box[1] + box[3], other[1] + other[3]) - max(box[1], other[1])
    return max(0, width) * max(0, height) / max(1, box[2] * box[3])


def named(name: str, reason: str) -> str:
    """'Bob's eyes closed', 'Bob looking away'."""
    reason = {"sharp face": "face sharp"}.get(reason, reason)
    return f"{name}'s {reason}" if reason.startswith(("eyes ", "face ", "highlights ")) else f"{name} {reason}"


def named_reasons(name: str, signals: dict, s: ScoringSettings) -> tuple[list[str], list[str]]:
    """A member's own faults and merits, each naming them."""
    return tuple([named(name, reason) for reason in said] for said in scoring.face_reasons(signals, s))


def others_faults(record: ImageRecord, found: dict[str, MemberMatch], target: DetectedFace, settings: Settings) -> list[str]:
    """'eyes closed: 2 of 4 others': the prominent people of the photo who are not in the set."""
    members = [face for face, _, _ in found.values()]
    prominent = prominent_faces(record.faces, target, settings.group.prominent_ratio)
    return scoring.others_faults([face.signals for face in prominent if not any(face is member for member in members)], settings.scoring)


def set_reasons(members: list[MemberResult], apart: list[str], others: list[str]) -> list[str]:
    """Every member's faults, how they are framed together, the other people's faults; then what is good."""
    faults = [fault for member in members for fault in member.faults] + apart + others
    merits = [merit for member in members for merit in member.merits]
    if not faults and len(members) > 1:
        merits.insert(0, f"all {len(members)} look good together")
    return faults + merits
