"""Writing a verb's result to a folder: each artwork with its provenance, plus the
overview grid, the animation and the data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from museforge.core.artwork import Result
from museforge.core.atomic import atomic_write_text, atomic_write_with
from museforge.gallery.provenance import save_png, save_sidecar, save_text, sidecar_path

# What one frame of an animation records of itself alone: its latent, place and words
# (a prompt walk's frame is drawn from its own mix of the two prompts; "ends": older walks).
PER_FRAME = frozenset({"latent", "t", "index", "prompt", "prompts", "ends", "frame_of"})


def _on_white(picture: Image.Image) -> Image.Image:
    return Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture).convert("RGB")


def save_gif(path: str | Path, frames: list[Image.Image], frame_ms: int = 80) -> Path:
    """Write ``frames`` as a looping GIF, atomically (RGBA frames on white: GIF keeps one
    transparent colour at most, which would fray soft edges)."""
    frames = [_on_white(f) if f.mode == "RGBA" else f for f in frames]
    first, rest = frames[0], frames[1:]
    return atomic_write_with(
        path,
        lambda tmp: first.save(
            tmp, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0
        ),
    )


def _sidecar_first(write: Callable[..., Path], path: Path, *args: Any) -> Path:
    """``write(path, *args)``, which writes ``path``'s sidecar and then ``path``; when
    ``path`` is not there after a failure (disk full), remove the sidecar: alone it is no
    artwork."""
    try:
        return write(path, *args)
    except BaseException:
        if not path.exists():
            sidecar_path(path).unlink(missing_ok=True)
        raise


def write_result(result: Result, out_dir: str | Path, upscale: int = 1) -> list[Path]:
    """Write every part of ``result`` into ``out_dir`` and return the paths written.

    A result with ``frames`` is an animation (``<stem>.gif``) whose artworks are its stills:
    each records ``frame_of`` (the GIF's name and its place in the walk), so the gallery
    shows the animation as one item with its frames as children.

    ``upscale`` enlarges the overview pictures (grid, GIF) with nearest-neighbour so that
    28-pixel samples are visible; the individual PNGs keep the model's exact pixels.
    """
    out = Path(out_dir)
    if hasattr(result, "write_to"):  # a modality that writes its own files (music)
        return result.write_to(out, upscale=upscale)
    gif = out / f"{result.stem}.gif"
    paths = []
    for i, art in enumerate(result.artworks):
        provenance = art.provenance
        if result.frames:  # a still of the animation: the gallery files it under the GIF
            provenance = {**provenance, "frame_of": {"file": gif.name, "index": i}}
        if art.image is not None:
            paths.append(save_png(out / f"{art.name}.png", art.image, provenance))
        else:
            poem = out / f"{art.name}.txt"
            paths.append(_sidecar_first(save_text, poem, art.text or "", provenance))

    def big(img: Image.Image) -> Image.Image:
        if upscale == 1:
            return img
        return img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)

    if result.grid is not None:
        paths.append(atomic_write_with(out / f"{result.stem}-grid.png", big(result.grid).save))
    if result.frames:
        if result.artworks:  # the animation carries its frames' provenance, less per-frame parts
            first = result.artworks[0].provenance
            shared = {k: v for k, v in first.items() if k not in PER_FRAME}
            save_sidecar(gif, {**shared, "frames": len(result.frames), "file": gif.name})
        frames = [big(f) for f in result.frames]
        paths.append(_sidecar_first(save_gif, gif, frames, result.frame_ms))
    if result.data is not None:
        text = json.dumps(result.data, indent=2, sort_keys=True)
        paths.append(atomic_write_text(out / f"{result.stem}.json", text + "\n"))
    return paths
