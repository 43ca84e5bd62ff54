"""Write photorank's ranking into XMP sidecars without losing anything else.

Stand-alone: depends on lxml only, not on the rest of photorank.
"""

from .api import undo, write_rating, write_ratings
from .merge import NS as NAMESPACE_URI
from .merge import PREFIX as NAMESPACE_PREFIX
from .merge import hierarchical_keywords, hierarchical_prefix
from .model import FaceRegion, FileResult, PersonRating, WriteOutcome, XmpError
from .sidecar import sidecar_paths

__all__ = [
    "FaceRegion", "FileResult", "PersonRating", "WriteOutcome", "XmpError",
    "NAMESPACE_URI", "NAMESPACE_PREFIX",
    "sidecar_paths", "write_rating", "write_ratings", "undo",
    "hierarchical_keywords", "hierarchical_prefix",
]
