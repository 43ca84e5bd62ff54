"""The output contract (docs/output.md): the JSON documents of rank, analyze, index and undo.

Built here, once, from the library's records: the CLI prints them, the daemon sends them as the
fields of its protobuf messages (protos/photorank/v1/photorank.proto mirrors them name for
name), and a client turns those messages back into the very same documents. Named values
(signals, components) are listed by name, as protobuf maps and Structs keep no order.
"""

from __future__ import annotations

from .api import MemberResult, RankingReport, Reference, SetResult
from .records import DetectedFace, ImageRecord


def face_json(face: DetectedFace) -> dict:
    return {
        "box": list(face.box),
        "detector_score": round(face.detector_score, 3),
        "signals": {name: (round(value, 4) if isinstance(value, float) else value) for name, value in sorted(face.signals.items())},
    }


def reference_json(reference: Reference) -> dict:
    return {"path": reference.path, "face": reference.face_number, "box": list(reference.box), "faces": reference.faces,
            "source": reference.source}


def member_json(member: MemberResult) -> dict:
    return {
        "name": member.name,
        "score": member.score,
        "similarity": member.similarity,
        "match": member.match,
        "face": face_json(member.face),
        "components": dict(sorted(member.components.items())),
        "reasons": member.reasons,
    }


def rank_document(report: RankingReport) -> dict:
    # the ranking stage: documents are made by the library, never by the CLI's client
    from .tagged import tagged_as_reason
    from .writeback import keyword_prefix, result_keywords

    document = {
        "engine": report.engine,
        "threshold": report.threshold,
        "mode": report.mode,
        "people": [{"name": name, "references": [reference_json(ref) for ref in references]} for name, references in report.people],
        # what write-back tags the person's photos with; a photo manager applies them as given
        "keyword_prefix": keyword_prefix(report.person) if report.person else "",
        "references": [reference_json(ref) for ref in report.references],
        "results": [
            {
                "path": result.path,
                "rank": result.rank,
                "score": result.score,
                "stars": result.stars,
                "kind": result.kind,
                "keywords": result_keywords(result, report.person) if report.person else [],
                "similarity": result.similarity,
                "match": result.match,
                "tagged": result.tagged,
                "members": [member_json(member) for member in result.members] if isinstance(result, SetResult) else [],
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
    from .ranking import faces_left_to_right

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

