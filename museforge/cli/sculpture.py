"""``museforge relief``: any picture as a printable bas-relief or lithophane. It needs no
model, so it is not a model's verb."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import gallery_root, out

commands = typer.Typer()
ID = re.compile(r"^[0-9a-f]{16}$")


def picture_path(artwork: str) -> Path:
    """A picture file, or the file of the gallery artwork with that id."""
    path = Path(artwork)
    if path.exists() or not ID.match(artwork):
        return path
    from museforge.gallery.store import Gallery

    gallery = Gallery(gallery_root())
    try:
        return gallery.file_path(artwork)
    finally:
        gallery.close()


@commands.command()
def relief(
    artwork: Annotated[str, typer.Argument(help="a picture file or a gallery id")],
    mode: Annotated[str, typer.Option(help="relief (bright is high) or lithophane")] = "relief",
    width_mm: Annotated[
        float, typer.Option("--width-mm", help="the print's width, frame included")
    ] = 100.0,
    depth_mm: Annotated[
        float | None,
        typer.Option("--depth-mm", help="height of the picture [relief 4, lithophane 2.2]"),
    ] = None,
    base_mm: Annotated[
        float | None,
        typer.Option("--base-mm", help="thickness under the picture [relief 2, lithophane 0.8]"),
    ] = None,
    border_mm: Annotated[float, typer.Option("--border-mm", help="frame width, 0 for none")] = 3.0,
    smooth: Annotated[float, typer.Option(help="smoothing, in samples (0: none)")] = 1.0,
    edges: Annotated[str, typer.Option(help="soft, keep (edge-preserving) or sharp")] = "soft",
    invert: Annotated[bool, typer.Option(help="swap high and low")] = False,
    samples: Annotated[int, typer.Option(help="samples along the longer side")] = 400,
    printer: Annotated[str, typer.Option(help="printer the solid is checked for")] = "fdm",
    target: Annotated[
        Path | None,
        typer.Option("--out", help="an .stl, .obj or .glb file [default: gallery/sculpture]"),
    ] = None,
) -> None:
    """Turn a picture into a solid you can print: a bas-relief (bright parts stand out) or
    a lithophane (dark parts thick, to hold against the light), checked for the printer."""
    from museforge.sculpture.making import make_relief, write_one

    source = picture_path(artwork)
    settings = {
        "mode": mode,
        "width_mm": width_mm,
        "depth_mm": depth_mm,
        "base_mm": base_mm,
        "border_mm": border_mm,
        "smooth": smooth,
        "edges": edges,
        "invert": invert,
        "max_samples": samples,
    }
    result = make_relief(source, settings, printer)
    if target is not None:
        written = write_one(result, target)
    else:
        from museforge.gallery.store import Gallery

        gallery = Gallery(gallery_root())
        try:
            written = gallery.write(result, "sculpture")[-1]
        finally:
            gallery.close()
    out.print(result.message)
    out.print(f"wrote {written}")
