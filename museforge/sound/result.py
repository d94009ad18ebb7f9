"""What sound verbs return: notes and morphs as WAV files with their provenance.

An artwork is ``NAME.wav`` (16-bit PCM; a RIFF INFO chunk names museforge and carries a
short summary: model hash, verb, seed) with its full provenance in ``NAME.wav.json``, and
beside it its spectrogram ``NAME.png`` (which records "modality": "sound", so the gallery
files it as a part of the sound, not a picture of its own). The sidecar is written last,
so the gallery never indexes a sound whose files are not all there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from PIL import Image

from museforge.core.atomic import atomic_write_text, atomic_write_with
from museforge.gallery.provenance import save_png, save_sidecar
from museforge.sound.audio import to_pcm16

SOUND_SUFFIX = ".wav"


@dataclass
class SoundArtwork:
    """One sound: its file stem, samples in [-1, 1] at ``rate``, its spectrogram and how
    it was made."""

    name: str
    wave: np.ndarray
    rate: int
    picture: Image.Image
    provenance: dict[str, Any] = field(default_factory=dict)


def _summary(provenance: dict[str, Any]) -> str:
    model = provenance.get("model", {})
    parts = [f"model {str(model.get('sha256', ''))[:12]}", f"verb {provenance.get('verb')}"]
    if "seed" in provenance:
        parts.append(f"seed {provenance['seed']}")
    return "museforge: " + ", ".join(parts) + "; full provenance in the .wav.json beside it"


def write_sound(path: Path, wave: np.ndarray, rate: int, provenance: dict[str, Any]) -> Path:
    """``wave`` as a 16-bit WAV at ``path`` with a RIFF INFO summary, atomically."""

    def write(tmp: Path) -> None:
        with soundfile.SoundFile(
            str(tmp), "w", samplerate=int(rate), channels=1, subtype="PCM_16", format="WAV"
        ) as out:
            out.software = "museforge"
            out.comment = _summary(provenance)
            out.write(to_pcm16(wave))

    return atomic_write_with(path, write)


def write_sound_artwork(folder: str | Path, art: SoundArtwork) -> list[Path]:
    """Write one sound, its spectrogram and then its sidecar; the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"{art.name}{SOUND_SUFFIX}"
    provenance = {**art.provenance, "modality": "sound", "file": wav.name}
    provenance.setdefault("sample_rate", art.rate)
    provenance.setdefault("seconds", round(len(art.wave) / art.rate, 3))
    paths = [save_png(folder / f"{art.name}.png", art.picture, provenance)]
    paths.append(write_sound(wav, art.wave, art.rate, provenance))
    save_sidecar(wav, provenance)
    return paths


class SoundResult:
    """Sound artworks plus an overview sheet of spectrograms and optional data."""

    frames = None  # no animation for the gallery to write

    def __init__(
        self,
        artworks: list[SoundArtwork],
        grid: Image.Image | None = None,
        stem: str = "sound",
        data: dict[str, Any] | None = None,
        message: str | None = None,
        walk: bool = False,
    ):
        self.artworks, self.grid, self.stem = list(artworks), grid, stem
        self.data, self.message = data, message
        # a walk: the last artwork is the whole morph, the others its notes in turn
        self.walk = walk

    def __repr__(self) -> str:
        return f"SoundResult(artworks={[a.name for a in self.artworks]}, stem={self.stem!r})"

    def write_to(self, folder: str | Path, upscale: int = 1) -> list[Path]:
        """Write every sound (see :func:`write_sound_artwork`), the sheet and ``data``."""
        folder = Path(folder)
        paths: list[Path] = []
        whole = self.artworks[-1] if self.walk and self.artworks else None
        for i, art in enumerate(self.artworks):
            if whole is not None and art is not whole:  # the gallery files it under the morph
                frame = {"file": f"{whole.name}{SOUND_SUFFIX}", "index": i}
                art = SoundArtwork(
                    **{**art.__dict__, "provenance": {**art.provenance, "frame_of": frame}}
                )
            paths += write_sound_artwork(folder, art)
        if self.grid is not None:
            paths.append(atomic_write_with(folder / f"{self.stem}-grid.png", self.grid.save))
        if self.data is not None:
            text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False)
            paths.append(atomic_write_text(folder / f"{self.stem}.json", text + "\n"))
        return paths
