"""Provenance embedded in output files, so any artwork can be re-made and bred later.

PNG files carry one ``iTXt`` chunk named ``museforge`` holding JSON: the model's hash and
kind, the verb, its arguments and the latent itself (exact text: see
:func:`museforge.core.latent.encode_latent`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from museforge.core.atomic import atomic_write_text, atomic_write_with
from museforge.core.media import UnusableFile, one_line, open_image
from museforge.errors import InputError

PNG_KEY = "museforge"
# A record is a few KB (a latent of 512 floats is under 3 KB of base64); a sidecar far
# larger than this cap is not one of ours.
MAX_SIDECAR_BYTES = 16_000_000


def save_png(
    path: str | Path, image: Image.Image, provenance: dict[str, Any], dpi: int | None = None
) -> Path:
    """Write ``image`` as PNG with ``provenance`` embedded (and its print resolution, when
    given), atomically."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_KEY, json.dumps(provenance, sort_keys=True), zip=True)
    info.add_text("Software", "museforge")
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    return atomic_write_with(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info, **extra))


# Files an artwork's picture may have beside it (the gallery serves them with it): a
# sprite sheet's atlas, a set word's SVG outline.
ATLAS_SUFFIX = ".atlas.json"
PICTURE_COMPANIONS = {"atlas": ATLAS_SUFFIX, "svg": ".svg"}
# a piece's engraved score beside its MIDI: role → suffix (NAME.score.pdf, …)
SCORE_COMPANIONS = {"pdf": ".score.pdf", "sheet": ".score.png", "svg": ".score.svg"}
# a mesh's other files beside its GLB: role → suffix (NAME.stl, …); the preview PNG records
# "modality": "mesh" and the turntable GIF has no sidecar, so neither is an artwork itself
# a sound's spectrogram beside its WAV (it records "modality": "sound": no artwork itself);
# an instrument's SFZ and the zip of it with its samples, for a sampler
SOUND_COMPANIONS = {"spectrogram": ".png", "sfz": ".sfz", "instrument": ".sfz.zip"}
# a video's middle frame beside its MP4 (it records "modality": "video": no artwork itself)
VIDEO_COMPANIONS = {"poster": ".png"}
MESH_COMPANIONS = {
    "stl": ".stl",
    "obj": ".obj",
    "preview": ".png",
    "turntable": ".turntable.gif",
}


def parent_record(path: str | Path) -> dict[str, str]:
    """How an artwork's provenance names a file it was made from: its name and the sha256
    of its bytes (the gallery's lineage finds it again by either)."""
    path = Path(path)
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _refusal(message: str) -> InputError:
    # file names and recorded values are anyone's text: keep the message on one line
    return InputError(one_line(message))


def _record(text: str, where: str) -> dict[str, Any]:
    """The provenance record in JSON ``text``; InputError naming ``where`` otherwise."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; deep nesting
        raise _refusal(f"{where}: its museforge provenance is not valid JSON") from None
    if not isinstance(record, dict):
        raise _refusal(f"{where}: its museforge provenance is not a JSON object")
    return record


def read_png_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance embedded in a museforge PNG, or an InputError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise _refusal(f"'{path}' does not exist or is not a file")
    try:
        with open_image(path) as img:  # picture formats only, header checked for size
            if img.format != "PNG":
                raise _refusal(f"'{path}' is not a PNG file (it is {img.format})")
            # img.text decodes the whole picture: a truncated or corrupt file is refused
            # here (the gallery relies on it), within open_image's pixel cap
            text = img.text.get(PNG_KEY)
    except UnusableFile as err:
        raise _refusal(f"'{path}' is not a readable image (it {err})") from None
    except InputError:
        raise
    # decoding the rest of an untrusted file raises many types; each means "unreadable"
    except Exception as err:
        raise _refusal(f"'{path}' is not a readable image ({one_line(err)})") from None
    if not isinstance(text, str):
        raise _refusal(f"'{path}' carries no museforge provenance (not made by museforge?)")
    return _record(text, f"'{path}'")


def sidecar_path(path: str | Path) -> Path:
    """The provenance sidecar of a file that cannot embed it: ``poem.txt`` → ``poem.txt.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def save_sidecar(path: str | Path, provenance: dict[str, Any]) -> Path:
    """Write the JSON provenance sidecar of ``path`` (a file that cannot embed it)."""
    text = json.dumps(provenance, indent=2, sort_keys=True, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (valid JSON, not UTF-8): escape it all
        text = json.dumps(provenance, indent=2, sort_keys=True)
    return atomic_write_text(sidecar_path(path), text + "\n")


def save_text(path: str | Path, text: str, provenance: dict[str, Any]) -> Path:
    """Write ``text`` (UTF-8, newline-terminated) and its provenance sidecar, atomically.

    A plain-text poem has nowhere invisible to keep metadata, so it travels with a JSON
    sidecar; the sidecar is written first so a text file never exists without it.
    """
    path = Path(path)
    save_sidecar(path, {**provenance, "file": path.name})
    return atomic_write_text(path, text if text.endswith("\n") else text + "\n")


def read_text_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance sidecar of a museforge text file, or an InputError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise _refusal(f"'{path}' does not exist or is not a file")
    side = sidecar_path(path)
    if not side.is_file():
        raise _refusal(f"'{path}' has no provenance sidecar '{side.name}' (not from museforge?)")
    try:
        size = side.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            limit = f"{size:,} bytes, limit {MAX_SIDECAR_BYTES:,}"
            raise _refusal(f"'{side}': provenance is too large ({limit})")
        text = side.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _refusal(f"'{side}': provenance is not valid JSON (not UTF-8)") from None
    except OSError as err:
        raise _refusal(f"'{side}' cannot be read ({err.strerror or err})") from None
    return _record(text, f"'{side}'")


def read_latent_parent(
    path: str | Path, model_sha256: str, model_short: str, z_dim: int, same_model_hint: str
) -> tuple[dict[str, Any], Any, str]:
    """(provenance, latent, file sha256) of an artwork made by the model ``model_sha256``
    (a PNG, or a file with a provenance sidecar such as a mesh's GLB), for the verbs that
    start from an artwork's latent (breed, mutate); a one-line error saying why not
    (another model — ``same_model_hint`` says what to do —, no latent, a latent of the
    wrong size)."""
    from museforge.core.latent import decode_latent

    png = Path(path).suffix.lower() == ".png"
    prov = read_png_provenance(path) if png else read_text_provenance(path)
    model = prov.get("model")
    made_by = model.get("sha256") if isinstance(model, dict) else None
    if made_by != model_sha256:
        raise _refusal(
            f"'{path}' was made by model {str(made_by)[:12]}, not by this model "
            f"({model_short}); {same_model_hint}"
        )
    if "latent" not in prov:
        raise _refusal(f"'{path}' records no latent, so it cannot be bred")
    try:
        z = decode_latent(prov["latent"])
    except InputError as err:
        raise _refusal(f"'{path}': {err}") from None
    if z.numel() != z_dim:
        raise _refusal(f"'{path}': its latent has {z.numel()} values, not {z_dim}")
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as err:
        raise _refusal(f"'{path}' cannot be read ({err.strerror or err})") from None
    return prov, z, digest
