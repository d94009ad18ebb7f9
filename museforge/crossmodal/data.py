"""The captioned data sets, registered once, and the one loader every text–image model uses."""

from __future__ import annotations

from pathlib import Path

from museforge.core.data import register_dataset, register_user_source, resolve
from museforge.crossmodal import clipart, emoji, folders, shapes
from museforge.crossmodal.captioned import CaptionedImages

MODALITY = "crossmodal"


def register() -> None:
    """Register the built-in captioned sets and the user's captioned folders."""
    register_dataset(
        "emoji",
        modality=MODALITY,
        description="Noto Color Emoji in colour, CLDR names in English and Chinese",
        size="3,576 pictures (1,543 emoji and 2,033 skin-tone, flag and other sequences)",
        licence=emoji.LICENCE,
        loader=emoji.emoji,
    )
    register_dataset(
        "clipart",
        modality=MODALITY,
        description="Open Clip Art, captions from category folders and file names (English)",
        size="8,121 pictures",
        licence=clipart.LICENCE,
        loader=clipart.clipart,
    )
    register_dataset(
        "captioned-shapes",
        modality=MODALITY,
        description="procedural shapes with exact captions in English and Chinese "
        "(colour, shape, size, position, background; 6 colour–shape pairs held out)",
        size="6,000 pictures by default (any number)",
        licence="MIT (drawn by museforge's own code)",
        loader=shapes.captioned_shapes,
    )
    register_user_source(
        MODALITY,
        "folder",
        "your pictures with captions: metadata.jsonl or metadata.csv (file_name, text), "
        "or a .txt beside each picture",
    )


def load_captioned(source: str, image_size: int = 64) -> CaptionedImages:
    """A captioned set by name (``emoji``, ``clipart``, ``captioned-shapes``) or
    ``folder:PATH``, at ``image_size`` px."""
    found = resolve(source, MODALITY)
    if isinstance(found, tuple):
        _, path = found
        return folders.captioned_folder(Path(path), image_size)
    return found.loader(image_size=image_size)
