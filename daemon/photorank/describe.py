"""A face in plain words, for `photorank analyze`: the five things a photographer checks first.

The words come from the same yes/no tests as the ranking's reasons (scoring.py), so what
`analyze` says about a face is what `rank` holds for or against it.
"""

from __future__ import annotations

from . import scoring
from .settings import ScoringSettings


def describe_face(signals: dict, s: ScoringSettings) -> str:
    """'eyes open, smiling, facing the camera, sharp, well exposed' and the like; `s` is [scoring]."""
    return ", ".join((eyes_words(signals, s), expression_words(signals, s), facing_words(signals, s),
                      sharpness_words(signals, s), exposure_words(signals, s)))


def eyes_words(signals: dict, s: ScoringSettings) -> str:
    if signals.get("eyes_open") is None:
        return "eyes not visible"
    return "eyes closed" if scoring.eyes_closed(signals, s) else "eyes open"


def expression_words(signals: dict, s: ScoringSettings) -> str:
    if signals.get("smile") is None:
        return "expression not measured"
    return "smiling" if scoring.smiling(signals, s) else "not smiling"


def facing_words(signals: dict, s: ScoringSettings) -> str:
    yaw = signals.get("yaw")
    if yaw is None:
        return "pose not measured"
    turn = f"head turned {abs(yaw):.0f}°"
    return f"looking away ({turn})" if scoring.looking_away(signals, s) else f"facing the camera ({turn})"


def sharpness_words(signals: dict, s: ScoringSettings) -> str:
    if signals.get("sharpness") is None:
        return "sharpness not measured"
    if scoring.face_soft(signals, s):
        return "soft"
    return "sharp" if scoring.face_sharp(signals, s) else "acceptably sharp"


def exposure_words(signals: dict, s: ScoringSettings) -> str:
    if signals.get("exposure") is None:
        return "exposure not measured"
    if scoring.face_underexposed(signals, s):
        words = "underexposed"
    elif scoring.face_overexposed(signals, s):
        words = "overexposed"
    elif scoring.photo_underexposed(signals, s):
        words = "in an underexposed photo"
    else:
        words = "well exposed"
    return words + (", highlights clipped" if scoring.highlights_clipped(signals, s) else "")
