"""The output contract (docs/output.md): the JSON documents of rank, analyze, index and undo.

Built here, once, from the library's records: the CLI prints them, the daemon sends them as the
fields of its protobuf messages (protos/photorank/v1/photorank.proto mirrors them name for
name), and a client turns those messages back into the very same documents. Named values
(signals, components) are listed by name, as protobuf maps and Structs keep no order.
"""

from __future__ import annotations

from .records import DetectedFace, ImageRecord
from .ranking import RankingReport, faces_left_to_right
from .tagged import tagged_as_reason


def face_json(face: DetectedFace) -> dict:
    return {
        "box": list(face.box),
        "detector_score": round(face.detector_score, 3),
        "signals": {name: (round(value, 4) if isinstance(value, float) else value) for name, value in sorted(face.signals.items())},
    }


def rank_document(report: RankingReport) -> dict:
    document = {
        "engine": report.engine,
        "threshold": report.threshold,
        "references": [
            {"path": ref.path, "face": ref.face_number, "box": list(ref.box), "faces": ref.faces, "source": ref.source}
            for ref in report.references
        ],
        "results": [
            {
                "path": result.path,
                "rank": result.rank,
                "score": result.score,
                "stars": result.stars,
                "kind": result.kind,
                "similarity": result.similarity,
                "match": result.match,
                "tagged": result.tagged,
                "faces": result.faces,
                "prominent_faces": result.prominent_faces,
                "target_face": face_json(result.target_face),
                "signals": face_json(result.target_face)["signals"],
                "components": dict(sorted(result.components.items())),
                "reasons": result.reasons,
                "burst": result.burst,
                "best_of_burst": result.best_of_burst,
                "width": result.width,
                "height": result.height,
                "captured_at": result.captured_at,
            }
            for result in report.results
        ],
        "found": report.found,
        "not_found": report.not_found,
        "errors": [{"path": path, "error": error} for path, error in report.errors],
        "tagged_as_other": [
            {"path": other.path, "tagged_as": other.name, "similarity": other.similarity, "reason": tagged_as_reason(other.name)}
            for other in report.tagged_as_other
        ],
    }
    if report.written is not None:
        document["xmp"] = report.written.as_dict()
    return document


def analyze_document(engine: str, records: dict[str, ImageRecord]) -> dict:
    return {
        "engine": engine,
        "results": [
            {
                "path": path,
                "width": record.width,
                "height": record.height,
                "captured_at": record.captured_at,
                "image_signals": dict(sorted(record.image_signals.items())),
                "faces": [face_json(face) for face in faces_left_to_right(record.faces)],
            }
            for path, record in sorted(records.items())
            if not record.error
        ],
        "errors": [{"path": path, "error": record.error} for path, record in sorted(records.items()) if record.error],
    }


def progress_document(event) -> dict:
    """One line of `--progress jsonl`: a ProgressEvent."""
    return {"event": "progress", "phase": event.phase, "done": event.done, "total": event.total, "path": event.path}
