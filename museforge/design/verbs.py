"""The design verbs of picture models: ``sheet`` (a sprite sheet with its atlas), with
palette control and team colours for the sprites on it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import torch
from PIL import Image

from museforge.core.artifact import MANIFEST_FILE, LoadedModel, load_artifact
from museforge.core.artwork import Artwork, Result
from museforge.core.grid import on_white, to_pil
from museforge.core.latent import draw_labels, draw_latents, slerp
from museforge.core.media import read_image
from museforge.core.verbs import SEED, Param
from museforge.design.palette import (
    MAX_COLOURS,
    MAX_SCALE,
    clear_haze,
    quantise,
    read_palette,
    team_colour,
    upscale,
)
from museforge.design.results import PictureFiles
from museforge.design.scene import GROUNDS, compose, ground_tile
from museforge.design.sheets import atlas, lay_out
from museforge.design.typeset import (
    LAYOUTS,
    characters_drawn,
    check_text,
    logo,
    monogram,
    potrace_missing,
    set_text,
    specimen,
    trace_svg,
)
from museforge.errors import InputError
from museforge.gallery.provenance import ATLAS_SUFFIX, parent_record
from museforge.image.verbs import (
    PICTURE_KINDS,
    Label,
    Truncation,
    check_label,
    generate_images,
    typical_latents,
)

MAX_SPRITES = 256
TEAM = Param("team colour for magenta parts: red, blue, … or #rrggbb")


def finish(
    picture: Image.Image,
    team: str = "",
    colours: int = 0,
    palette: list[tuple[int, int, int]] | None = None,
    scale: int = 1,
) -> Image.Image:
    """A picture cleared of near-transparent haze, recoloured to a team colour, reduced to
    a palette and enlarged pixel for pixel, in that order; each step but the first only
    when asked."""
    if colours and palette:
        raise InputError("give colours or a palette, not both")
    picture = clear_haze(picture)
    if team:
        picture = team_colour(picture, team)
    if colours:
        picture = quantise(picture, colours=colours)
    elif palette:
        picture = quantise(picture, palette=palette)
    return upscale(picture, scale)


def sheet(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many sprites", min=1, max=MAX_SPRITES)] = 16,
    seed: Annotated[int, SEED] = 0,
    label: Label = None,
    walk_to: Annotated[
        int | None, Param("a walk from seed to this seed in n frames, not n variations")
    ] = None,
    columns: Annotated[int, Param("sprites a row (0: a square-ish sheet)", min=0, max=64)] = 0,
    truncation: Truncation = 1.0,
    team: Annotated[str, TEAM] = "",
    colours: Annotated[
        int, Param(f"reduce to this many colours (0: keep; 2-{MAX_COLOURS})", min=0)
    ] = 0,
    palette: Annotated[str, Param("reduce to a palette: #rrggbb,… or a .gpl/.hex/picture")] = "",
    scale: Annotated[
        int, Param("enlarge each pixel to a block this wide", min=1, max=MAX_SCALE)
    ] = 1,
) -> PictureFiles:
    """``n`` sprites (variations of ``seed``, or a walk to ``walk_to``) on one transparent
    sheet, with a JSON atlas beside it that Phaser, PixiJS, Godot or Unity import."""
    if colours == 1 or colours > MAX_COLOURS:
        raise InputError(f"colours must be 0 (keep) or 2..{MAX_COLOURS} (got {colours})")
    check_label(loaded, label)
    model = loaded.model
    if walk_to is None:
        z = typical_latents(model.z_dim, seed, n, truncation)
        labels = draw_labels(model.num_classes, seed, n, label)
        names = [f"sprite-{i:03d}" for i in range(n)]
    else:
        a, b = (typical_latents(model.z_dim, s, 1, truncation)[0] for s in (seed, walk_to))
        steps = [i / max(1, n - 1) for i in range(n)]
        z = torch.stack([slerp(a, b, t) for t in steps])
        first = draw_labels(model.num_classes, seed, 1, label)
        labels = None if first is None else first.expand(n).clone()
        names = [f"frame-{i:03d}" for i in range(n)]
    colours_of = read_palette(palette) if palette else None  # read once for every sprite
    pictures = [
        finish(to_pil(image), team, colours, colours_of, scale)
        for image in generate_images(model, z, labels)
    ]
    canvas, boxes = lay_out(pictures, names, columns)
    what = f"walk-s{seed}-s{walk_to}" if walk_to is not None else f"s{seed}"
    name = f"sheet-{what}"
    licence = loaded.manifest.get("data", {}).get("licence")
    provenance = loaded.provenance("sheet", seed=seed, sprites=n)
    if licence:
        provenance["licence"] = licence
    meta = {"licence": licence or "", "model": loaded.short_hash, "seed": seed}

    def atlas_text(image: str) -> str:
        return json.dumps(atlas(boxes, image, canvas.size, meta), indent=2, ensure_ascii=False)

    art = Artwork(name=name, image=canvas, provenance=provenance)
    return PictureFiles([art], {ATLAS_SUFFIX: atlas_text}, name)


def _characters(loaded: LoadedModel) -> str:
    """The characters a model draws: its classes, when each is one character."""
    characters = characters_drawn(loaded.manifest)
    if not loaded.model.num_classes or not characters:
        raise InputError(
            f"model '{loaded.path}' does not draw letters: train a conditional model on "
            "glyphs (or a folder with one sub-folder per character) to set type"
        )
    return characters


def _mark(path: Path, seed: int) -> tuple[Image.Image, dict]:
    """A logo's mark and how provenance names it: the picture at ``path``, or one drawn at
    ``seed`` by the picture model whose folder ``path`` is (a sprite, an emblem, a shape)."""
    if not (Path(path) / MANIFEST_FILE).is_file():
        pixels = read_image(path, channels=4, what="mark") * 255
        return Image.fromarray(pixels.round().astype("uint8"), "RGBA"), {
            "parents": [parent_record(path)]
        }
    drawer = load_artifact(path)
    if drawer.kind not in PICTURE_KINDS:
        raise InputError(
            f"mark model '{path}' is of kind {drawer.kind}, not {' or '.join(PICTURE_KINDS)}"
        )
    model = drawer.model
    z = typical_latents(model.z_dim, seed, 1, 1.0)
    picture = finish(to_pil(generate_images(model, z, draw_labels(model.num_classes, seed, 1))[0]))
    drawn_by = {"model": str(path), "model_sha256": drawer.manifest["weights"]["sha256"]}
    return picture, {"mark": {**drawn_by, "seed": seed}}


def typeset(
    loaded: LoadedModel,
    text: Annotated[
        str, Param("what to set, lines split by \\n (empty: every character)", positional=True)
    ] = "",
    seed: Annotated[int, SEED] = 0,
    walk_to: Annotated[
        int | None, Param("morph the typeface from seed to this seed (an animation)")
    ] = None,
    frames: Annotated[int, Param("frames of the morph", min=2, max=120)] = 16,
    layout: Annotated[
        str,
        Param(
            "text; monogram: initials in a ring over the text; logo: a mark beside it",
            choices=LAYOUTS,
        ),
    ] = "text",
    mark: Annotated[
        Path | None,
        Param(
            "the logo's mark: any picture, or a picture model's folder to draw one", input="image"
        ),
    ] = None,
    svg: Annotated[bool, Param("also trace the picture into an SVG outline")] = True,
    truncation: Annotated[float, Param("≤1: a more typical typeface", max=1.0)] = 1.0,
) -> PictureFiles | Result:
    """Set ``text`` (or a specimen of every character) in the typeface of ``seed``: one
    latent for every letter. PNG with an SVG outline beside it (potrace), or with
    ``walk_to`` a morph from one typeface to another."""
    start = typical_latents(loaded.model.z_dim, seed, 1, truncation)[0]
    characters = _characters(loaded)
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24] or "specimen"
    text = check_text(text.replace("\\n", "\n"), characters) if text else specimen(characters)
    if (layout == "logo") != (mark is not None):
        raise InputError("a logo needs a mark (a picture), and only a logo takes one")
    mark_picture, mark_source = _mark(mark, seed) if mark is not None else (None, {})
    initials = "".join(word[0] for word in text.split()[:3])
    model = loaded.model
    used = sorted({c for c in text if c in characters})
    labels = torch.tensor([characters.index(c) for c in used])

    def page(z: torch.Tensor) -> Image.Image:
        glyphs = generate_images(model, z.expand(len(used), -1), labels)
        grey = ((on_white(glyphs).mean(dim=1) + 1) / 2).clamp(0, 1).numpy()
        drawn = dict(zip(used, grey, strict=True))
        word = set_text(drawn, text)
        if layout == "monogram":
            return monogram(set_text(drawn, initials, tracking=0.02), word)
        if layout == "logo":
            return logo(mark_picture, word)
        return word

    base = {**loaded.provenance("typeset", seed=seed, text=text), **mark_source}
    if walk_to is not None:
        end = typical_latents(model.z_dim, walk_to, 1, truncation)[0]
        steps = [i / (frames - 1) for i in range(frames)]
        pages = [page(slerp(start, end, t)) for t in steps]
        name = f"type-{words}-s{seed}-s{walk_to}"
        arts = [
            Artwork(f"{name}-{i:03d}", picture, {**base, "t": t})
            for i, (picture, t) in enumerate(zip(pages, steps, strict=True))
        ]
        return Result(arts, frames=pages + pages[-2:0:-1], stem=name)
    picture = page(start)
    name = f"type-{words}-s{seed}" + ("" if layout == "text" else f"-{layout}")
    files, message = {}, None
    if svg:
        message = potrace_missing()
        if message is None:
            outline = trace_svg(picture)
            files[".svg"] = lambda _image: outline
    return PictureFiles([Artwork(name, picture, base)], files, name, message)


def scene(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many characters", min=1, max=64)] = 6,
    seed: Annotated[int, SEED] = 0,
    label: Label = None,
    ground: Annotated[str, Param("the ground", choices=tuple(GROUNDS))] = "grass",
    width: Annotated[int, Param("scene width in pixels", min=64, max=2048)] = 512,
    height: Annotated[int, Param("scene height in pixels", min=64, max=2048)] = 320,
    team: Annotated[str, TEAM] = "",
    scale: Annotated[int, Param("enlarge each pixel to a block this wide", min=1, max=4)] = 1,
) -> Result:
    """A mock-up of a game scene: ``n`` characters of the model standing on a generated
    ground that tiles (written too, as its own picture)."""
    check_label(loaded, label)
    model = loaded.model
    z = draw_latents(model.z_dim, seed, n)
    labels = draw_labels(model.num_classes, seed, n, label)
    sprites = [
        finish(to_pil(image), team, scale=scale) for image in generate_images(model, z, labels)
    ]
    if sprites[0].width > width or sprites[0].height > height:
        raise InputError(
            f"a {width}×{height} scene is smaller than one character ({sprites[0].width} px)"
        )
    tile = upscale(ground_tile(ground, seed), scale)
    picture = compose(sprites, tile, width, height, seed)
    base = loaded.provenance("scene", seed=seed)
    arts = [
        Artwork(f"scene-{ground}-s{seed}", picture, base),
        Artwork(f"ground-{ground}-s{seed}", tile, {**base, "part": "tileable ground"}),
    ]
    return Result(arts, stem=f"scene-{ground}-s{seed}")
