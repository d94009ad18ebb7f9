"""``museforge studio``: the local web studio (FastAPI), on 127.0.0.1 by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from museforge.cli.app import gallery_root, models_dir
from museforge.errors import InputError

commands = typer.Typer()


@commands.command()
def studio(
    host: Annotated[str, typer.Option(help="address to listen on (keep it local)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    gallery: Annotated[
        Path | None, typer.Option(help="gallery folder [default: $MUSEFORGE_GALLERY or ./gallery]")
    ] = None,
    workers: Annotated[int, typer.Option(help="jobs run at the same time")] = 1,
) -> None:
    """Open the web studio: create, breed, train, rate and browse the gallery."""
    import socket

    from museforge.studio.app import StudioConfig, serve
    from museforge.studio.security import MIN_TOKEN_CHARS, new_token

    if not 1 <= workers <= 16:
        raise InputError(f"--workers must be 1 to 16 (got {workers})")
    with socket.socket() as probe:
        # as uvicorn binds: a port a killed studio left in FIN-WAIT or TIME-WAIT is free to
        # take, a port another server listens on is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise InputError(f"cannot listen on {host}:{port} ({err.strerror})") from None
    # A fixed token from the environment lets scripts and tests drive a studio they start.
    token = os.environ.get("MUSEFORGE_STUDIO_TOKEN") or new_token()
    if len(token) < MIN_TOKEN_CHARS:  # would let a guess through: refused, said in one line
        raise InputError(
            f"MUSEFORGE_STUDIO_TOKEN must be at least {MIN_TOKEN_CHARS} characters "
            f"(got {len(token)}); leave it unset for a fresh random one"
        )
    config = StudioConfig(
        gallery or gallery_root(), models_dir(), host, port, workers=workers, token=token
    )
    serve(config)
