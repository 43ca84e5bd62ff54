"""The darktable plugin on a large selection: N photos (default 5 000) ranked inside darktable.

    python bench/bench_plugin_darktable.py [--photos N] [--workers N] [--folder DIR]

Makes N small photos from the people of ../shared/data (320 px on the long side, every file
different), analyses them once ahead (`photorank index`, what "index this collection" does),
then runs real darktable 4.2 under Xvfb (tests/lua/darktable_driver.lua): it imports them,
ranks the whole collection for the person in obama_1.jpg through the plugin's action (one
photorank process, the paths through a file, stars and tags through darktable's Lua API) and
undoes it all. It checks that darktable holds exactly photorank's ranking.

Baseline, in the same run, on the same warm cache and paths: the bare `photorank rank` command,
the floor under the plugin's ranking time. The ratio is what the plugin adds: reading and
decoding the output, tagging and rating each photo, darktable writing each photo's sidecar.
Needs darktable, Xvfb and ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from darktable_session import PLUGIN, plugin_darktablerc, private_env, run_darktable  # noqa: E402

PEOPLE = REPO.parent / "shared" / "data" / "people"
PERSON = "Obama"


def make_photos(folder: pathlib.Path, count: int) -> list[str]:
    """count JPEGs cycling through the people photos; the first is obama_1 (the reference)."""
    from PIL import Image

    sources = [PEOPLE / "obama_1.jpg"] + sorted(p for p in PEOPLE.glob("*.jpg") if p.name != "obama_1.jpg")
    small = []
    for source in sources:
        with Image.open(source) as image:
            image = image.convert("RGB")
            image.thumbnail((320, 320))
            small.append(image.copy())
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        if not path.exists():  # kept from an earlier run: untouched, so its cached faces still count
            small[i % len(small)].save(path, quality=60 + i % 35)  # a different file every time
        paths.append(str(path))
    return paths


def photorank(env: dict, *arguments: str) -> tuple[dict, float]:
    """One photorank call with --progress jsonl: its final document and its wall-clock seconds."""
    started = time.perf_counter()
    run = subprocess.run(["photorank", *arguments, "--progress", "jsonl"], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(run.stdout.splitlines()[-1]), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="analysis processes for the warm-up index")
    parser.add_argument("--folder", help="work here and keep the photos and their face cache for the next run "
                                         "(default: a temporary folder)")
    args = parser.parse_args()
    for program in ("darktable", "Xvfb", "photorank"):
        if shutil.which(program) is None:
            sys.exit(f"{program} is needed")
    if not PEOPLE.is_dir():
        sys.exit(f"shared data not found at {PEOPLE}")

    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as scratch:
        folder = pathlib.Path(args.folder or scratch)
        paths = make_photos(folder / "photos", args.photos)
        env = private_env(folder)
        temp = folder / f"run-{int(time.time())}"
        temp.mkdir()
        everything, others = temp / "all.txt", temp / "others.txt"
        everything.write_text("".join(f"{path}\n" for path in paths))
        others.write_text("".join(f"{path}\n" for path in paths[1:]))

        summary, seconds = photorank(env, "index", "--paths-from", str(everything), "--workers", str(args.workers))
        print(f"photos: {args.photos}; warm-up index: {summary['analysed']} analysed in {seconds:.0f} s")
        document, cli_seconds = photorank(env, "rank", "--ref", paths[0], "--person", PERSON,
                                          "--paths-from", str(others))
        ranks = {os.path.basename(r["path"]): r["rank"] for r in document["results"]}

        steps = run_darktable(temp, dict(
            env, PR_LIST=str(everything), PR_REFERENCE=os.path.basename(paths[0]), PR_PERSON=PERSON,
            PR_SNAPSHOT=str(temp)), timeout=7200,
            darktablerc=plugin_darktablerc(PERSON, shutil.which("photorank")), plugin=PLUGIN)
        tagged = {name: tags for name, (_, tags) in steps["ranked"].items() if tags}
        applied = {name: int(next(t for t in tags if "|rank " in t).rsplit(" ", 1)[1]) for name, tags in tagged.items()}
        undone = sum(1 for _, tags in steps["undone"].values() if tags)
        times = {phase: float(fields[0]) for phase, fields in steps["time"].items()}

        print(f"found by photorank: {len(ranks)}; tagged in darktable: {len(tagged)}; "
              f"same ranks: {applied == ranks}; left tagged after undo: {undone}")
        print(f"darktable import of {args.photos} photos: {times['import']:.1f} s")
        print(f"rank for this person in darktable (button to stars and tags on {len(tagged)} photos): "
              f"{times['rank']:.1f} s")
        print(f"baseline, bare `photorank rank` on the same paths: {cli_seconds:.1f} s "
              f"(plugin x{times['rank'] / cli_seconds:.2f})")
        print(f"undo photorank on all {args.photos}: {times['undo']:.1f} s")


if __name__ == "__main__":
    main()
