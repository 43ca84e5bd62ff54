"""Stage 4: judge a photo from its measured signals, as a photographer would. Pure functions.

Each aspect of the photo becomes a quality between 0 and 1; the score is their weighted
geometric mean times 100. A geometric mean lets one bad aspect sink a photo (closed eyes, a
blurred face) the way it does for a photographer, while the weights set how much each matters.
All weights and thresholds come from the [scoring] and [stars] sections of the config; the
model and the figures behind the defaults are in docs/scoring.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .records import DetectedFace, ImageRecord
from .settings import ScoringSettings, StarsSettings

QUALITY_FLOOR = 0.02  # keeps log() finite; a quality this low already sinks the score

# The aspects scored for each kind of photo: [scoring] single_weights and group_weights weigh
# exactly these (config.py checks it at load).
ASPECTS = {
    "single": ("eyes", "sharpness", "expression", "exposure", "facing", "framing", "cut", "resolution", "compression", "confidence"),
    "group": ("eyes", "sharpness", "exposure", "facing", "cut", "compression", "group", "overall_sharpness"),
}


@dataclass
class Judgement:
    score: float  # 0-100
    reasons: list[str]
    components: dict[str, float]  # aspect -> quality 0-1, as scored


def logistic(value: float, center: float, width: float) -> float:
    """0 well below `center`, 1 well above, 0.5 at it; `width` sets how fast it turns."""
    return 1.0 / (1.0 + math.exp(-(value - center) / width))


# --- aspects of one face ---------------------------------------------------------------------


def eyes_quality(signals: dict, s: ScoringSettings) -> float:
    """Open or closed is what counts: 0.7 and 0.95 are both open eyes (the signal is noisy in
    between), so the quality saturates on both sides of the threshold instead of following it."""
    eyes_open = signals.get("eyes_open")
    if eyes_open is None:  # tiny face, strong profile or sunglasses: neither credit nor blame
        return s.eyes_unknown_quality
    return logistic(eyes_open, s.eyes_open_threshold, s.eyes_width)


def sharpness_quality(signals: dict, s: ScoringSettings) -> float:
    """Sharp faces read 0.35-0.55, a slightly missed focus about 0.2: the curve turns between and
    is still rising through the sharp range, so any loss of focus costs (a blurred copy never ties
    with its original)."""
    sharpness = signals.get("sharpness")
    if sharpness is None:
        return 0.5
    return logistic(sharpness, s.sharpness_center, s.sharpness_width)


def expression_quality(signals: dict, s: ScoringSettings) -> float:
    """A neutral face is a fine portrait, a smile a better one: the floor keeps that gentle."""
    smile = signals.get("smile")
    if smile is None:
        return 1.0 - s.smile_weight / 2
    return 1.0 - s.smile_weight * (1.0 - smile)


def pitch_offset(signals: dict, s: ScoringSettings) -> float:
    """Pitch relative to what the pose fit reads on an eye-level portrait (about +11 deg, a bias)."""
    pitch = signals.get("pitch")
    return 0.0 if pitch is None else pitch - s.pitch_bias_deg


def facing_quality(signals: dict, s: ScoringSettings) -> float:
    """Gentle: a three-quarter view is a good portrait; only a strong profile costs much, and even
    that never sinks a photo (the quality stays above `facing_floor`)."""
    yaw = signals.get("yaw")
    if yaw is None:
        return 1.0
    turn = (yaw / s.yaw_tolerance_deg) ** 2 + (pitch_offset(signals, s) / s.pitch_tolerance_deg) ** 2
    return s.facing_floor + (1.0 - s.facing_floor) * math.exp(-0.5 * turn)


def exposure_quality(signals: dict, s: ScoringSettings) -> float:
    """Face exposure in EV, 0 = a middle skin tone. Within [exposure_low_ev, exposure_high_ev]
    every skin tone is well exposed (dark skin reads about -1 EV, light skin +0.5 EV), so there is
    no penalty there; outside it the quality falls fast. Judged on this photo alone, never against
    a reference or the other photos: any photo of the person is an equally good reference, and a
    darker skin is never mistaken for a darkened frame. Clipped skin is lost detail and costs on
    top, beyond the few percent of specular highlights. A light face darkened a stop still lies
    within the skin range: the photo's own tonal range tells (brightening_room)."""
    exposure = signals.get("exposure")
    quality = 1.0
    if exposure is not None:
        low, high = s.exposure_low_ev, s.exposure_high_ev
        if exposure < low:
            quality *= math.exp(-0.5 * ((low - exposure) / s.underexposure_tolerance_ev) ** 2)
        elif exposure > high:
            quality *= math.exp(-0.5 * ((exposure - high) / s.overexposure_tolerance_ev) ** 2)
    unused = max(0.0, brightening_room(signals, s) - s.brightening_allowance_ev)
    quality *= math.exp(-0.5 * (unused / s.brightening_tolerance_ev) ** 2)
    clipped = signals.get("highlights_clipped") or 0.0
    return quality * math.exp(-max(0.0, clipped - s.clipped_allowance) / s.clipped_scale)


def brightening_room(signals: dict, s: ScoringSettings) -> float:
    """Stops the photo could be brightened before its highlights reach white (image_highlights)
    or the face grows brighter than any skin (exposure_high_ev): how underexposed the photo is.
    The face caps it, so a dark scene whose lit face is already bright (low key) is no fault."""
    highlights = signals.get("image_highlights")
    if highlights is None:
        return 0.0
    exposure = signals.get("exposure")
    face_room = math.inf if exposure is None else s.exposure_high_ev - exposure
    return max(0.0, min(-highlights, face_room))


def cut_quality(signals: dict, s: ScoringSettings) -> float:
    """A face cut by the frame (forehead, chin, an eye or a cheek outside) is a framing fault a
    photographer rejects: past `face_cut_fraction` of the face outside, the quality falls as
    steeply as for closed eyes; a face that only touches the edge keeps nearly all of it."""
    return logistic(-(signals.get("edge_cut") or 0.0), -s.face_cut_fraction, s.face_cut_width)


def framing_quality(signals: dict, s: ScoringSettings) -> float:
    """A face lost small in the frame is a weaker portrait."""
    size = signals.get("face_size")
    return 1.0 if size is None else logistic(size, s.small_face_center, s.small_face_width)


def compression_quality(signals: dict, s: ScoringSettings) -> float:
    """JPEG blocking on the face (blockiness: about 0 clean, 0.1-0.5 visibly blocky): a source
    file's light compression costs little, a visibly blocky face a lot."""
    blockiness = signals.get("blockiness")
    return 1.0 if blockiness is None else logistic(-blockiness, -s.blocky_face_above, s.blocky_face_width)


def resolution_quality(signals: dict, s: ScoringSettings) -> float:
    """A face only so many pixels across in the original cannot make a good portrait, however
    sharp it is at that size (sharpness is judged size-normalised)."""
    width = signals.get("face_width_px")
    return 1.0 if width is None else logistic(width, s.low_resolution_face_px, s.low_resolution_width_px)


def confidence_quality(signals: dict, s: ScoringSettings) -> float:
    """The detector's confidence (0-1), a proxy for occlusion (hands, hair, hats over the face).
    Any clear face is 'full' confidence; only an unsure detection costs."""
    confidence = signals.get("confidence")
    return 0.5 if confidence is None else min(1.0, confidence / s.full_confidence)


def face_looks_good(signals: dict, s: ScoringSettings) -> float:
    """How surely this person does not spoil a group shot (eyes open, facing, sharp), 0-1.

    A soft product, so the group quality moves smoothly."""
    yaw = signals.get("yaw")
    facing = 1.0 if yaw is None else logistic(-abs(yaw), -s.looking_away_deg, s.looking_away_width_deg)
    eyes = 1.0 if signals.get("eyes_open") is None else eyes_quality(signals, s)
    sharpness = signals.get("sharpness")
    sharp = 1.0 if sharpness is None else logistic(sharpness, s.soft_face_below, s.soft_face_width)
    return eyes * facing * sharp


# --- reasons' yes/no tests (the words must agree with the qualities) ---------------------------


def eyes_closed(signals: dict, s: ScoringSettings) -> bool:
    eyes_open = signals.get("eyes_open")
    return eyes_open is not None and eyes_open < s.eyes_open_threshold


def face_cut(signals: dict, s: ScoringSettings) -> bool:
    return (signals.get("edge_cut") or 0.0) >= s.face_cut_fraction


def looking_away(signals: dict, s: ScoringSettings) -> bool:
    return abs(signals.get("yaw") or 0.0) > s.looking_away_deg


def face_soft(signals: dict, s: ScoringSettings) -> bool:
    """Said, and counted against a group, only when clearly soft; the score itself keeps rewarding
    crisper faces above this (a finer distinction than the words make)."""
    sharpness = signals.get("sharpness")
    return sharpness is not None and sharpness < s.soft_face_below


def face_sharp(signals: dict, s: ScoringSettings) -> bool:
    return (signals.get("sharpness") or 0.0) >= s.sharp_reason_above


def face_underexposed(signals: dict, s: ScoringSettings) -> bool:
    exposure = signals.get("exposure")
    return exposure is not None and exposure < s.exposure_low_ev - s.exposure_reason_margin_ev


def face_overexposed(signals: dict, s: ScoringSettings) -> bool:
    exposure = signals.get("exposure")
    return exposure is not None and exposure > s.exposure_high_ev + s.exposure_reason_margin_ev


def photo_underexposed(signals: dict, s: ScoringSettings) -> bool:
    return brightening_room(signals, s) > s.brightening_allowance_ev + s.exposure_reason_margin_ev


def highlights_clipped(signals: dict, s: ScoringSettings) -> bool:
    return (signals.get("highlights_clipped") or 0.0) >= s.clipped_reason_fraction


def smiling(signals: dict, s: ScoringSettings) -> bool:
    smile = signals.get("smile")
    return smile is not None and smile >= s.smiling_threshold


# --- whole photos ---------------------------------------------------------------------------


def single_components(signals: dict, s: ScoringSettings) -> dict[str, float]:
    return {
        "eyes": eyes_quality(signals, s),
        "sharpness": sharpness_quality(signals, s),
        "expression": expression_quality(signals, s),
        "exposure": exposure_quality(signals, s),
        "facing": facing_quality(signals, s),
        "framing": framing_quality(signals, s),
        "cut": cut_quality(signals, s),
        "resolution": resolution_quality(signals, s),
        "compression": compression_quality(signals, s),
        "confidence": confidence_quality(signals, s),
    }


def group_components(
    target: dict, others: list[dict], image_signals: dict, s: ScoringSettings
) -> dict[str, float]:
    """The target must be there and look good; the group by the share of people who look good.

    The target need not smile in a group photo (no expression aspect), and small background faces
    never reach here (ranking passes only the prominent ones).
    """
    people = [target, *others]
    image_sharpness = image_signals.get("image_sharpness")
    return {
        "eyes": eyes_quality(target, s),
        "sharpness": sharpness_quality(target, s),
        "exposure": exposure_quality(target, s),
        "facing": facing_quality(target, s),
        "cut": cut_quality(target, s),  # (a small face is normal in a group: no framing aspect)
        "compression": compression_quality(target, s),
        "group": group_quality(people, s),
        "overall_sharpness": 0.5 if image_sharpness is None
        else logistic(image_sharpness, s.image_sharpness_center, s.image_sharpness_width),
    }


def group_quality(people: list[dict], s: ScoringSettings) -> float:
    """Expected share of people who look good, raised to `group_strictness`: one person blinking
    in a group of six spoils the shot more than a sixth."""
    share = sum(face_looks_good(signals, s) for signals in people) / len(people)
    return share ** s.group_strictness


def weighted_geometric_mean(components: dict[str, float], weights: Mapping[str, float]) -> float:
    total = sum(weights[name] for name in components)
    log_sum = sum(weights[name] * math.log(max(QUALITY_FLOOR, quality)) for name, quality in components.items())
    return math.exp(log_sum / total)


def score_signals(target: dict, others: list[dict], image_signals: dict, kind: str, s: ScoringSettings) -> tuple[float, dict[str, float]]:
    """(score 0-100, aspect qualities) from plain signal dicts: the whole model, without records."""
    if kind == "group":
        components = group_components(target, others, image_signals, s)
    else:
        components = single_components(target, s)
    return round(100.0 * weighted_geometric_mean(components, weights_of(kind, s)), 1), components


def weights_of(kind: str, s: ScoringSettings) -> Mapping[str, float]:
    return s.group_weights if kind == "group" else s.single_weights


def aspect_costs(components: dict[str, float], weights: Mapping[str, float]) -> dict[str, float]:
    """Points of the score each aspect costs: how much higher the score would be were that
    aspect perfect (quality 1) and the others as they are."""
    score = 100.0 * weighted_geometric_mean(components, weights)
    total = sum(weights[name] for name in components)
    return {
        name: score * (max(QUALITY_FLOOR, quality) ** (-weights[name] / total) - 1.0)
        for name, quality in components.items()
    }


def judge(target: DetectedFace, others: list[DetectedFace], record: ImageRecord, kind: str, s: ScoringSettings) -> Judgement:
    other_signals = [face.signals for face in others]
    # Boxes are in the original's pixels: how many pixels the face really has.
    # The photo's highlights judge its exposure along with the face's own level.
    target_signals = {**target.signals, "face_width_px": float(target.box[2]),
                      "image_highlights": record.image_signals.get("image_highlights")}
    score, components = score_signals(target_signals, other_signals, record.image_signals, kind, s)
    rounded = {name: round(quality, 3) for name, quality in components.items()}
    costs = aspect_costs(components, weights_of(kind, s))
    return Judgement(score, reasons(target_signals, other_signals, s, costs), rounded)


# --- reasons --------------------------------------------------------------------------------


def reasons(target: dict, others: list[dict], s: ScoringSettings, costs: dict[str, float] | None = None) -> list[str]:
    """Short words a photographer would use, what is wrong first, then what is good.

    `costs` (aspect_costs): every aspect that costs at least `reason_cost_points` of the score is
    said, in milder words (mild_fault) when none of the plain faults names it."""
    bad, good = face_reasons(target, s)
    if not others and (target.get("face_size") or 1.0) < s.small_face_center:
        bad.append("face small in frame")
    if not others and resolution_quality(target, s) < 0.5:
        bad.append("low resolution")
    if others:
        bad.extend(group_reasons(target, others, s))
    elif target.get("eyes_open") is not None and not eyes_closed(target, s):
        good.append("eyes open")
    for aspect, cost in (costs or {}).items():
        if cost >= s.reason_cost_points and not any(word.startswith(FAULT_WORDS[aspect]) for word in bad):
            bad = [word for word in bad if not word.endswith("people look good")] if aspect == "group" else bad
            bad.append(mild_fault(aspect, target, s))
    return bad + good


def face_reasons(target: dict, s: ScoringSettings) -> tuple[list[str], list[str]]:
    """(what is wrong, what is good) with one face, whatever else is in the photo."""
    bad: list[str] = []
    good: list[str] = []
    if target.get("eyes_open") is None:
        bad.append("eyes not visible")
    elif eyes_closed(target, s):
        bad.append("eyes closed")
    if face_soft(target, s):
        bad.append("face soft")
    elif face_sharp(target, s):
        good.append("sharp face")
    if face_underexposed(target, s):
        bad.append("face underexposed")
    elif face_overexposed(target, s):
        bad.append("face overexposed")
    elif photo_underexposed(target, s):
        bad.append("photo underexposed")
    if highlights_clipped(target, s):
        bad.append("highlights clipped on face")
    if looking_away(target, s):
        bad.append("looking away")
    if face_cut(target, s):
        bad.append("face cut by the frame")
    if compression_quality(target, s) < 0.5:
        bad.append("blocky JPEG")
    if smiling(target, s):
        good.append("smiling")
    return bad, good


# The plain words (their beginnings) that already name each aspect's fault.
FAULT_WORDS = {
    "eyes": ("eyes closed", "eyes not visible"),
    "sharpness": ("face soft",),
    "expression": (),
    "exposure": ("face underexposed", "face overexposed", "photo underexposed", "highlights clipped on face"),
    "facing": ("looking away",),
    "framing": ("face small in frame",),
    "cut": ("face cut by the frame",),
    "resolution": ("low resolution",),
    "compression": ("blocky JPEG",),
    "confidence": (),
    "group": ("eyes closed:", "looking away:", "face soft:"),
    "overall_sharpness": (),
}


def mild_fault(aspect: str, target: dict, s: ScoringSettings) -> str:
    """Words for an aspect that costs points without being one of the plain faults."""
    if aspect == "exposure":
        exposure = target.get("exposure")
        if exposure is not None and exposure < s.exposure_low_ev:
            return "face a little dark"
        if brightening_room(target, s) > s.brightening_allowance_ev:
            return "photo a little dark"
        return "face a little bright" if exposure is not None and exposure > s.exposure_high_ev else "some skin clipped"
    if aspect == "expression":
        return "not smiling" if target.get("smile") is not None else "expression not read"
    return {
        "eyes": "eyes narrowed",
        "sharpness": "face not quite sharp",
        "facing": "face turned from the camera",
        "framing": "face a little small in frame",
        "cut": "face near the frame's edge",
        "resolution": "face only a few pixels across",
        "compression": "JPEG artefacts on face",
        "confidence": "face partly hidden",
        "group": "not everyone in the group at their best",
        "overall_sharpness": "photo not sharp overall",
    }[aspect]


def group_reasons(target: dict, others: list[dict], s: ScoringSettings) -> list[str]:
    """'eyes closed: 1 of 5 others' and the like, or 'all 6 people look good'.

    The target's own faults are said plainly by `reasons`; these count only the other people, so
    one fact is never said twice."""
    said = others_faults(others, s)
    target_fine = not any(test(target, s) for test in (eyes_closed, looking_away, face_soft))
    if not said and target_fine:
        said.append(f"all {len(others) + 1} people look good")
    return said


def others_faults(others: list[dict], s: ScoringSettings) -> list[str]:
    """'eyes closed: 1 of 5 others', 'looking away: N of M others', 'face soft: N of M others'."""
    said = []
    for test, words in ((eyes_closed, "eyes closed"), (looking_away, "looking away"), (face_soft, "face soft")):
        number = sum(1 for signals in others if test(signals, s))
        if number:
            said.append(f"{words}: {number} of {len(others)} {'other' if len(others) == 1 else 'others'}")
    return said


# --- stars ----------------------------------------------------------------------------------


def stars(score: float, s: StarsSettings) -> int:
    """1-5 stars from the score alone, in fixed bands: the same photo gets the same stars in every
    ranking, whatever else was ranked (the rank is what is relative).

    A found photo earns 1 star, plus one for each of `score_thresholds` its score reaches. Every
    photo the person is in gets at least 1 star: 0 means 'not rated' in every host application.
    """
    return 1 + sum(score >= threshold for threshold in s.score_thresholds)


def star_bands(s: StarsSettings) -> str:
    """The bands in words, for --help and the docs: '1 star below 40, 2 from 40, ...'."""
    thresholds = s.score_thresholds
    bands = [f"1 star below {thresholds[0]:g}"]
    bands += [f"{count} from {threshold:g}" for count, threshold in enumerate(thresholds, start=2)]
    return ", ".join(bands)
