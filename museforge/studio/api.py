"""The studio's JSON API: thin routes over the workspace, the gallery and the job queue.

State-changing routes are POSTs (the security middleware demands the launch token for
them); files are served only by gallery id.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from PIL import Image, ImageSequence
from pydantic import BaseModel, Field

from museforge.core.media import UnusableFile, one_line, open_image
from museforge.core.registry import get_kind
from museforge.errors import DataError, InputError
from museforge.gallery.recommend import evaluate_gallery_taste
from museforge.gallery.store import COMPANION_ROLES, companions
from museforge.studio.forms import coerce_args, kind_forms
from museforge.studio.jobs import Job, JobQueue, sse_format
from museforge.studio.runners import DATA_SUFFIXES, model_settings
from museforge.studio.schema import (
    EVENT_STREAM,
    ArtworkDetail,
    ArtworkIds,
    ArtworkSummary,
    DataSetEntry,
    DataSetUpload,
    GalleryPage,
    JobBody,
    KindForm,
    LooksLike,
    ModelEntry,
    Remix,
    Tags,
    UploadRef,
    VerseMarks,
    Vocabulary,
    Why,
    files,
)
from museforge.studio.uploads import (
    MAX_MESH_UPLOAD_BYTES,
    MAX_MUSIC_UPLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    read_capped,
    safe_extract_zip,
)
from museforge.studio.workspace import Workspace

router = APIRouter(prefix="/api")  # its error answers are documented by app.py
MEDIA_TYPES = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".txt": "text/plain; charset=utf-8",
    ".mid": "audio/midi",
    ".midi": "audio/midi",
    ".wav": "audio/wav",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".glb": "model/gltf-binary",
    ".stl": "model/stl",
    ".obj": "model/obj",
}
# Files that may carry scripts (SVG, PDF): sent as downloads under a CSP that runs nothing.
SANDBOXED = (".svg", ".pdf")
# A mesh's files are for printers and 3D tools: downloads (the viewer fetches the GLB).
DOWNLOADS = (*SANDBOXED, ".glb", ".stl", ".obj")
COMPANION_PATTERN = f"^({'|'.join(sorted(COMPANION_ROLES))})$"
THUMB_PX = 192
# An animation's thumbnail keeps at most this many of its frames, evenly spaced, so it moves
# all the way round: a turntable has 18, and a GIF with thousands must not fill memory.
MAX_THUMB_FRAMES = 120
MAX_EXPORT = 1000
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SSE_WAIT_S = 15.0
# SQLite's largest integer: an event number or offset past it cannot be looked up (a 422,
# not an OverflowError from the database).
MAX_SQL_INT = 2**63 - 1


def _ws(request: Request) -> Workspace:
    return request.app.state.workspace


def _jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


def _job(request: Request, job_id: str) -> Job:
    """The job called ``job_id``; a 404 (an InputError starting "no ") if there is none."""
    try:
        return _jobs(request).get(job_id)
    except InputError:
        raise InputError(f"no job {job_id!r}") from None


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
    return _ws(request).models()


@router.get("/models/{name:path}/vocabulary")
def model_vocabulary(name: str, request: Request) -> Vocabulary:
    """The caption words a model learnt from, per language, commonest first (text-to-image
    models record them; other models have none), and whether each list is complete."""
    manifest = _manifest(_ws(request).model_path(name))
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

    folder = _ws(request).model_path(body.model, kind="text-lm")
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

    ws = _ws(request)
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


@router.post("/generate")
def generate(
    body: GenerateRequest,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, str]:
    ws = _ws(request)
    kind = next((m["kind"] for m in ws.models() if m["name"] == body.model), None)
    if kind is None:
        raise InputError(f"no model called '{body.model}' (see the Models page)")
    args = coerce_args(kind, body.verb, body.args)
    params = {"model": body.model, "verb": body.verb, "args": args}
    if body.keep:
        params |= {"keep": body.keep, "modality": get_kind(kind).modality}
    job_id, new = _jobs(request).submit_keyed("generate", params, idempotency_key)
    if not new:
        response.headers["Idempotent-Replayed"] = "true"
    return {"job": job_id}


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
    earlier = idempotency_key and _jobs(request).keyed("train", params, idempotency_key)
    if earlier:
        response.headers["Idempotent-Replayed"] = "true"
        return {"job": earlier}
    if not _NAME.match(body.name):
        raise InputError("model name: lower-case letters, digits and '-', at most 40")
    spec = get_kind(body.kind)
    if spec.task_factory is None:
        raise InputError(f"model kind '{body.kind}' cannot be trained")
    parse_duration(body.time_budget)  # refuse a bad budget now, not inside the job
    model_settings(_ws(request), body.kind, body.settings)  # the job resolves them again
    if (_ws(request).trained_dir / body.name / "model.json").exists():
        raise InputError(f"a trained model called '{body.name}' exists; choose another name")
    job_id, new = _jobs(request).submit_keyed("train", params, idempotency_key)
    if not new:  # the same request raced in meanwhile
        response.headers["Idempotent-Replayed"] = "true"
    return {"job": job_id}


def _job_json(job: Any) -> dict[str, Any]:
    return dict(job.__dict__)


@router.get("/jobs", response_model=list[JobBody])
def list_jobs(request: Request, limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    return [_job_json(j) for j in _jobs(request).list(limit)]


@router.get("/jobs/{job_id}", response_model=JobBody)
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    return _job_json(_job(request, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobBody)
def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
    _job(request, job_id)  # an unknown id is a 404, not a refusal
    _jobs(request).cancel(job_id)
    return _job_json(_jobs(request).get(job_id))


@router.post("/jobs/{job_id}/resume", response_model=JobBody)
def resume_job(job_id: str, request: Request) -> dict[str, Any]:
    _job(request, job_id)
    _jobs(request).resume(job_id)
    return _job_json(_jobs(request).get(job_id))


@router.get("/jobs/{job_id}/events", response_class=Response, responses=EVENT_STREAM)
async def job_events(
    job_id: str, request: Request, after: int = Query(0, ge=0, le=MAX_SQL_INT)
) -> StreamingResponse:
    """Server-sent events; a reconnecting page resumes after its Last-Event-ID."""
    queue = _jobs(request)
    _job(request, job_id)  # unknown id: 404 before the stream starts
    last = request.headers.get("last-event-id", "")
    # Only an id a stream could have sent: "²" is a digit to isdigit() but not to int().
    if last.isascii() and last.isdigit() and len(last) < len(str(MAX_SQL_INT)):
        after = max(after, int(last))
    finished = {"done", "failed", "cancelled", "interrupted"}

    async def stream():
        seq = after
        while not await request.is_disconnected():
            events = queue.events(job_id, seq)
            if not events:
                if queue.get(job_id).state in finished:
                    return
                events = await asyncio.to_thread(queue.wait_events, job_id, seq, SSE_WAIT_S)
            for event in events:
                seq = event.seq
                yield sse_format(event)
                # End with the job: an open stream would hold a thread, and the server's
                # shutdown, for up to SSE_WAIT_S. A job interrupted by a restart is queued
                # again at once: it is followed on; one resumed by hand, with a new stream.
                if (
                    event.type == "state"
                    and event.data.get("state") in finished
                    and queue.get(job_id).state in finished
                ):
                    return
            if not events:
                yield ": keep-alive\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get(
    "/jobs/{job_id}/preview",
    response_class=Response,
    responses=files("The latest preview picture", "image/png"),
)
def job_preview(job_id: str, request: Request) -> FileResponse:
    """The latest preview picture of a training job (chosen by the server)."""
    job = _job(request, job_id)
    if job.kind != "train":
        raise InputError(f"job {job_id} is not a training job")
    folder = _ws(request).trained_dir / str(job.params["name"]) / "previews"
    previews = sorted(folder.glob("step-*.png"))
    if not previews:
        raise InputError(f"job {job_id} has no preview yet")
    return FileResponse(previews[-1], media_type="image/png", headers={"Cache-Control": "no-store"})


# --- uploads -------------------------------------------------------------------------------
@router.post("/uploads")
async def upload_picture(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    data = await read_capped(file, MAX_UPLOAD_BYTES)
    return UploadRef(id=_ws(request).save_upload(file.filename or "picture", data))


@router.post("/uploads/music")
async def upload_music(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    """A MIDI or MusicXML file for a music verb (checked: size, header, events, notes)."""
    data = await read_capped(file, MAX_MUSIC_UPLOAD_BYTES)
    save = _ws(request).save_music_upload
    return UploadRef(id=await asyncio.to_thread(save, file.filename or "music.mid", data))


@router.post("/uploads/mesh")
async def upload_mesh(request: Request, file: Annotated[UploadFile, File()]) -> UploadRef:
    """An STL, OBJ, PLY, OFF or GLB file for a sculpture verb (checked: size, faces, that it
    reads as a surface mesh)."""
    data = await read_capped(file, MAX_MESH_UPLOAD_BYTES)
    save = _ws(request).save_mesh_upload
    return UploadRef(id=await asyncio.to_thread(save, file.filename or "mesh.stl", data))


@router.post("/datasets")
async def upload_dataset(request: Request, file: Annotated[UploadFile, File()]) -> DataSetUpload:
    """A zip of pictures or texts to train on; its id for the Train form."""
    data = await read_capped(file, MAX_UPLOAD_BYTES)
    dataset_id = secrets.token_hex(8)
    dest = _ws(request).uploads_dir / "datasets" / dataset_id
    kept = safe_extract_zip(file.filename or "upload.zip", data, dest, DATA_SUFFIXES)
    return DataSetUpload(id=f"dataset:{dataset_id}", files=len(kept))


# --- gallery -------------------------------------------------------------------------------
@router.get("/gallery", response_model=GalleryPage, response_model_exclude_unset=True)
def gallery_list(
    request: Request,
    q: str | None = None,
    modality: str | None = None,
    model: str | None = None,
    min_stars: int | None = Query(None, ge=0, le=5),
    liked: bool | None = None,
    tag: str | None = None,
    since: float | None = None,
    until: float | None = None,
    frames: bool = False,
    meaning: bool = False,
    encoder: str | None = None,
    limit: int = Query(60, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_SQL_INT),
) -> dict[str, Any]:
    """Artworks newest first; an animation's frames only with ``frames`` (else its GIF
    stands for them). With ``meaning``, the pictures among them ranked by how well they fit
    ``q`` (a text–image encoder's cosine; ``encoder`` names one, else a starter's)."""
    gallery = _ws(request).gallery
    filters = {
        "modality": modality,
        "model": model,
        "min_stars": min_stars,
        "liked": liked,
        "tag": tag,
        "since": since,
        "until": until,
        "frames": frames,
    }
    if meaning:
        return _by_meaning(_ws(request), q or "", encoder, filters, limit, offset)
    records = gallery.list(text=q, **filters, limit=limit, offset=offset)
    return {"items": [r.summary() for r in records], "total": gallery.count(frames=frames)}


def _by_meaning(
    ws: Workspace, query: str, encoder: str | None, filters: dict[str, Any], limit: int, offset: int
) -> dict[str, Any]:
    """One page of the filtered pictures, the best fit to ``query`` first, with scores."""
    from museforge.gallery.meaning import MAX_RANKED, clean_query, rank

    query = clean_query(query)  # an empty query is refused before an encoder is loaded
    embedder = ws.embedder(encoder)
    ranking = rank(ws.gallery, embedder, query, ws.gallery.list(**filters, limit=MAX_RANKED))
    page = ranking.matches[offset : offset + limit]
    return {
        "items": [{**m.record.summary(), "score": round(m.score, 4)} for m in page],
        "total": ws.gallery.count(frames=filters["frames"]),
        "ranked": len(ranking.matches),
        "encoder": embedder.name,
        "note": ranking.note,
    }


@router.post("/gallery/sync")
def gallery_sync(request: Request) -> dict[str, int]:
    return _ws(request).gallery.sync()


@router.get("/gallery/{art_id}", response_model=ArtworkDetail)
def gallery_detail(art_id: str, request: Request) -> dict[str, Any]:
    gallery = _ws(request).gallery
    record = gallery.get(art_id)
    frames = [f.summary() for f in gallery.frames(art_id)]
    stills = {f["id"] for f in frames}
    children = [c.summary() for c in gallery.children(art_id) if c.id not in stills]
    annotation = None
    if record.modality == "text" and record.text:
        from museforge.text.annotate import annotate_poem

        prov = record.provenance
        form = prov.get("form") if isinstance(prov.get("form"), dict) else {}
        book = form.get("rhyme_book") if form.get("rhyme_book") in ("xinyun", "pingshui") else None
        annotation = annotate_poem(record.text, prov.get("language"), book)
    return {
        **record.summary(),
        "annotation": annotation,
        "companions": sorted(companions(gallery.root / record.path)),
        "provenance": record.provenance,
        "parents": gallery.parents(art_id),
        "frames": frames,  # an animation's stills, in order; its other children below
        "children": children,
    }


@router.get(
    "/gallery/{art_id}/file",
    response_class=Response,
    responses=files("The file", *MEDIA_TYPES.values(), "application/octet-stream"),
)
def gallery_file(
    art_id: str,
    request: Request,
    companion: str | None = Query(None, pattern=COMPANION_PATTERN),
) -> FileResponse:
    """The artwork's file, or one of its companions (music: audio, score, roll and the
    engraving's pdf, sheet (PNG) and svg; a sprite sheet: its atlas; set type: its SVG
    outline; a mesh: stl, obj, preview (PNG) and turntable (GIF)). SVG and PDF are sent as
    downloads that run nothing; a mesh's GLB, STL and OBJ as downloads."""
    path = _ws(request).gallery.file_path(art_id)
    if companion is not None:
        found = companions(path)
        if companion not in found:
            raise InputError(f"no {companion} for artwork {art_id}")
        path = found[companion]
    suffix = path.suffix.lower()
    media = MEDIA_TYPES.get(suffix, "application/octet-stream")
    if suffix in DOWNLOADS:
        headers = {}
        if suffix in SANDBOXED:  # may carry scripts: never run from our origin
            headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return FileResponse(path, media_type=media, headers=headers, filename=path.name)
    return FileResponse(path, media_type=media)


def _thumb_size(img: Image.Image) -> Image.Image:
    img = img.convert("RGBA" if img.mode == "RGBA" else "RGB")  # transparency kept
    scale = THUMB_PX / max(img.size)
    if scale > 1:  # small samples (28 px digits) are enlarged crisply
        size = (round(img.width * scale), round(img.height * scale))
        return img.resize(size, Image.Resampling.NEAREST)
    img.thumbnail((THUMB_PX, THUMB_PX))
    return img


@router.get(
    "/gallery/{art_id}/thumb",
    response_class=Response,
    responses=files("A small picture", "image/png", "image/gif"),
)
def gallery_thumb(art_id: str, request: Request) -> Response:
    """A small picture of the artwork: music shows its piano roll; an animation is a
    small GIF that moves as the animation does, and so is a mesh's turntable (else its
    still preview)."""
    path = _ws(request).gallery.file_path(art_id)
    found = companions(path)
    path = found.get("roll") or found.get("turntable") or found.get("preview") or path
    if path.suffix.lower() not in {".png", ".gif"}:
        raise InputError(f"artwork {art_id} is not a picture")
    buf = io.BytesIO()
    # A gallery file may come from anywhere: the checked opener (formats, pixel limit), and
    # a file that breaks while decoding is a one-line error, not a server error.
    try:
        with open_image(path) as img:
            step = -(-getattr(img, "n_frames", 1) // MAX_THUMB_FRAMES)  # ceiling
            sequence = itertools.islice(ImageSequence.Iterator(img), 0, None, step)
            frames = [_thumb_size(frame) for frame in sequence]
            frame_ms = img.info.get("duration", 80) * step
    except UnusableFile as err:
        raise InputError(f"{path.name} (artwork {art_id}) {err}") from None
    except Exception as err:
        why = one_line(err)
        raise InputError(f"{path.name} (artwork {art_id}) cannot be decoded ({why})") from None
    if len(frames) == 1:
        frames[0].save(buf, format="PNG")
        return Response(buf.getvalue(), media_type="image/png")
    first, rest = frames[0], frames[1:]
    first.save(buf, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0)
    return Response(buf.getvalue(), media_type="image/gif")


@router.get("/gallery/{art_id}/looks-like", response_model=LooksLike)
def gallery_looks_like(
    art_id: str,
    request: Request,
    lang: str = Query("en", pattern="^[a-z]{2}$"),
    encoder: str | None = None,
) -> dict[str, Any]:
    """Zero-shot tags: the five captions of the encoder's training set (in ``lang``) that
    fit the picture best, with their cosines."""
    from museforge.gallery.meaning import looks_like

    ws = _ws(request)
    record = ws.gallery.get(art_id)
    embedder = ws.embedder(encoder)
    found = looks_like(ws.gallery, embedder, record, embedder.labels(lang))
    labels = [{"label": text, "score": round(score, 4)} for text, score in found]
    return {"id": art_id, "encoder": embedder.name, "labels": labels}


@router.get("/gallery/{art_id}/why", response_model=Why)
def gallery_why(
    art_id: str, request: Request, lang: str = Query("en", pattern="^[a-z]{2}$")
) -> dict[str, Any]:
    """Why the taste model would recommend the artwork: its score, the liked artworks
    nearest to it, and the starter encoder's captions (in ``lang``) closest to the taste;
    without an encoder, the descriptors alone and a note instead of words."""
    from museforge.gallery.explain import explain

    ws = _ws(request)
    record = ws.gallery.get(art_id)
    embedder = ws.taste_embedder()
    # The captions are read only where they are used: a picture, with an encoder.
    picture = embedder is not None and record.modality == "image"
    labels = embedder.labels(lang) if picture else []
    found = explain(ws.gallery, record, embedder, labels)
    return {
        "id": art_id,
        "score": round(found.score, 4),
        "encoder": embedder.name if found.encoder else None,
        "nearest": [{**r.summary(), "cosine": round(c, 4)} for r, c in found.nearest],
        "words": [{"label": t, "score": round(s, 4)} for t, s in found.words],
        "note": found.note,
    }


class RateRequest(BaseModel):
    stars: int | None = Field(default=None, ge=0, le=5)
    like: bool | None = None
    clear_like: bool = False


@router.post("/gallery/{art_id}/rate", response_model=ArtworkSummary)
def gallery_rate(art_id: str, body: RateRequest, request: Request) -> dict[str, Any]:
    gallery = _ws(request).gallery
    if body.clear_like:
        gallery.clear_like(art_id)
    gallery.rate(art_id, stars=body.stars, like=body.like)
    return gallery.get(art_id).summary()


class TagRequest(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


@router.post("/gallery/{art_id}/tags")
def gallery_tags(art_id: str, body: TagRequest, request: Request) -> Tags:
    return Tags(tags=_ws(request).gallery.tag(art_id, add=body.add, remove=body.remove))


@router.get("/gallery/{art_id}/remix")
def gallery_remix(art_id: str, request: Request) -> Remix:
    """The model, verb and settings to re-open in the Create form: the one record of the
    call, with its input files named as the studio names them (gallery ids, uploads)."""
    ws = _ws(request)
    recipe = ws.gallery.remix(art_id)
    # The model's place comes from the artwork's provenance, which anyone may have written.
    model = recipe["model"]
    name = ws.model_name(model) if isinstance(model, str) else None
    if name is None:
        raise InputError(f"artwork {art_id} was not made by a model this studio has")
    args = ws.refs_for_inputs(recipe["kind"], recipe["verb"], recipe["args"])
    return Remix(id=art_id, model=name, verb=recipe["verb"], args=args)


class ExportRequest(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=MAX_EXPORT)


@router.post(
    "/gallery/export",
    response_class=Response,
    responses=files("A zip of the artworks with a manifest", "application/zip"),
)
def gallery_export(body: ExportRequest, request: Request) -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        path = _ws(request).gallery.export_zip(body.ids, Path(tmp) / "export.zip")
        data = path.read_bytes()
    headers = {"Content-Disposition": 'attachment; filename="museforge-export.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


@router.get("/taste")
def taste_report(request: Request) -> dict[str, Any]:
    """Held-out accuracy of the taste model per modality, with the starter encoder's
    picture vectors where there is one (and the accuracy without them beside it)."""
    ws = _ws(request)
    return evaluate_gallery_taste(ws.gallery, embedder=ws.taste_embedder())
