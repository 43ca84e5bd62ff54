from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReferencePhoto(_message.Message):
    __slots__ = ("path", "face", "box")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    path: str
    face: int
    box: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, path: _Optional[str] = ..., face: _Optional[int] = ..., box: _Optional[_Iterable[int]] = ...) -> None: ...

class XmpOptions(_message.Message):
    __slots__ = ("naming", "overwrite_ratings", "unrated", "embed", "dry_run")
    NAMING_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_RATINGS_FIELD_NUMBER: _ClassVar[int]
    UNRATED_FIELD_NUMBER: _ClassVar[int]
    EMBED_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    naming: str
    overwrite_ratings: bool
    unrated: _containers.RepeatedScalarFieldContainer[int]
    embed: bool
    dry_run: bool
    def __init__(self, naming: _Optional[str] = ..., overwrite_ratings: _Optional[bool] = ..., unrated: _Optional[_Iterable[int]] = ..., embed: _Optional[bool] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("name", "references")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    name: str
    references: _containers.RepeatedCompositeFieldContainer[ReferencePhoto]
    def __init__(self, name: _Optional[str] = ..., references: _Optional[_Iterable[_Union[ReferencePhoto, _Mapping]]] = ...) -> None: ...

class RankRequest(_message.Message):
    __slots__ = ("references", "people", "mode", "paths", "recursive", "top", "best_of_burst", "person", "write_xmp", "xmp", "include_unsure")
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    BEST_OF_BURST_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    WRITE_XMP_FIELD_NUMBER: _ClassVar[int]
    XMP_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_UNSURE_FIELD_NUMBER: _ClassVar[int]
    references: _containers.RepeatedCompositeFieldContainer[ReferencePhoto]
    people: _containers.RepeatedCompositeFieldContainer[Person]
    mode: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    top: int
    best_of_burst: bool
    person: str
    write_xmp: bool
    xmp: XmpOptions
    include_unsure: bool
    def __init__(self, references: _Optional[_Iterable[_Union[ReferencePhoto, _Mapping]]] = ..., people: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., mode: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ..., top: _Optional[int] = ..., best_of_burst: _Optional[bool] = ..., person: _Optional[str] = ..., write_xmp: _Optional[bool] = ..., xmp: _Optional[_Union[XmpOptions, _Mapping]] = ..., include_unsure: _Optional[bool] = ...) -> None: ...

class IndexRequest(_message.Message):
    __slots__ = ("paths", "recursive")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("paths", "recursive")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ...) -> None: ...

class UndoRequest(_message.Message):
    __slots__ = ("paths", "recursive", "person", "xmp")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    XMP_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    person: str
    xmp: XmpOptions
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ..., person: _Optional[str] = ..., xmp: _Optional[_Union[XmpOptions, _Mapping]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Progress(_message.Message):
    __slots__ = ("event", "phase", "done", "total", "path")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    event: str
    phase: str
    done: int
    total: int
    path: str
    def __init__(self, event: _Optional[str] = ..., phase: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., path: _Optional[str] = ...) -> None: ...

class RankEvent(_message.Message):
    __slots__ = ("progress", "report")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    report: RankReport
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., report: _Optional[_Union[RankReport, _Mapping]] = ...) -> None: ...

class IndexEvent(_message.Message):
    __slots__ = ("progress", "report")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    report: IndexReport
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., report: _Optional[_Union[IndexReport, _Mapping]] = ...) -> None: ...

class Face(_message.Message):
    __slots__ = ("box", "detector_score", "signals")
    BOX_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_SCORE_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    box: _containers.RepeatedScalarFieldContainer[int]
    detector_score: float
    signals: _struct_pb2.Struct
    def __init__(self, box: _Optional[_Iterable[int]] = ..., detector_score: _Optional[float] = ..., signals: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Reference(_message.Message):
    __slots__ = ("path", "face", "box", "faces", "source")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    face: int
    box: _containers.RepeatedScalarFieldContainer[int]
    faces: int
    source: str
    def __init__(self, path: _Optional[str] = ..., face: _Optional[int] = ..., box: _Optional[_Iterable[int]] = ..., faces: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("name", "score", "similarity", "match", "face", "components", "reasons")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    score: float
    similarity: float
    match: str
    face: Face
    components: _containers.ScalarMap[str, float]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., score: _Optional[float] = ..., similarity: _Optional[float] = ..., match: _Optional[str] = ..., face: _Optional[_Union[Face, _Mapping]] = ..., components: _Optional[_Mapping[str, float]] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class PersonReferences(_message.Message):
    __slots__ = ("name", "references")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    name: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    def __init__(self, name: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ...) -> None: ...

class PhotoResult(_message.Message):
    __slots__ = ("path", "rank", "score", "stars", "kind", "keywords", "similarity", "match", "tagged", "members", "faces", "prominent_faces", "target_face", "signals", "components", "reasons", "burst", "best_of_burst", "width", "height", "captured_at")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    STARS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    TAGGED_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    PROMINENT_FACES_FIELD_NUMBER: _ClassVar[int]
    TARGET_FACE_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    BURST_FIELD_NUMBER: _ClassVar[int]
    BEST_OF_BURST_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    path: str
    rank: int
    score: float
    stars: int
    kind: str
    keywords: _containers.RepeatedScalarFieldContainer[str]
    similarity: float
    match: str
    tagged: str
    members: _containers.RepeatedCompositeFieldContainer[Member]
    faces: int
    prominent_faces: int
    target_face: Face
    signals: _struct_pb2.Struct
    components: _containers.ScalarMap[str, float]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    burst: int
    best_of_burst: bool
    width: int
    height: int
    captured_at: float
    def __init__(self, path: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ..., stars: _Optional[int] = ..., kind: _Optional[str] = ..., keywords: _Optional[_Iterable[str]] = ..., similarity: _Optional[float] = ..., match: _Optional[str] = ..., tagged: _Optional[str] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., faces: _Optional[int] = ..., prominent_faces: _Optional[int] = ..., target_face: _Optional[_Union[Face, _Mapping]] = ..., signals: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., components: _Optional[_Mapping[str, float]] = ..., reasons: _Optional[_Iterable[str]] = ..., burst: _Optional[int] = ..., best_of_burst: _Optional[bool] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., captured_at: _Optional[float] = ...) -> None: ...

class TaggedAsOther(_message.Message):
    __slots__ = ("path", "tagged_as", "similarity", "reason")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TAGGED_AS_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    path: str
    tagged_as: str
    similarity: float
    reason: str
    def __init__(self, path: _Optional[str] = ..., tagged_as: _Optional[str] = ..., similarity: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class FileError(_message.Message):
    __slots__ = ("path", "error")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    path: str
    error: str
    def __init__(self, path: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class FileNote(_message.Message):
    __slots__ = ("path", "note")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    path: str
    note: str
    def __init__(self, path: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class FileChange(_message.Message):
    __slots__ = ("path", "action", "changes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    path: str
    action: str
    changes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., action: _Optional[str] = ..., changes: _Optional[_Iterable[str]] = ...) -> None: ...

class WriteBack(_message.Message):
    __slots__ = ("dry_run", "files", "notes", "errors", "changes")
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    files: _containers.ScalarMap[str, int]
    notes: _containers.RepeatedCompositeFieldContainer[FileNote]
    errors: _containers.RepeatedCompositeFieldContainer[FileError]
    changes: _containers.RepeatedCompositeFieldContainer[FileChange]
    def __init__(self, dry_run: _Optional[bool] = ..., files: _Optional[_Mapping[str, int]] = ..., notes: _Optional[_Iterable[_Union[FileNote, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[FileError, _Mapping]]] = ..., changes: _Optional[_Iterable[_Union[FileChange, _Mapping]]] = ...) -> None: ...

class RankReport(_message.Message):
    __slots__ = ("engine", "threshold", "mode", "people", "keyword_prefix", "references", "results", "found", "not_found", "errors", "tagged_as_other", "xmp")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_PREFIX_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    TAGGED_AS_OTHER_FIELD_NUMBER: _ClassVar[int]
    XMP_FIELD_NUMBER: _ClassVar[int]
    engine: str
    threshold: float
    mode: str
    people: _containers.RepeatedCompositeFieldContainer[PersonReferences]
    keyword_prefix: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    results: _containers.RepeatedCompositeFieldContainer[PhotoResult]
    found: int
    not_found: int
    errors: _containers.RepeatedCompositeFieldContainer[FileError]
    tagged_as_other: _containers.RepeatedCompositeFieldContainer[TaggedAsOther]
    xmp: WriteBack
    def __init__(self, engine: _Optional[str] = ..., threshold: _Optional[float] = ..., mode: _Optional[str] = ..., people: _Optional[_Iterable[_Union[PersonReferences, _Mapping]]] = ..., keyword_prefix: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., results: _Optional[_Iterable[_Union[PhotoResult, _Mapping]]] = ..., found: _Optional[int] = ..., not_found: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[FileError, _Mapping]]] = ..., tagged_as_other: _Optional[_Iterable[_Union[TaggedAsOther, _Mapping]]] = ..., xmp: _Optional[_Union[WriteBack, _Mapping]] = ...) -> None: ...

class IndexReport(_message.Message):
    __slots__ = ("photos", "analysed", "cached", "errors")
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    ANALYSED_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    photos: int
    analysed: int
    cached: int
    errors: _containers.RepeatedCompositeFieldContainer[FileError]
    def __init__(self, photos: _Optional[int] = ..., analysed: _Optional[int] = ..., cached: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[FileError, _Mapping]]] = ...) -> None: ...

class AnalyzedPhoto(_message.Message):
    __slots__ = ("path", "width", "height", "captured_at", "image_signals", "faces")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    path: str
    width: int
    height: int
    captured_at: float
    image_signals: _struct_pb2.Struct
    faces: _containers.RepeatedCompositeFieldContainer[Face]
    def __init__(self, path: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., captured_at: _Optional[float] = ..., image_signals: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., faces: _Optional[_Iterable[_Union[Face, _Mapping]]] = ...) -> None: ...

class AnalyzeReport(_message.Message):
    __slots__ = ("engine", "results", "errors")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    engine: str
    results: _containers.RepeatedCompositeFieldContainer[AnalyzedPhoto]
    errors: _containers.RepeatedCompositeFieldContainer[FileError]
    def __init__(self, engine: _Optional[str] = ..., results: _Optional[_Iterable[_Union[AnalyzedPhoto, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[FileError, _Mapping]]] = ...) -> None: ...

class StatusReport(_message.Message):
    __slots__ = ("version", "engine", "analysis_key", "smile_model", "cache_path", "files", "images", "faces", "index_faces", "index_bytes", "queued", "workers", "uptime_seconds", "pid", "address", "analyses_started", "reindex")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_KEY_FIELD_NUMBER: _ClassVar[int]
    SMILE_MODEL_FIELD_NUMBER: _ClassVar[int]
    CACHE_PATH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    INDEX_FACES_FIELD_NUMBER: _ClassVar[int]
    INDEX_BYTES_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ANALYSES_STARTED_FIELD_NUMBER: _ClassVar[int]
    REINDEX_FIELD_NUMBER: _ClassVar[int]
    version: str
    engine: str
    analysis_key: str
    smile_model: str
    cache_path: str
    files: int
    images: int
    faces: int
    index_faces: int
    index_bytes: int
    queued: int
    workers: int
    uptime_seconds: float
    pid: int
    address: str
    analyses_started: int
    reindex: Reindex
    def __init__(self, version: _Optional[str] = ..., engine: _Optional[str] = ..., analysis_key: _Optional[str] = ..., smile_model: _Optional[str] = ..., cache_path: _Optional[str] = ..., files: _Optional[int] = ..., images: _Optional[int] = ..., faces: _Optional[int] = ..., index_faces: _Optional[int] = ..., index_bytes: _Optional[int] = ..., queued: _Optional[int] = ..., workers: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., pid: _Optional[int] = ..., address: _Optional[str] = ..., analyses_started: _Optional[int] = ..., reindex: _Optional[_Union[Reindex, _Mapping]] = ...) -> None: ...

class Reindex(_message.Message):
    __slots__ = ("state", "done", "total", "gone")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    GONE_FIELD_NUMBER: _ClassVar[int]
    state: str
    done: int
    total: int
    gone: int
    def __init__(self, state: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., gone: _Optional[int] = ...) -> None: ...
