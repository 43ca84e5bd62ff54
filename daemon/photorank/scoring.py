"""Stage 4: judge a photo from its measured signals, as a photographer would. Pure functions.

Each aspect of the photo becomes a quality between 0 and 1; the score is their weighted
geometric mean times 100. A geometric mean lets one bad aspect sink a photo (closed eyes, a
blurred face) the way it does for a photographer, while the weights set how much each matters.
All weights and thresholds come from the [scoring] and [stars] sections of the config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .records import DetectedFace, ImageRecord

QUALITY_FLOOR = 0.02  # keeps log() finite; a quality this low already sinks the score


@dataclass
class Judgement:
    score: float  # 0-100
    reasons: list[str]
    components: dict[str, float]  # aspect -> quality 0-1, as scored


# --- aspects of one face ---------------------------------------------------------------------


def logistic(value: float, center: float, width: float) -> float:
    return 1.0 / (1.0 + math.exp(-(value - center) / width))


def eyes_quality(signals: dict, s: dict) -> float:
    eyes_open = signals.get("eyes_open")
    return s["eyes_unknown_quality"] if eyes_open is None else eyes_open


def sharpness_quality(signals: dict, s: dict) -> float:
    sharpness = signals.get("sharpness")
    if sharpness is None:
        return 0.5
    return logistic(sharpness, s["sharpness_center"], s["sharpness_width"])


def expression_quality(signals: dict, s: dict) -> float:
    """A neutral face is a fine portrait, a smile a better one: the floor keeps that gentle."""
    smile = signals.get("smile")
    if smile is None:
        return 1.0 - s["smile_weight"] / 2
    return 1.0 - s["smile_weight"] * (1.0 - smile)


def facing_quality(signals: dict, s: dict) -> float:
    """Gentle: a three-quarter view is a good portrait; only a strong profile costs much."""
    yaw, pitch = signals.get("yaw"), signals.get("pitch")
    if yaw is None:
        return 1.0
    turn = (yaw / s["yaw_tolerance_deg"]) ** 2 + ((pitch or 0.0) / s["pitch_tolerance_deg"]) ** 2
    return s["facing_floor"] + (1.0 - s["facing_floor"]) * math.exp(-0.5 * turn)


def exposure_quality(signals: dict, s: dict) -> float:
    exposure = signals.get("exposure")
    quality = 1.0 if exposure is None else math.exp(-0.5 * (exposure / s["exposure_tolerance_ev"]) ** 2)
    clipped = signals.get("highlights_clipped") or 0.0
    return quality * max(0.0, 1.0 - clipped * s["clipping_penalty"])


def framing_quality(face: DetectedFace, s: dict) -> float:
    signals = face.signals
    cut = signals.get("edge_cut") or 0.0
    size = signals.get("face_size")
    size_quality = 1.0 if size is None else logistic(size, s["small_face_center"], s["small_face_width"])
    return max(0.0, 1.0 - cut * s["edge_cut_penalty"]) * size_quality


def confidence_quality(face: DetectedFace) -> float:
    """The detector's confidence (0-1), a proxy for occlusion (hands, hair, hats over the face)."""
    confidence = face.signals.get("confidence")
    return 0.5 if confidence is None else confidence


def looks_good(face: DetectedFace, s: dict) -> bool:
    """In a group, does this person spoil the shot? Eyes closed, turned away or blurred do."""
    signals = face.signals
    eyes_open = signals.get("eyes_open")
    yaw = signals.get("yaw")
    return (
        (eyes_open is None or eyes_open >= s["eyes_open_threshold"])
        and (yaw is None or abs(yaw) <= s["looking_away_deg"])
        and sharpness_quality(signals, s) >= 0.5
    )


# --- whole photos ---------------------------------------------------------------------------


def single_components(target: DetectedFace, s: dict) -> dict[str, float]:
    signals = target.signals
    return {
        "eyes": eyes_quality(signals, s),
        "sharpness": sharpness_quality(signals, s),
        "expression": expression_quality(signals, s),
        "exposure": exposure_quality(signals, s),
        "facing": facing_quality(signals, s),
        "framing": framing_quality(target, s),
        "confidence": confidence_quality(target),
    }


def group_components(target: DetectedFace, others: list[DetectedFace], record: ImageRecord, s: dict) -> dict[str, float]:
    """The target must be there and look good; the group by the share of people who look good.

    The target need not smile in a group photo.
    """
    signals = target.signals
    people = [target, *others]
    image_sharpness = record.image_signals.get("image_sharpness")
    return {
        "eyes": eyes_quality(signals, s),
        "sharpness": sharpness_quality(signals, s),
        "exposure": exposure_quality(signals, s),
        "facing": facing_quality(signals, s),
        "group": sum(looks_good(face, s) for face in people) / len(people),
        "overall_sharpness": 0.5 if image_sharpness is None else logistic(image_sharpness, s["image_sharpness_center"], s["image_sharpness_width"]),
    }


def weighted_geometric_mean(components: dict[str, float], weights: dict[str, float]) -> float:
    total = sum(weights[name] for name in components)
    log_sum = sum(weights[name] * math.log(max(QUALITY_FLOOR, quality)) for name, quality in components.items())
    return math.exp(log_sum / total)


def judge(target: DetectedFace, others: list[DetectedFace], record: ImageRecord, kind: str, s: dict) -> Judgement:
    if kind == "group":
        components = group_components(target, others, record, s)
        weights = s["group_weights"]
    else:
        components = single_components(target, s)
        weights = s["single_weights"]
    score = round(100.0 * weighted_geometric_mean(components, weights), 1)
    rounded = {name: round(quality, 3) for name, quality in components.items()}
    return Judgement(score, reasons(target, others, s), rounded)


# --- reasons --------------------------------------------------------------------------------


def reasons(target: DetectedFace, others: list[DetectedFace], s: dict) -> list[str]:
    """Short words a photographer would use, worst first, then what is good."""
    signals = target.signals
    bad: list[str] = []
    good: list[str] = []
    eyes_open = signals.get("eyes_open")
    if eyes_open is None:
        bad.append("eyes not visible")
    elif eyes_open < s["eyes_open_threshold"]:
        bad.append("eyes closed")
    sharp = sharpness_quality(signals, s)
    if sharp < 0.5:
        bad.append("face soft")
    elif sharp >= 0.85:
        good.append("sharp face")
    exposure = signals.get("exposure")
    if exposure is not None and exposure <= -s["exposure_reason_ev"]:
        bad.append("face underexposed")
    elif exposure is not None and exposure >= s["exposure_reason_ev"]:
        bad.append("face overexposed")
    if (signals.get("highlights_clipped") or 0.0) >= s["clipped_reason_fraction"]:
        bad.append("highlights clipped on face")
    yaw = signals.get("yaw")
    if yaw is not None and abs(yaw) > s["looking_away_deg"]:
        bad.append("looking away")
    if (signals.get("edge_cut") or 0.0) >= s["edge_cut_reason_fraction"]:
        bad.append("face cut by the frame")
    if not others and (signals.get("face_size") or 1.0) < s["small_face_center"]:
        bad.append("face small in frame")
    smile = signals.get("smile")
    if smile is not None and smile >= s["smiling_threshold"]:
        good.append("smiling")
    if others:
        bad.extend(group_reasons([target, *others], s))
    elif eyes_open is not None and eyes_open >= s["eyes_open_threshold"]:
        good.append("eyes open")
    return bad + good


def group_reasons(people: list[DetectedFace], s: dict) -> list[str]:
    count = len(people)
    closed = sum(1 for face in people if (face.signals.get("eyes_open") is not None and face.signals["eyes_open"] < s["eyes_open_threshold"]))
    away = sum(1 for face in people if abs(face.signals.get("yaw") or 0.0) > s["looking_away_deg"])
    soft = sum(1 for face in people if sharpness_quality(face.signals, s) < 0.5)
    said = []
    for number, words in ((closed, "eyes closed"), (away, "looking away"), (soft, "face soft")):
        if number:
            said.append(f"{words}: {number} of {count} people")
    if not said:
        said.append(f"all {count} people look good")
    return said


# --- stars ----------------------------------------------------------------------------------


def stars(score: float, rank: int, total: int, s: dict) -> int:
    """1-5 stars from the score, with 5 kept for the very best shots of this ranking.

    Every photo the person is in gets at least 1 star (0 means 'not rated' in every host app).
    """
    earned = 1 + sum(score >= threshold for threshold in s["score_thresholds"])
    five_star_places = max(1, math.floor(total * s["five_star_top_fraction"]))
    if earned == 5 and rank > five_star_places:
        return 4
    return earned
