"""What the studio API answers with, as its OpenAPI schema (/openapi.json) states it.

Response bodies are pydantic models, so the schema says what each route returns and FastAPI
checks every answer against it before it leaves. The error body, the file routes' media
types and the job event stream are declared here too. ``tests/hardening/test_api_schema.py``
holds the API to this schema with generated requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict


class ErrorBody(BaseModel):
    """Every refused or failed request: one line for the user and, when the fault lies in
    one form field, that field's name."""

    error: str
    setting: str | None = None


Responses = dict[int | str, dict[str, Any]]
ERROR_REF = "#/components/schemas/ErrorBody"
# museforge's own errors (app.py: an InputError about something missing is a 404) and
# malformed requests, as the app answers them.
USER_ERRORS = {
    400: "Bad input; the error says what, in one line",
    404: "No such model, artwork, job or upload",
    422: "A malformed request: a field missing or of the wrong type",
}


def document_errors(schema: dict[str, Any], refusals: Callable[[str], dict[int, str]]) -> None:
    """Complete an OpenAPI ``schema`` in place with the error answers of every operation,
    each an :class:`ErrorBody`: 400; 404 and 422 where the request carries anything to
    check (FastAPI's own 422 body is replaced: the app answers with ours); and what the
    security middleware's ``refusals(method)`` may answer before any route is reached."""
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    body = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            takes_input = bool(operation.get("parameters")) or "requestBody" in operation
            errors = {s: why for s, why in USER_ERRORS.items() if s == 400 or takes_input}
            for status, why in refusals(method).items():
                if status in errors:  # one status, two reasons
                    why = f"{errors[status]}; or {why[:1].lower()}{why[1:]}"
                errors[status] = why
            for status, why in sorted(errors.items()):
                operation["responses"][str(status)] = {"description": why, "content": body}
    # FastAPI's validation bodies are never sent (see above): no longer referenced.
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)


def files(description: str, *media_types: str) -> Responses:
    """A 200 answered with a file of one of ``media_types`` (parameters such as charset
    dropped); a JSON file may hold any JSON, the others are bytes."""
    content = {}
    for media_type in sorted({m.split(";")[0].strip() for m in media_types}):
        binary = {"type": "string", "format": "binary"}
        content[media_type] = {"schema": {} if media_type == "application/json" else binary}
    return {200: {"description": description, "content": content}}


# One Server-Sent Event of a job (museforge.studio.jobs.sse_format): its sequence number,
# its type and its data as JSON text. Keep-alive comments are not events.
JOB_EVENT = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"enum": ["state", "progress", "log", "result", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
EVENT_STREAM: Responses = {
    200: {
        "description": "The job's events as Server-Sent Events, until it ends",
        "content": {"text/event-stream": {"schema": JOB_EVENT}},
    }
}


def _text(value: Any) -> str | None:
    # Provenance comes from files anyone may have written: a value that is not text is
    # shown as text rather than failing the whole listing.
    return value if value is None or isinstance(value, str) else str(value)


Text = Annotated[str | None, BeforeValidator(_text)]


class Open(BaseModel):
    """A body whose listed fields are promised; others may follow (older pages ignore
    them), so adding a field to a record never breaks the API."""

    model_config = ConfigDict(extra="allow")


# --- models, forms, data sets ----------------------------------------------------------------
class VerbForm(Open):
    verb: str
    label: str
    doc: str
    fields: list[dict[str, Any]]  # studio.forms.field_of: typed per field


class KindForm(Open):
    kind: str
    modality: str
    description: str
    trainable: bool
    train_fields: list[dict[str, Any]]
    verbs: list[VerbForm]


class ModelEntry(Open):
    """A usable model; the values after ``trained_in_studio`` are read from its manifest."""

    name: str
    kind: Text
    variant: Text
    trained_in_studio: bool
    data: Any
    licence: str
    letters: bool
    classes: list[str]
    metrics: Any
    created: Any
    sha256: Text


class DataSetEntry(Open):
    name: str
    modality: str
    role: str
    description: str
    size: str
    licence: str


class Vocabulary(BaseModel):
    model: str
    words: dict[str, list[str]]  # per language, commonest first
    complete: dict[str, bool]  # whether each list holds every word the model learnt


class VerseMarks(Open):
    language: str
    rows: int
    marks: list[str]
    violations: list[str] | None  # None until every line is written


# --- jobs ------------------------------------------------------------------------------------
class JobBody(Open):
    """One job (museforge.studio.jobs.Job)."""

    id: str
    kind: str
    params: dict[str, Any]
    state: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
    created: float
    started: float | None
    finished: float | None
    progress: float
    message: str
    result: dict[str, Any] | None
    error: str | None


# --- uploads ---------------------------------------------------------------------------------
class UploadRef(BaseModel):
    id: str  # upload:ID, for a form's picture, music or mesh field


class DataSetUpload(BaseModel):
    id: str  # dataset:ID, for the Train form
    files: int


# --- gallery ---------------------------------------------------------------------------------
class ArtworkSummary(Open):
    """An artwork as listings show it (museforge.gallery.store.ArtworkRecord.summary)."""

    id: str
    path: str
    sha256: str
    modality: str
    kind: Text
    model: Text
    model_sha256: Text
    verb: Text
    seed: int | None
    created: float
    stars: int | None
    like: bool | None
    text: str | None
    tags: list[str]


class RankedArtwork(ArtworkSummary):
    score: float  # cosine of the picture and the query


class GalleryPage(Open):
    """One page of artworks. Ranked by meaning, the items carry scores and the page says
    how many were ranked, by which encoder, with a note; otherwise those are absent."""

    items: list[RankedArtwork | ArtworkSummary]
    total: int
    ranked: int | None = None
    encoder: str | None = None
    note: str | None = None


class ParentRef(BaseModel):
    role: Text
    label: Text
    id: str | None  # None when the parent is not in the gallery


class ArtworkDetail(ArtworkSummary):
    annotation: str | None  # a poem with its form marks
    companions: list[str]
    provenance: dict[str, Any]
    parents: list[ParentRef]
    frames: list[ArtworkSummary]
    children: list[ArtworkSummary]


class ScoredLabel(BaseModel):
    label: str
    score: float


class LooksLike(BaseModel):
    id: str
    encoder: str
    labels: list[ScoredLabel]


class NearArtwork(ArtworkSummary):
    cosine: float


class Why(BaseModel):
    id: str
    score: float
    encoder: str | None
    nearest: list[NearArtwork]
    words: list[ScoredLabel]
    note: str | None


class Tags(BaseModel):
    tags: list[str]


class Remix(BaseModel):
    id: str
    model: str
    verb: str
    args: dict[str, Any]


class ArtworkIds(BaseModel):
    ids: list[str]
