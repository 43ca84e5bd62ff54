"""Small command line: `python -m xmp_writer write|undo ...`.

Stands in for `photorank rank --write-xmp` / `photorank undo` until the main
CLI wires the library in; the options are the same.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from . import FaceRegion, PersonRating, undo, write_rating
from .merge import check_unrated
from .model import NAMINGS


def _ratings(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
        check_unrated(values)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected star ratings 0..5 like 0,1, got {text!r}") from None
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xmp_writer")
    sub = parser.add_subparsers(dest="command", required=True)

    write = sub.add_parser("write", help="write one person's result for one image")
    write.add_argument("image")
    write.add_argument("--person", required=True)
    write.add_argument("--rank", type=int, required=True)
    write.add_argument("--score", type=float, required=True)
    write.add_argument("--stars", type=int, required=True)
    write.add_argument("--kind", choices=("single", "group"), default="single")
    write.add_argument("--tag", action="append", default=[], help="extra leaf keyword, repeatable")
    write.add_argument("--region", nargs=6, metavar=("CX", "CY", "W", "H", "WIDTH", "HEIGHT"),
                       help="face centre/size (0..1) and image size in pixels")
    write.add_argument("--engine", default="")
    write.add_argument("--version", default="")
    write.add_argument("--overwrite-ratings", action="store_true")
    write.add_argument("--unrated", type=_ratings, default=(0,), metavar="0,1",
                       help="ratings that count as 'not rated' (darktable users: 0,1)")
    write.add_argument("--naming", choices=NAMINGS, default="auto")
    write.add_argument("--embed", action="store_true", help="also into the XMP inside a JPEG file")

    rollback = sub.add_parser("undo", help="take photorank's data out of sidecars")
    rollback.add_argument("paths", nargs="+")
    rollback.add_argument("--person")
    rollback.add_argument("--naming", choices=NAMINGS, default="auto")
    rollback.add_argument("--embed", action="store_true", help="also out of the XMP inside JPEG files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    outcomes = []
    if args.command == "write":
        region = None
        if args.region:
            cx, cy, w, h = (float(v) for v in args.region[:4])
            region = FaceRegion(cx, cy, w, h, int(args.region[4]), int(args.region[5]))
        rating = PersonRating(
            person=args.person, rank=args.rank, score=args.score, stars=args.stars,
            kind=args.kind, tags=tuple(args.tag), region=region, engine=args.engine,
            version=args.version,
            run_time=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        )
        outcomes.append(write_rating(args.image, rating, naming=args.naming,
                                     overwrite_ratings=args.overwrite_ratings,
                                     unrated=args.unrated, embed=args.embed))
    else:
        outcomes += [undo(path, args.person, naming=args.naming, embed=args.embed) for path in args.paths]
    for outcome in outcomes:
        if outcome.files:
            print(outcome)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
