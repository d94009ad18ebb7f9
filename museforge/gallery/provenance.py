"""Provenance embedded in output files, so any artwork can be re-made and bred later.

PNG files carry one ``iTXt`` chunk named ``museforge`` holding JSON: the model's hash and
kind, the verb, seed, settings and the latent itself (base64 of little-endian float32).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from museforge.core.atomic import atomic_write_with
from museforge.errors import InputError

PNG_KEY = "museforge"


def encode_latent(z: torch.Tensor) -> str:
    """A latent vector as compact text (exact: float32 bytes in base64)."""
    return base64.b64encode(z.detach().cpu().float().numpy().astype("<f4").tobytes()).decode()


def decode_latent(text: str) -> torch.Tensor:
    """Inverse of :func:`encode_latent`."""
    return torch.from_numpy(np.frombuffer(base64.b64decode(text), dtype="<f4").copy())


def save_png(path: str | Path, image: Image.Image, provenance: dict[str, Any]) -> Path:
    """Write ``image`` as PNG with ``provenance`` embedded, atomically."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_KEY, json.dumps(provenance, sort_keys=True), zip=True)
    info.add_text("Software", "museforge")
    return atomic_write_with(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))


def read_png_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance embedded in a museforge PNG, or an InputError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"'{path}' does not exist or is not a file")
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise InputError(f"'{path}' is not a PNG file (it is {img.format})")
            text = img.text.get(PNG_KEY) if hasattr(img, "text") else None
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"'{path}' is not a readable image ({err})") from None
    if text is None:
        raise InputError(f"'{path}' carries no museforge provenance (not made by museforge?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"'{path}': its museforge provenance is not valid JSON") from None
