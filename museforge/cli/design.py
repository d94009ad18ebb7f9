"""``museforge garment``: a picture as a clothing print — a preview on a garment and a
print-ready seamless tile. It needs no model, so it is not a model's verb."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import gallery_root, index_outputs, out
from museforge.errors import InputError

commands = typer.Typer()


@commands.command()
def garment(
    picture: Annotated[Path, typer.Argument(help="the print: any picture file")],
    kind: Annotated[str, typer.Option("--garment", help="tshirt, dress or tote")] = "tshirt",
    repeat: Annotated[float, typer.Option(help="tiles across the garment's width")] = 3.0,
    width_cm: Annotated[float, typer.Option("--tile-cm", help="print tile width in cm")] = 20.0,
    dpi: Annotated[int, typer.Option(help="print resolution, dots per inch")] = 300,
    mirror: Annotated[
        bool, typer.Option(help="make the tile seamless by mirroring (--no-mirror: it tiles)")
    ] = True,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="output folder [default: gallery/garments]")
    ] = None,
) -> None:
    """Lay a picture onto a garment as a repeating print (a preview PNG), and write the
    print tile seamless at a physical size and resolution (a PNG carrying its dpi)."""
    from PIL import Image

    from museforge.core.media import MAX_PIXELS, read_image
    from museforge.design.garments import TEMPLATES, preview, print_tile, seamless
    from museforge.gallery.provenance import save_png

    if kind not in TEMPLATES:
        raise InputError(f"garment '{kind}' is not one of {', '.join(TEMPLATES)}")
    pixels = read_image(picture, channels=3, what="print picture")
    source = Image.fromarray((pixels * 255).round().astype("uint8"), "RGB")
    if source.width * source.height * 4 > MAX_PIXELS:
        raise InputError(f"print picture '{picture}' is too large to mirror into a tile")
    tile = seamless(source, mirror)
    printed = print_tile(tile, width_cm, dpi)
    parent = {"file": picture.name, "sha256": hashlib.sha256(picture.read_bytes()).hexdigest()}
    settings = {
        "garment": kind,
        "repeat": repeat,
        "tile_cm": width_cm,
        "dpi": dpi,
        "mirror": mirror,
    }
    base = {"verb": "garment", "parents": [parent], "args": settings}
    folder = out_dir or gallery_root() / "garments"
    stem = name = f"{picture.stem}-{kind}"
    for k in range(2, 10_000):  # never overwrite an earlier print
        if not (folder / f"{stem}.png").exists() and not (folder / f"{stem}-tile.png").exists():
            break
        stem = f"{name}-v{k}"
    shown = save_png(folder / f"{stem}.png", preview(tile, kind, repeat), base)
    tile_file = save_png(
        folder / f"{stem}-tile.png", printed, {**base, "part": "print tile"}, dpi=dpi
    )
    index_outputs([shown, tile_file])
    out.print(f"wrote {shown}")
    out.print(
        f"wrote {tile_file} ({printed.width}×{printed.height} px = {width_cm:g} cm at {dpi} dpi)"
    )
