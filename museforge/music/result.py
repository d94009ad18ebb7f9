"""What music verbs return: named pieces with their provenance, plus optional data.

The gallery writes a result through :meth:`MusicResult.write_to` (each piece as MIDI,
piano roll, MusicXML and WAV, carrying the provenance; ``data`` as JSON), the same way it
writes pictures and poems, so music needs no special case in the CLI or the studio.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from museforge.music.score import Piece


@dataclass
class MusicArtwork:
    """One piece: its file stem, the music, how it was made, and optional lyrics (one
    syllable per note of part 0)."""

    name: str
    piece: Piece
    provenance: dict[str, Any] = field(default_factory=dict)
    lyrics: list[str] | None = None


class MusicResult:
    """Artworks plus optional data. Build it from ``MusicArtwork`` objects or from
    ``pieces=[(name, piece, provenance), ...]``; ``artworks`` lets ``call_verb`` record
    the verb's arguments in every provenance, as it does for pictures and texts."""

    grid = None  # no overview picture or animation: lets gallery.write_result save ``data``
    frames = None

    def __init__(
        self,
        artworks: list[MusicArtwork] | None = None,
        data: dict[str, Any] | None = None,
        stem: str = "music",
        pieces: list[tuple[str, Piece, dict[str, Any]]] | None = None,
    ):
        self.artworks = list(artworks or []) + [MusicArtwork(*p) for p in pieces or []]
        self.data, self.stem = data, stem
        self.wav = True  # render audio (FluidSynth, else the built-in synth)

    @property
    def pieces(self) -> list[tuple[str, Piece, dict[str, Any]]]:
        """(name, piece, provenance) triples sharing the artworks' provenance dicts."""
        return [(a.name, a.piece, a.provenance) for a in self.artworks]

    def __repr__(self) -> str:
        names = [a.name for a in self.artworks]
        return f"MusicResult(artworks={names}, data={bool(self.data)}, stem={self.stem!r})"

    def write_to(self, folder: str | Path, upscale: int = 1) -> list[Path]:
        """Write every piece (MIDI, piano roll, MusicXML, WAV) and ``data`` into ``folder``."""
        from museforge.core.atomic import atomic_write_text
        from museforge.music.render import save_piece

        paths: list[Path] = []
        for art in self.artworks:
            # the call's instrument, when it names a sound model, plays the audio
            instrument = art.provenance.get("args", {}).get("instrument")
            paths += save_piece(
                folder,
                art.name,
                art.piece,
                art.provenance,
                wav=self.wav,
                lyrics=art.lyrics,
                instrument=instrument,
            )
        if self.data is not None:
            text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False)
            paths.append(atomic_write_text(Path(folder) / f"{self.stem}.json", text + "\n"))
        return paths
