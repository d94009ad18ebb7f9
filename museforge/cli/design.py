"""``museforge garment``: a picture as a clothing print — a preview on a garment and a
print-ready seamless tile. It needs no model, so it is not a model's verb."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import gallery_root, index_outputs, out

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
    from museforge.design.garments import make_garment

    folder = out_dir or gallery_root() / "garments"
    shown, tile_file, printed = make_garment(picture, folder, kind, repeat, width_cm, dpi, mirror)
    index_outputs([shown, tile_file])
    out.print(f"wrote {shown}")
    out.print(
        f"wrote {tile_file} ({printed.width}×{printed.height} px = {width_cm:g} cm at {dpi} dpi)"
    )
