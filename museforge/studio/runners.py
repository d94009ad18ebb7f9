"""What the studio's jobs do: run a verb into the gallery, or train a model.

Runners take the job's parameters (model names, gallery ids, upload ids — never paths),
report progress through the job context, and return a small JSON-ready result.

Both may run again after the server died under them. A generate job names its files after
itself and puts them in place one by one from a staging folder, so a re-run keeps the files
already in place and adds the rest (the verb's outputs are reproducible from the recorded
seed): nothing is written twice or half. A training job continues from its checkpoint.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from museforge.core.media import IMAGE_SUFFIXES, TEXT_SUFFIXES
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.train import TrainingInterrupted
from museforge.errors import InputError, SettingError
from museforge.gallery.artwork import write_result
from museforge.gallery.store import MODALITIES, Gallery, read_artwork
from museforge.studio.forms import (
    CORPUS_NAME,
    CORPUS_PREFIX,
    field_of,
    studio_verb,
    train_fields,
)
from museforge.studio.jobs import JobCancelled, JobContext
from museforge.studio.workspace import TRAINED, Workspace, staging_dir

PROGRESS_EVERY_S = 0.5
CHECKPOINT_EVERY_S = 10.0  # a killed server loses at most this much training
# What an uploaded data-set zip may hold: pictures, texts, and captions files (the
# imagefolder convention's metadata.jsonl / metadata.csv).
DATA_SUFFIXES = IMAGE_SUFFIXES | TEXT_SUFFIXES | {".jsonl", ".csv"}


def _file_args(ws: Workspace, kind: str, verb: str, args: dict[str, Any]) -> dict[str, Any]:
    """Gallery and upload ids in picture, mesh and music settings turned into files the
    verb can read, of the declared type (and ``corpus:bwvNN.N`` into the corpus name, where
    the setting takes one)."""
    out = dict(args)
    pictures, meshes, sounds = ws.picture_path, ws.mesh_path, ws.sound_path
    by_id = {
        "image": pictures,
        "images": pictures,
        "mesh": meshes,
        "meshes": meshes,
        "sound": sounds,
        "sounds": sounds,
    }
    for setting in studio_verb(kind, verb).settings:
        value = out.get(setting.name)
        if value is None or setting.param.input is None:
            continue
        resolve = by_id.get(setting.param.input)
        if resolve is not None:
            refs = value if isinstance(value, list) else [value]
            paths = [setting.type(resolve(str(v))) for v in refs]
            out[setting.name] = paths if setting.many else paths[0]
        elif setting.param.input == "music":
            out[setting.name] = setting.type(_music_source(ws, field_of(setting), str(value)))
    return out


def _music_source(ws: Workspace, field: dict[str, Any], ref: str) -> str:
    if ref.startswith(CORPUS_PREFIX):
        name = ref.removeprefix(CORPUS_PREFIX)
        if field.get("corpus") and CORPUS_NAME.match(name):
            return name
        raise InputError(f"'{field['label']}': '{ref}' is not a music21 corpus piece offered here")
    return str(ws.music_path(ref))


def run_generate(ws: Workspace, ctx: JobContext) -> dict[str, Any]:
    """Run one verb of one model; save its artworks in the gallery (optionally only the
    ones the taste model likes best), each file once even if the job runs again."""
    from museforge.core.registry import call_verb

    params = ctx.params
    name, verb, args = params["model"], params["verb"], dict(params.get("args") or {})
    ctx.progress(0.05, f"loading {name}")
    loaded = ws.load_model(name)
    files = _file_args(ws, loaded.kind, verb, args)
    ctx.check()
    ctx.progress(0.2, f"{verb}…")
    result = call_verb(loaded, verb, **files)
    keep = params.get("keep")
    if keep:
        result.artworks = _kept(ws, ctx, result.artworks, int(keep))
    ctx.check()
    name_after_job(result, ctx.job_id)
    ids = publish(ws.gallery, result, name, ctx.job_id)
    # What the verb says of its work (solids not printable, a projection's IoU…), if anything.
    message = getattr(result, "message", None)
    return {"ids": ids, "model": name, "verb": verb, "message": message or None}


def run_visualise(ws: Workspace, ctx: JobContext) -> dict[str, Any]:
    """Make a visualisation (a video of a picture model's walk driven by music) and keep it
    in the gallery's visualise/ folder; progress frame by frame, cancellable between."""
    from museforge.crossmodal.visualise import parse_size, visualisation

    params = ctx.params
    name = params["model"]
    ctx.progress(0.02, f"loading {name}")
    loaded = ws.load_model(name)
    music = ws.heard_path(params["music"])
    lyrics = ws.lyrics_path(params["lyrics"]) if params.get("lyrics") else None

    def frame(done: int, total: int) -> None:
        if done % 12 == 0 or done == total:
            ctx.check()
            ctx.progress(0.1 + 0.88 * done / max(total, 1), f"frame {done} of {total}")

    result = visualisation(
        loaded,
        music,
        seed=params["seed"],
        fps=params["fps"],
        size=parse_size(params["size"]),
        prompts=params.get("prompts") or None,
        lyrics=lyrics,
        label=params.get("label"),
        on_frame=frame,
    )
    ctx.progress(0.08, "hearing the music")
    name_after_job(result, ctx.job_id)
    ids = publish(ws.gallery, result, "visualise", ctx.job_id)
    return {"ids": ids, "model": name, "verb": "visualise", "message": result.message}


def _kept(ws: Workspace, ctx: JobContext, artworks: list[Any], keep: int) -> list[Any]:
    """The ``keep`` artworks the taste model likes best, with their scores. The choice is
    saved in the job: a re-run, ranking against a gallery that has changed meanwhile, must
    not pick others beside the ones already written."""
    chosen = ctx.checkpoint.get("kept")
    if chosen is None:
        from museforge.gallery.recommend import rank_artworks, train_taste

        ctx.progress(0.7, "ranking by your taste")
        embedder = ws.taste_embedder()
        taste = train_taste(ws.gallery, ctx.params.get("modality") or "image", embedder)
        ranked = rank_artworks(taste, artworks, embedder)[:keep]
        chosen = [[art.name, round(score, 4)] for art, score in ranked]
        ctx.save_checkpoint({**ctx.checkpoint, "kept": chosen})
    by_name = {art.name: art for art in artworks}
    out = []
    for art_name, score in chosen:
        if art_name in by_name:
            by_name[art_name].provenance["taste_score"] = score
            out.append(by_name[art_name])
    return out


def name_after_job(result: Any, job_id: str) -> None:
    """Prefix every name of ``result`` (its artworks', its stem) with the job's id: the job's
    files then differ from every other job's and are the same on each run of it.
    References between the result's own files (an interpolation's ends) follow."""
    renamed = {}
    for art in result.artworks:
        renamed[f"{art.name}.png"] = f"{job_id}-{art.name}.png"
        art.name = f"{job_id}-{art.name}"
    for art in result.artworks:
        if "ends" in art.provenance:
            art.provenance["ends"] = [renamed.get(e, e) for e in art.provenance["ends"]]
    result.stem = f"{job_id}-{result.stem}"


def publish(gallery: Gallery, result: Any, folder: str, job_id: str) -> list[str]:
    """Write ``result`` into ``gallery/folder`` through a staging folder and index it; the
    ids as :meth:`Gallery.save` gives them (an animation stands for its frames).

    Files are moved into place one by one, each artwork after the files it needs (its
    sidecar, companions), so a file in place is whole and complete. One already in place —
    put there by an earlier run of the same job — is kept, not written again."""
    staging = staging_dir(gallery) / job_id
    shutil.rmtree(staging, ignore_errors=True)  # what a killed earlier run left
    target = gallery.root / folder
    try:
        written = [Path(p).name for p in write_result(result, staging)]
        staged = sorted(p for p in staging.iterdir() if p.is_file())
        staged.sort(key=lambda p: read_artwork(p) is not None)  # stable: artworks last
        target.mkdir(parents=True, exist_ok=True)
        for path in staged:
            if (target / path.name).exists():
                path.unlink()
            else:
                os.replace(path, target / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    indexed = [(target / n, gallery.add(target / n)) for n in written]
    ids = [(p, i) for p, i in indexed if i is not None]
    animations = [i for p, i in ids if MODALITIES.get(p.suffix.lower()) == "animation"]
    return animations if result.frames and animations else [i for _, i in ids]


def resolve_data(ws: Workspace, data: str) -> str:
    """A data set the studio may train on: a built-in name or an uploaded ``dataset:ID``."""
    if data.startswith("dataset:"):
        folder = ws.uploads_dir / "datasets" / data.removeprefix("dataset:")
        if not data.removeprefix("dataset:").isalnum() or not folder.is_dir():
            raise InputError(f"no uploaded data set '{data}'")
        return f"folder:{folder}"
    if ":" in data or "/" in data or "\\" in data:
        raise InputError(f"'{data}' is not a built-in data set or an uploaded one")
    return data


def model_settings(ws: Workspace, kind: str, settings: dict[str, str]) -> dict[str, Any]:
    """The Train page's settings of ``kind`` (forms.train_fields) as the recipe's model
    table: a model named as the studio names it becomes its folder, once checked to be of
    the field's kind; a choice is checked against its values. A refused value is a
    SettingError naming its field."""
    fields = {f.name: f for f in train_fields(kind)}
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise InputError(f"training a {kind} takes no setting(s) {', '.join(unknown)}")
    model: dict[str, Any] = {}
    for field in fields.values():
        value = settings.get(field.name)
        if not value:
            if field.missing:
                raise SettingError(field.missing, field.name)
            continue
        if field.model_kind:
            try:
                folder = ws.model_path(value, kind=field.model_kind)
            except InputError as err:
                raise SettingError(f"'{field.label}': {err}", field.name) from None
            model[field.name] = str(folder.resolve())
        elif value in field.choices:
            model[field.name] = value
        else:
            choices = ", ".join(field.choices)
            raise SettingError(f"'{field.label}' must be one of {choices}", field.name)
    return model


def train_recipe(ws: Workspace, params: dict[str, Any]) -> Recipe:
    """The Recipe of a training job's parameters, its names (data set, models) resolved on
    the server."""
    training = {"style": params["style"]} if params.get("style") else {}
    run: dict[str, Any] = {"preview_every": 50, "checkpoint_every": CHECKPOINT_EVERY_S}
    if params.get("steps"):
        run["steps"] = int(params["steps"])
    else:
        run["time_budget"] = params.get("time_budget") or "2m"
    kind = params["kind"]
    model = model_settings(ws, kind, params.get("settings") or {})
    data = resolve_data(ws, params["data"])
    return Recipe(kind, data, model=model, training=training, run=run)


def run_train(ws: Workspace, ctx: JobContext) -> dict[str, Any]:
    """Train a model with the shared Trainer, streaming loss; cancel saves a checkpoint
    that a resumed job continues from."""
    params = ctx.params
    name = str(params["name"])
    out = ws.trained_dir / name
    recipe = train_recipe(ws, params)
    budget = recipe.settings()
    start, last = time.monotonic(), 0.0

    def on_step(step: int, metrics: dict[str, float]) -> None:
        nonlocal last
        if ctx.cancelled:
            raise KeyboardInterrupt  # the Trainer saves a checkpoint and stops cleanly
        now = time.monotonic()
        if now - last < PROGRESS_EVERY_S:
            return
        last = now
        if budget.steps:
            fraction = step / budget.steps
        else:
            fraction = (now - start) / float(budget.time_budget or 1)
        values = {k: round(float(v), 5) for k, v in metrics.items()}
        preview = _latest_preview(out)
        ctx.progress(min(fraction, 0.99), f"step {step}", step=step, preview=preview, **values)

    resume = bool(params.get("resume")) and (out / "checkpoint.pt").exists()
    try:
        result = train_from_recipe(
            recipe, out=out, resume=resume, progress=False, callbacks=[on_step], notify=ctx.log
        )
    except TrainingInterrupted:
        raise JobCancelled("training cancelled; resume to continue") from None
    return {
        "model": TRAINED + name,
        "steps": result.step,
        "seconds": round(result.elapsed, 1),
        "metrics": {k: round(float(v), 5) for k, v in result.metrics.items()},
        "outlook": result.outlook,
    }


def _latest_preview(out: Path) -> str | None:
    previews = sorted((out / "previews").glob("step-*.png"))
    return previews[-1].stem if previews else None
