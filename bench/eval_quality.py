"""Does the score order degraded copies of a photo the way a photographer would?

    python bench/eval_quality.py [--work DIR] [--workers N] [--limit N] [--baseline SECTION.KEY=VALUE ...]

Sources: the single-person photos of ../shared/data/people (when present) and the insightface
wheel's group photo `t1.jpg` (its largest face is the target). Each source is decoded at the
analysis size (long side <= 2048 px) and becomes a family of copies, saved as JPEG q95 unless
said otherwise:

| copy | what it shows |
| --- | --- |
| `original` | the photo as it is (re-saved like the others) |
| `face_blur_1`, `_2`, `_4` | Gaussian blur of sigma 1 %, 2 %, 4 % of the face width inside the face only (soft-edged elliptic mask): focus slightly missed, missed, clearly soft |
| `background_blur` | everything but the face blurred (sigma 2 % of the short side): shallow depth of field |
| `dark_1`, `dark_2` | 1 and 2 stops under, in linear light |
| `bright_1.5` | 1.5 stops over, in linear light (highlights clip) |
| `blur` | the whole image blurred, sigma 2.5 % of the face width |
| `motion` | the whole image smeared along a line of 8 % of the face width (camera shake) |
| `jpeg_10`, `jpeg_20` | JPEG quality 10 and 20 (blocky) |
| `cut` | the frame's left edge moved into the face: a quarter of the face's width outside |
| `small` | downscaled so the face is 64 px wide (only for faces wider than 128 px) |

Every family is judged with `judge_records` (tests/oneshot.py), the reference being the target face
of the original, with the configuration in force (defaults plus the user's file). Printed: for
each ordering the share of families ordered right (ties count as wrong), the score distribution
of each copy, the median quality of each aspect, and the star histogram of the originals ranked
together. Analyses are cached in `<work>/faces.sqlite`, so a second run only re-scores.

With `--baseline`, the families are also judged with those settings changed (e.g.
`--baseline scoring.brightening_allowance_ev=100` turns the photo's own exposure off) in the same
run, and the orderings are printed side by side, baseline then as configured, for each half of the
sources: "tuning" (even positions of the sorted sources, looked at while setting the defaults) and
"held_out" (odd positions).

Then the eyes: the eyes-closed ROC AUC on the tuning and held-out halves of ../shared/data/eyes
(the crops of even and odd position in each label's sorted file list; the even half was used for
tuning) and on the independent check set (the crops of ../shared/data/smiles labelled in
tests/eyes_check_labels.txt, never tuned on), for each source of eyes and pose (`[signals]
eyes_and_pose`: the mesh and the 68 points), on the 64 px crops and on the same crops shrunk to
48 and 32 px,
the smile AUC on ../shared/data/smiles, and every smiling face of ../shared/data/people (all of
whose eyes are open) with its eyes_open: none may read closed.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import tomllib
from dataclasses import dataclass

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))  # one-shot helpers, measures
from oneshot import index_paths, judge_records  # noqa: E402
from photorank.api import Reference  # noqa: E402
from photorank.config import CHOICES, load_settings, settings_with  # noqa: E402
from photorank.demo import package_image
from photorank.images import load_image
from photorank.ranking import order_results, prominent_faces
from photorank.settings import Settings
from quality_measures import crop_signals, derive, eye_crops, largest_face, roc_auc  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
SHARED_PEOPLE = os.path.join(SHARED_DATA, "people")
ANALYSIS_SIDE = 2048
SKIPPED_SOURCES = ("obama_2_rgba",)  # the same picture as obama_2.jpg
EYES_AND_POSE = CHOICES[("signals", "eyes_and_pose")]  # every source of eyes and pose, compared

# (worse copy, better copy, required by the issue)
ORDERINGS = [
    ("face_blur_1", "background_blur", False),
    ("face_blur_2", "background_blur", True),
    ("face_blur_4", "background_blur", True),
    ("dark_1", "original", True),
    ("dark_2", "original", True),
    ("blur", "original", True),
    ("motion", "original", True),
    ("face_blur_2", "original", False),
    ("jpeg_10", "original", True),
    ("jpeg_20", "original", True),
    ("cut", "original", True),
    ("bright_1.5", "original", False),
    ("small", "original", False),
]
VARIANTS = ["original", "face_blur_1", "face_blur_2", "face_blur_4", "background_blur", "dark_1", "dark_2",
            "bright_1.5", "blur", "motion", "jpeg_10", "jpeg_20", "cut", "small"]


def save(pixels: np.ndarray, path: str, quality: int) -> None:
    Image.fromarray(pixels).save(path, quality=quality)


# --- families -----------------------------------------------------------------------------------


@dataclass
class Family:
    name: str
    reference: Reference
    paths: dict[str, str]  # copy name -> file


def source_photos(limit: int | None = None) -> list[str]:
    sources = []
    if os.path.isdir(SHARED_PEOPLE):
        for path in sorted(glob.glob(os.path.join(SHARED_PEOPLE, "*"))):
            stem = os.path.splitext(os.path.basename(path))[0]
            if not stem.startswith("group_") and stem not in SKIPPED_SOURCES:
                sources.append(path)
    sources = sources[:limit] if limit else sources
    return sources + [package_image("t1.jpg")]


def build_families(sources: list[str], work: str, settings: Settings, workers: int | None,
                   keep_groups: tuple[str, ...] = ("t1",)) -> tuple[list[Family], dict, float]:
    """Write every family's copies under `work` and analyse them (cached).

    Returns the families, every record, and the engine's match threshold.
    """
    cache_path = os.path.join(work, "faces.sqlite")
    originals = os.path.join(work, "originals")
    copies_dir = os.path.join(work, "copies")
    os.makedirs(originals, exist_ok=True)
    os.makedirs(copies_dir, exist_ok=True)
    for source in sources:
        stem = os.path.splitext(os.path.basename(source))[0]
        target = os.path.join(originals, f"{stem}__original.jpg")
        if not os.path.exists(target):
            save(load_image(source, max_side=ANALYSIS_SIDE).pixels, target, 95)
    _, records = index_paths([originals], cache_path=cache_path, workers=workers, settings=settings)
    families = []
    for source in sources:
        stem = os.path.splitext(os.path.basename(source))[0]
        original = os.path.join(originals, f"{stem}__original.jpg")
        record = records[original]
        if record.error or not record.faces:
            print(f"  skipped {stem}: {record.error or 'no face found'}", file=sys.stderr)
            continue
        target = largest_face(record)
        prominent = prominent_faces(record.faces, target, settings.group.prominent_ratio)
        if len(prominent) > 1 and stem not in keep_groups:
            print(f"  skipped {stem}: {len(prominent)} prominent faces, not a single-person photo", file=sys.stderr)
            continue
        paths = {"original": original}
        pixels = None
        for name in VARIANTS[1:]:
            path = os.path.join(copies_dir, f"{stem}__{name}.jpg")
            paths[name] = path
        if not all(os.path.exists(path) for path in paths.values()):
            pixels = np.asarray(Image.open(original).convert("RGB"))
            for name, (copy, quality) in derive(pixels, target.box).items():
                if name != "original":
                    save(copy, paths[name], quality)
        paths = {name: path for name, path in paths.items() if os.path.exists(path)}
        families.append(Family(stem, Reference.of_face(original, 1, target), paths))
    engine, copy_records = index_paths([copies_dir], cache_path=cache_path, workers=workers, settings=settings)
    records.update(copy_records)
    return families, records, settings.matching.threshold or engine.match_threshold


def judge_families(families: list[Family], records: dict, settings: Settings, threshold: float) -> dict[str, dict]:
    """family name -> copy name -> PhotoResult, or None when the person was not found in it."""
    judged = {}
    for family in families:
        by_path = judge_records([records[path] for path in family.paths.values()], [family.reference], threshold, settings)
        judged[family.name] = {name: by_path[path] for name, path in family.paths.items()}
    return judged


# --- figures ------------------------------------------------------------------------------------


def ordering_figures(judged: dict[str, dict]) -> list[tuple[str, str, bool, int, int, int, list[str]]]:
    """(worse, better, required, right, pairs, worse copy not found, families ordered wrong)."""
    figures = []
    for worse, better, required in ORDERINGS:
        right = pairs = missing = 0
        wrong = []
        for family, results in judged.items():
            if worse not in results or results.get(better) is None:
                continue
            if results[worse] is None:
                missing += 1  # the person is not found in the degraded copy: it drops out of the ranking
                continue
            pairs += 1
            if results[worse].score < results[better].score:
                right += 1
            else:
                wrong.append(f"{family} ({results[worse].score} vs {results[better].score})")
        figures.append((worse, better, required, right, pairs, missing, wrong))
    return figures


def with_settings(settings: Settings, assignments: list[str]) -> Settings:
    """`settings` with each "section.key=value" (a TOML value) set."""
    overrides: dict[str, dict] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        section, _, key = name.strip().partition(".")
        overrides.setdefault(section, {})[key] = tomllib.loads(f"value = {value.strip()}")["value"]
    return settings_with(overrides, settings, "--baseline")


def print_halves(baseline: dict[str, dict], judged: dict[str, dict], families: list[Family]) -> None:
    """The orderings of each half of the families, baseline against as configured."""
    for start, part in enumerate(("tuning", "held_out")):
        names = [family.name for family in families[start::2]]
        print(f"\norderings on the {part} half ({len(names)} families): baseline -> as configured")
        before = ordering_figures({name: baseline[name] for name in names})
        after = ordering_figures({name: judged[name] for name in names})
        for (worse, better, _, right0, pairs0, _, _), (_, _, _, right1, pairs1, _, _) in zip(before, after):
            print(f"  {worse:>15} < {better:<16} {right0 / max(pairs0, 1):.3f} -> {right1 / max(pairs1, 1):.3f}"
                  f"  ({right0}/{pairs0} -> {right1}/{pairs1})")


def print_report(judged: dict[str, dict], settings: Settings) -> None:
    print(f"\n{len(judged)} families\n")
    print("orderings (share of families where the first copy scores strictly below the second):")
    for worse, better, required, right, pairs, missing, wrong in ordering_figures(judged):
        share = right / pairs if pairs else float("nan")
        flag = "required" if required else "info"
        print(f"  {worse:>15} < {better:<16} {right:3d}/{pairs:<3d} = {share:.3f}  [{flag}]"
              + (f"  ({missing} not found)" if missing else ""))
        for line in wrong:
            print(f"      wrong: {line}")
    print("\nscores by copy (min / 25% / median / 75% / max), and median aspect qualities:")
    for name in VARIANTS:
        results = [family[name] for family in judged.values() if family.get(name) is not None]
        if not results:
            continue
        scores = sorted(result.score for result in results)
        quartiles = statistics.quantiles(scores, n=4) if len(scores) > 1 else [scores[0]] * 3
        aspects = sorted({key for result in results for key in result.components})
        medians = " ".join(
            f"{key[:5]}={statistics.median(r.components[key] for r in results if key in r.components):.2f}" for key in aspects
        )
        sharp = statistics.median(r.target_face.signals.get("sharpness") or 0 for r in results)
        print(f"  {name:>15} n={len(results):2d}  {scores[0]:5.1f} {quartiles[0]:5.1f} {quartiles[1]:5.1f} "
              f"{quartiles[2]:5.1f} {scores[-1]:5.1f}   sharpness={sharp:.2f}  {medians}")
    originals = [family["original"] for family in judged.values() if family.get("original") is not None]
    ranked = order_results(list(originals), settings, False)
    histogram = {star: sum(1 for result in ranked if result.stars == star) for star in range(1, 6)}
    print("\nstars over the originals ranked together:", "  ".join(f"{star}*: {count}" for star, count in histogram.items()))
    print("originals, best first:")
    for result in ranked:
        name = os.path.basename(result.path).split("__")[0]
        print(f"  {result.stars}* {result.score:5.1f} {name:<22} {', '.join(result.reasons)}")


# --- eyes and smile ------------------------------------------------------------------------------


def laughing_faces(work: str, settings: Settings, workers: int | None) -> list[tuple[str, float, float | None]]:
    """(photo, smile, eyes_open) of every smiling face in ../shared/data/people (all eyes open there)."""
    _, records = index_paths([SHARED_PEOPLE], cache_path=os.path.join(work, "faces.sqlite"), workers=workers, settings=settings)
    threshold = settings.scoring.smiling_threshold
    return [(os.path.basename(path), face.signals["smile"], face.signals.get("eyes_open"))
            for path, record in sorted(records.items()) for face in record.faces
            if (face.signals.get("smile") or 0.0) >= threshold]


def print_eyes_report(work: str, settings: Settings, workers: int | None) -> None:
    if not os.path.isdir(os.path.join(SHARED_DATA, "eyes")):
        print("\n(../shared/data absent: no eyes and smile figures)")
        return
    print("\neyes closed, ROC AUC of eyes_open (open vs closed crops; at 64 px, and shrunk to 48 and 32 px):")
    for source in EYES_AND_POSE:
        measuring = settings_with({"signals": {"eyes_and_pose": source}}, settings).measuring
        for part in ("tuning", "held_out", "check"):
            figures = []
            for side in (None, 48, 32):
                crops = {label: [crop_signals(path, measuring, side)["eyes_open"] for path in paths]
                         for label, paths in eye_crops(part).items()}
                judged = sum(value is not None for values in crops.values() for value in values)
                figures.append(f"{side or 64} px {roc_auc(crops['open'], crops['closed']):.3f} ({judged} judged)")
            print(f"  {source:>11} {part:>8}: {'   '.join(figures)}")
    smiles = {label: [crop_signals(path)["smile"] for path in sorted(glob.glob(os.path.join(SHARED_DATA, "smiles", label, "*.jpg")))]
              for label in ("smile", "neutral")}
    print(f"smile ROC AUC on shared/data/smiles: {roc_auc(smiles['smile'], smiles['neutral']):.3f}")
    laughing = laughing_faces(work, settings, workers)
    closed = [(name, smile, eyes) for name, smile, eyes in laughing if eyes is not None and eyes < settings.scoring.eyes_open_threshold]
    print(f"smiling faces of shared/data/people read as closed: {len(closed)} of {len(laughing)}")
    for name, smile, eyes in closed:
        print(f"      closed: {name} (smile {smile:.2f}, eyes_open {eyes:.2f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "photorank-eval-quality"),
                        help="folder for the copies and the face cache (kept between runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N shared photos")
    parser.add_argument("--quiet", action="store_true", help="only the orderings and the star histogram")
    parser.add_argument("--baseline", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="also judge with this setting changed and compare the orderings, per half")
    args = parser.parse_args(argv)
    settings = load_settings()
    families, records, threshold = build_families(source_photos(args.limit), args.work, settings, args.workers)
    judged = judge_families(families, records, settings, threshold)
    print_report(judged, settings)
    if args.baseline:
        print_halves(judge_families(families, records, with_settings(settings, args.baseline), threshold), judged, families)
    print_eyes_report(args.work, settings, args.workers)


if __name__ == "__main__":
    main()
