"""The studio's gallery routes: list and search, details, files and thumbnails by id only,
ratings, tags, remix recipes, export, and the taste report."""

from __future__ import annotations

import io
import itertools
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from PIL import Image, ImageSequence
from pydantic import BaseModel, Field

from museforge.core.media import UnusableFile, one_line, open_image
from museforge.errors import InputError
from museforge.gallery.recommend import evaluate_gallery_taste
from museforge.gallery.store import COMPANION_ROLES, companions
from museforge.studio.deps import MAX_SQL_INT, workspace
from museforge.studio.schema import (
    ArtworkDetail,
    ArtworkSummary,
    GalleryPage,
    LooksLike,
    Remix,
    Tags,
    Why,
    files,
)
from museforge.studio.workspace import Workspace

router = APIRouter(prefix="/api")
MEDIA_TYPES = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".txt": "text/plain; charset=utf-8",
    ".mid": "audio/midi",
    ".midi": "audio/midi",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".zip": "application/zip",
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
# A mesh's files are for printers and 3D tools, an instrument's zip for a sampler:
# downloads (the viewer fetches the GLB).
DOWNLOADS = (*SANDBOXED, ".glb", ".stl", ".obj", ".zip")
COMPANION_PATTERN = f"^({'|'.join(sorted(COMPANION_ROLES))})$"
THUMB_PX = 192
# An animation's thumbnail keeps at most this many of its frames, evenly spaced, so it moves
# all the way round: a turntable has 18, and a GIF with thousands must not fill memory.
MAX_THUMB_FRAMES = 120
MAX_EXPORT = 1000


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
    gallery = workspace(request).gallery
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
        return _by_meaning(workspace(request), q or "", encoder, filters, limit, offset)
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
    return workspace(request).gallery.sync()


@router.get("/gallery/{art_id}", response_model=ArtworkDetail)
def gallery_detail(art_id: str, request: Request) -> dict[str, Any]:
    gallery = workspace(request).gallery
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
    path = workspace(request).gallery.file_path(art_id)
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
    path = workspace(request).gallery.file_path(art_id)
    found = companions(path)
    path = (
        found.get("roll")
        or found.get("turntable")
        or found.get("preview")
        or found.get("spectrogram")
        or found.get("poster")
        or path
    )
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

    ws = workspace(request)
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

    ws = workspace(request)
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
    gallery = workspace(request).gallery
    if body.clear_like:
        gallery.clear_like(art_id)
    gallery.rate(art_id, stars=body.stars, like=body.like)
    return gallery.get(art_id).summary()


class TagRequest(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


@router.post("/gallery/{art_id}/tags")
def gallery_tags(art_id: str, body: TagRequest, request: Request) -> Tags:
    return Tags(tags=workspace(request).gallery.tag(art_id, add=body.add, remove=body.remove))


@router.get("/gallery/{art_id}/remix")
def gallery_remix(art_id: str, request: Request) -> Remix:
    """The model, verb and settings to re-open in the Create form: the one record of the
    call, with its input files named as the studio names them (gallery ids, uploads)."""
    ws = workspace(request)
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
        path = workspace(request).gallery.export_zip(body.ids, Path(tmp) / "export.zip")
        data = path.read_bytes()
    headers = {"Content-Disposition": 'attachment; filename="museforge-export.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


@router.get("/taste")
def taste_report(request: Request) -> dict[str, Any]:
    """Held-out accuracy of the taste model per modality, with the starter encoder's
    picture vectors where there is one (and the accuracy without them beside it)."""
    ws = workspace(request)
    return evaluate_gallery_taste(ws.gallery, embedder=ws.taste_embedder())
