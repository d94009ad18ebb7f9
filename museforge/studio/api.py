"""The studio's JSON API: thin routes over the workspace, the gallery and the job queue —
models, forms, data sets, generate, train and uploads here; the job routes are in
:mod:`api_jobs` and the gallery's in :mod:`api_gallery` (all under /api; the app joins them).

State-changing routes are POSTs (the security middleware demands the launch token for
them); files are served only by gallery id.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from museforge.core.media import one_line
from museforge.core.registry import get_kind
from museforge.errors import DataError, InputError
from museforge.studio.deps import job_queue, workspace
from museforge.studio.forms import coerce_args, kind_forms
from museforge.studio.runners import DATA_SUFFIXES, model_settings
from museforge.studio.schema import (
    ArtworkIds,
    DataSetEntry,
    DataSetUpload,
    KindForm,
    ModelEntry,
    UploadRef,
    VerseMarks,
    Vocabulary,
)
from museforge.studio.uploads import (
    MAX_MESH_UPLOAD_BYTES,
    MAX_MUSIC_UPLOAD_BYTES,
    MAX_SOUND_UPLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    read_capped,
    safe_extract_zip,
)
from museforge.studio.workspace import Workspace

router = APIRouter(prefix="/api")  # its error answers are documented by app.py
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _section(record: Any, key: str) -> dict[str, Any]:
    """``record[key]`` where both are JSON objects, else {}: a manifest is a file anyone
    may have edited, and a wrong shape means the value is not recorded."""
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, dict) else {}


def _manifest(folder: Path) -> dict[str, Any]:
    """A listed model's model.json (the listing already read it as JSON)."""
    path = folder / "model.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:  # replaced or damaged since it was listed
        raise DataError(f"{path}: not a readable model manifest ({one_line(err)})") from None


# --- models and forms ---------------------------------------------------------------------
# Routes that return plain dicts name their model in ``response_model``: FastAPI checks and
# documents the answer by it, and the return annotation stays what the function returns.
@router.get("/kinds", response_model=list[KindForm])
def list_kinds() -> list[dict[str, Any]]:
    return kind_forms()


@router.get("/models", response_model=list[ModelEntry])
def list_models(request: Request) -> list[dict[str, Any]]:
    return workspace(request).models()


@router.get("/models/{name:path}/vocabulary")
def model_vocabulary(name: str, request: Request) -> Vocabulary:
    """The caption words a model learnt from, per language, commonest first (text-to-image
    models record them; other models have none), and whether each list is complete."""
    manifest = _manifest(workspace(request).model_path(name))
    record = _section(_section(manifest, "data"), "vocabulary")
    words = {
        str(lang): [w for w in found if isinstance(w, str)]
        for lang, found in _section(record, "words").items()
        if isinstance(found, list)
    }
    distinct = _section(record, "distinct")
    complete = {}
    for lang, found in words.items():
        total = distinct.get(lang)
        complete[lang] = not isinstance(total, int) or total <= len(found)
    return Vocabulary(model=name, words=words, complete=complete)


@router.get("/datasets", response_model=list[DataSetEntry])
def list_datasets() -> list[dict[str, str]]:
    """The built-in data sets, as registered by their modalities (core.data)."""
    from museforge.core.data import datasets

    return [
        {
            "name": d.name,
            "modality": d.modality,
            "role": d.role,
            "description": d.description,
            "size": d.size,
            "licence": d.licence,
        }
        for d in datasets()
    ]


class VerseMarksRequest(BaseModel):
    model: str
    form: str | None = Field(default=None, max_length=40)
    rhyme_book: str = Field(default="xinyun", max_length=20)
    lines: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=100)


@router.post("/verse/marks", response_model=VerseMarks)
def verse_marks(body: VerseMarksRequest, request: Request) -> dict[str, Any]:
    """Form marks for a poem written line by line on the Write page (see
    :func:`museforge.text.annotate.verse_marks`), in the language of the model."""
    from museforge.text.annotate import verse_marks as marks

    folder = workspace(request).model_path(body.model, kind="text-lm")
    language = _section(_manifest(folder), "config").get("language")
    language = language if isinstance(language, str) else "en"
    return {"language": language, **marks(language, body.form, body.lines, body.rhyme_book)}


class GarmentRequest(BaseModel):
    picture: str = Field(max_length=80)  # a gallery id or upload:ID
    garment: str = Field(default="tshirt", max_length=20)
    repeat: float = Field(default=3.0, ge=0.25, le=40)
    tile_cm: float = Field(default=20.0, ge=0.5, le=300)
    dpi: int = Field(default=300, ge=30, le=1200)
    mirror: bool = True


@router.post("/design/garment")
def design_garment(body: GarmentRequest, request: Request) -> ArtworkIds:
    """A gallery picture (or an upload) printed on a garment: the preview and the
    print-ready tile, both added to the gallery; their ids."""
    from museforge.design.garments import make_garment

    ws = workspace(request)
    source = ws.picture_path(body.picture)
    folder = ws.gallery.root / "garments"
    made = make_garment(
        source, folder, body.garment, body.repeat, body.tile_cm, body.dpi, body.mirror
    )
    ids = []
    for path in made[:2]:
        art_id = ws.gallery.add(path)
        if art_id is None:  # the gallery does not take the file as an artwork: say so
            raise DataError(f"{path}: written, but the gallery cannot read it as an artwork")
        ids.append(art_id)
    return ArtworkIds(ids=ids)


# --- jobs ----------------------------------------------------------------------------------
# A client-chosen key: the same request sent again with it gets the same job (studio/jobs.py)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[!-~]{1,200}$",
        description="client-chosen; sent again with the same request, the same job",
    ),
]


class GenerateRequest(BaseModel):
    model: str
    verb: str
    args: dict[str, Any] = Field(default_factory=dict)
    keep: int | None = Field(default=None, ge=1, le=64)  # rank by taste, keep the best


def _model_kind(ws: Workspace, name: str) -> str:
    """The kind of the model the studio calls ``name``; a one-line error when none."""
    kind = next((m["kind"] for m in ws.models() if m["name"] == name), None)
    if kind is None:
        raise InputError(f"no model called '{name}' (see the Models page)")
    return kind


@router.post("/generate")
def generate(
    body: GenerateRequest,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, str]:
    kind = _model_kind(workspace(request), body.model)
    args = coerce_args(kind, body.verb, body.args)
    params = {"model": body.model, "verb": body.verb, "args": args}
    if body.keep:
        params |= {"keep": body.keep, "modality": get_kind(kind).modality}
    return _submit(request, response, "generate", params, idempotency_key)


def _submit(
    request: Request, response: Response, kind: str, params: dict[str, Any], key: str | None
) -> dict[str, str]:
    """Queue a job; a request repeated with its Idempotency-Key (or racing in meanwhile)
    gets the first one's job, marked Idempotent-Replayed."""
    job_id, new = job_queue(request).submit_keyed(kind, params, key)
    if not new:
        response.headers["Idempotent-Replayed"] = "true"
    return {"job": job_id}


Prompt = Annotated[str, Field(max_length=300)]


class VisualiseRequest(BaseModel):
    music: str = Field(max_length=80)  # a gallery music or sound id, or an upload:ID
    model: str = Field(max_length=120)  # a picture model (or text-to-image with words)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    fps: int = Field(default=24, ge=1, le=60)
    size: str = Field(default="640x360", max_length=12)
    prompts: list[Prompt] = Field(default_factory=list, max_length=64)
    lyrics: str | None = Field(default=None, max_length=100_000)  # LRC or one line per prompt
    label: int | None = Field(default=None, ge=0, le=100_000)


@router.post("/visualise")
def visualise(
    body: VisualiseRequest,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, str]:
    """Music you can see: a video of a picture model's walk driven by a piece or a sound
    (from the gallery or uploaded), with the music in it; made as a job, kept in the
    gallery (visualise/)."""
    from museforge.crossmodal.visualise import parse_size

    ws = workspace(request)
    kind = _model_kind(ws, body.model)
    if get_kind(kind).modality != "image" and kind != "text-to-image":
        raise InputError(f"'{body.model}' is a {kind}: visualise draws with a picture model")
    ws.heard_path(body.music)  # refused now, not inside the job
    parse_size(body.size)
    prompts = [" ".join(p.split()) for p in body.prompts if p.strip()]
    params = body.model_dump() | {"prompts": prompts, "lyrics": None}
    if body.lyrics and body.lyrics.strip():
        params["lyrics"] = ws.save_lyrics(body.lyrics)
    return _submit(request, response, "visualise", params, idempotency_key)


class TrainRequest(BaseModel):
    kind: str
    data: str
    name: str
    time_budget: str = "2m"
    steps: int | None = Field(default=None, ge=1, le=1_000_000)
    style: str | None = None
    # the kind's Train-page fields (forms.train_fields); models by their studio names
    settings: dict[str, str] = Field(default_factory=dict, max_length=16)


@router.post("/train")
def train(
    body: TrainRequest,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, str]:
    from museforge.core.train import parse_duration

    params = body.model_dump()
    # A repeat of an accepted request gets its job before the checks below: by now its
    # model may exist, which would refuse the name.
    earlier = idempotency_key and job_queue(request).keyed("train", params, idempotency_key)
    if earlier:
        response.headers["Idempotent-Replayed"] = "true"
        return {"job": earlier}
    if not _NAME.match(body.name):
        raise InputError("model name: lower-case letters, digits and '-', at most 40")
    spec = get_kind(body.kind)
    if spec.task_factory is None:
        raise InputError(f"model kind '{body.kind}' cannot be trained")
    parse_duration(body.time_budget)  # refuse a bad budget now, not inside the job
    model_settings(workspace(request), body.kind, body.settings)  # the job resolves them again
    if (workspace(request).trained_dir / body.name / "model.json").exists():
        raise InputError(f"a trained model called '{body.name}' exists; choose another name")
    return _submit(request, response, "train", params, idempotency_key)


# --- uploads -------------------------------------------------------------------------------
@router.post("/uploads")
async def upload_picture(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    data = await read_capped(file, MAX_UPLOAD_BYTES)
    return UploadRef(id=workspace(request).save_upload(file.filename or "picture", data))


@router.post("/uploads/music")
async def upload_music(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    """A MIDI or MusicXML file for a music verb (checked: size, header, events, notes)."""
    data = await read_capped(file, MAX_MUSIC_UPLOAD_BYTES)
    save = workspace(request).save_music_upload
    return UploadRef(id=await asyncio.to_thread(save, file.filename or "music.mid", data))


@router.post("/uploads/sound")
async def upload_sound(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    """A recording (WAV, FLAC, OGG or MP3) to encode or visualise (checked: size, that it
    decodes whole, length, not silent)."""
    data = await read_capped(file, MAX_SOUND_UPLOAD_BYTES)
    save = workspace(request).save_sound_upload
    return UploadRef(id=await asyncio.to_thread(save, file.filename or "sound.wav", data))


@router.post("/uploads/mesh")
async def upload_mesh(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    """An STL, OBJ, PLY, OFF or GLB file for a sculpture verb (checked: size, faces, that it
    reads as a surface mesh)."""
    data = await read_capped(file, MAX_MESH_UPLOAD_BYTES)
    save = workspace(request).save_mesh_upload
    return UploadRef(id=await asyncio.to_thread(save, file.filename or "mesh.stl", data))


@router.post("/datasets")
async def upload_dataset(request: Request, file: Annotated[UploadFile, File()]) -> DataSetUpload:
    """A zip of pictures or texts to train on; its id for the Train form."""
    data = await read_capped(file, MAX_UPLOAD_BYTES)
    dataset_id = secrets.token_hex(8)
    dest = workspace(request).uploads_dir / "datasets" / dataset_id
    kept = safe_extract_zip(file.filename or "upload.zip", data, dest, DATA_SUFFIXES)
    return DataSetUpload(id=f"dataset:{dataset_id}", files=len(kept))
