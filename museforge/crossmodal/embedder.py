"""A text–image encoder as the gallery's embedder: pictures and words into one space, and
the captions it learnt from as the labels of zero-shot tags.

The gallery ranks with any object that has ``key``, ``images``, ``texts`` and ``unknown``
(:mod:`museforge.gallery.meaning`); this module makes one from an encoder artifact and
finds the starter encoder to use when none is named.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from museforge.core.artifact import LoadedModel, load_artifact
from museforge.crossmodal.data import load_captioned
from museforge.crossmodal.kinds import KIND
from museforge.errors import InputError

# Starter encoders, the one that knows the most words first (emoji: 3,576 everyday names in
# English and Chinese; shapes: colours, shapes and places only).
STARTERS = ("emoji-encoder", "shapes-encoder")
MAX_LABELS = 4000  # captions a picture is compared with for its zero-shot tags
TEXT_BATCH = 256


def default_encoder(models: Path) -> Path:
    """The first starter encoder of :data:`STARTERS` in ``models``; an InputError if none."""
    for name in STARTERS:
        if (Path(models) / name / "model.json").is_file():
            return Path(models) / name
    raise InputError(
        f"no text–image encoder to search with: neither {' nor '.join(STARTERS)} is in "
        f"'{models}' (train one: museforge train --recipe recipes/shapes-encoder.toml, "
        "and name its folder as the encoder)"
    )


def picture_tensor(img: Image.Image, size: int) -> torch.Tensor:
    """3×size×size in [-1, 1] as the encoder saw its training pictures: transparency on
    white, the whole picture kept and padded square with white."""
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    square = ImageOps.pad(rgb, (size, size), method=Image.Resampling.LANCZOS, color="white")
    pixels = np.asarray(square, dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1) * 2 - 1


class EncoderEmbedder:
    """Unit vectors of pictures and words from one text–image encoder artifact."""

    def __init__(self, loaded: LoadedModel) -> None:
        if loaded.kind != KIND:
            raise InputError(
                f"model '{loaded.path}' is a {loaded.kind}, not a {KIND}: "
                "search by meaning needs a text–image encoder"
            )
        self.loaded = loaded
        self.model = loaded.model.eval()
        self.key = loaded.sha256
        self.size = self.model.cfg.image_size
        self._labels: dict[str, list[str]] = {}

    @property
    def name(self) -> str:
        return self.loaded.path.name

    @torch.inference_mode()
    def images(self, pictures: list[Image.Image]) -> torch.Tensor:
        batch = torch.stack([picture_tensor(p, self.size) for p in pictures])
        return self.model.encode_images(batch)

    @torch.inference_mode()
    def texts(self, texts: list[str]) -> torch.Tensor:
        parts = [
            self.model.encode_text(texts[i : i + TEXT_BATCH])
            for i in range(0, len(texts), TEXT_BATCH)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, self.model.cfg.embed_dim)

    def unknown(self, text: str) -> list[str]:
        return self.model.tokens.unknown(text)

    def labels(self, language: str = "en") -> list[str]:
        """The distinct captions in ``language`` of the set the encoder learnt from, the
        commonest first (at most :data:`MAX_LABELS`). A caption's qualifier after ": " is
        left out (CLDR's "student: medium skin tone" counts as "student"), so that
        variants of one thing do not fill the list."""
        if language not in self._labels:
            source = self.loaded.manifest.get("data", {}).get("source")
            if not source:
                raise InputError(f"encoder '{self.loaded.path}' records no captions it learnt from")
            data = load_captioned(source, image_size=self.size)
            counts = Counter(c[language].split(": ")[0] for c in data.captions if c.get(language))
            if not counts:
                found = sorted({lang for c in data.captions for lang in c})
                raise InputError(
                    f"encoder '{self.loaded.path}' learnt captions in {', '.join(found)}, "
                    f"not '{language}'"
                )
            self._labels[language] = [text for text, _ in counts.most_common(MAX_LABELS)]
        return self._labels[language]


@lru_cache(maxsize=4)
def _cached(path: Path, stamp: tuple[int, ...]) -> EncoderEmbedder:
    return EncoderEmbedder(load_artifact(path))


def encoder_embedder(path: str | Path) -> EncoderEmbedder:
    """The embedder of the encoder at ``path``, loaded once per process (and again when
    its manifest or weights change: their times, sizes and inodes), so the studio's
    searches do not reload it."""
    path = Path(path).resolve()
    manifest = path / "model.json"
    if not manifest.is_file():
        load_artifact(path)  # raises the artifact loader's own one-line error
    stamp = []
    for file in (manifest, path / "model.safetensors"):
        st = file.stat() if file.exists() else None
        stamp += [st.st_mtime_ns, st.st_size, st.st_ino] if st else [0, 0, 0]
    return _cached(path, tuple(stamp))
