"""Making an artwork again from the call its provenance records (``gallery remix --run``).

A provenance is JSON anyone can write: a stranger's PNG may name any model folder and any
input file on this disk. So the model must be the very one recorded (its weights' sha256),
and every input file must lie in the gallery folder (its uploads included); a setting that
names no file (a corpus piece, a built-in picture) is passed on as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from museforge.errors import InputError
from museforge.gallery.entry import inside
from museforge.gallery.store import Gallery


def _names_outside(root: Path, value: str) -> bool:
    """Whether ``value`` names a file or folder outside ``root`` (links resolved)."""
    path = Path(value)
    if inside(root, path) is not None:
        return False
    return path.is_absolute() or "/" in value or os.sep in value or path.exists()


def check_inputs(root: Path, kind: str, verb: str, args: dict[str, Any], art_id: str) -> None:
    """An InputError when a recorded input file of ``verb`` lies outside the gallery."""
    from museforge.core.registry import get_verb

    for setting in get_verb(kind, verb).settings:
        value = args.get(setting.name)
        if setting.param.input is None or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _names_outside(root, item):
                raise InputError(
                    f"artwork {art_id}: its '{setting.name}' names '{item}', outside the "
                    f"gallery '{root}'; copy that file into the gallery to remix it"
                )


def _check_model(art_id: str, model: Path, recorded: str | None, found: Any) -> None:
    if not recorded:
        raise InputError(
            f"artwork {art_id} records no model sha256, so its model cannot be checked"
        )
    if found != recorded:
        raise InputError(
            f"model '{model}' is not the one that made artwork {art_id} (its weights' sha256 "
            f"is {str(found)[:12]}…, the artwork records {recorded[:12]}…)"
        )


def remake(gallery: Gallery, art_id: str, seed: int | None = None) -> list[str]:
    """Run the recorded call of artwork ``art_id`` again (with another ``seed``, if given)
    and save the result beside it, each new artwork recording ``remix_of``; their ids."""
    from museforge.core.artifact import load_artifact, read_manifest
    from museforge.core.registry import call_verb

    recipe = gallery.remix(art_id)
    if not recipe["model"] or not recipe["verb"]:
        raise InputError(f"artwork {art_id} was not made by a model verb, so it cannot be re-run")
    model = Path(recipe["model"])
    manifest = read_manifest(model)
    weights = manifest["weights"] if isinstance(manifest["weights"], dict) else {}
    _check_model(art_id, model, recipe["model_sha256"], weights.get("sha256"))
    check_inputs(gallery.root, str(manifest["kind"]), recipe["verb"], recipe["args"], art_id)
    loaded = load_artifact(model)
    _check_model(art_id, model, recipe["model_sha256"], loaded.sha256)  # replaced meanwhile?
    args = dict(recipe["args"])
    if seed is not None:
        args["seed"] = seed
    result = call_verb(loaded, recipe["verb"], **args)
    record = gallery.get(art_id)
    for art in result.artworks:
        art.provenance["remix_of"] = {"id": record.id, "sha256": record.sha256}
    return gallery.save(result, Path(record.path).parent.as_posix())
