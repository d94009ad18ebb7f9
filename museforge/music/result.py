"""What music verbs return: named pieces with their provenance, plus optional data.

The caller writes each piece with ``museforge.music.render.save_piece`` (MIDI, piano
roll, MusicXML, WAV, each carrying the provenance) and ``data`` as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    @property
    def pieces(self) -> list[tuple[str, Piece, dict[str, Any]]]:
        """(name, piece, provenance) triples sharing the artworks' provenance dicts."""
        return [(a.name, a.piece, a.provenance) for a in self.artworks]

    def __repr__(self) -> str:
        names = [a.name for a in self.artworks]
        return f"MusicResult(artworks={names}, data={bool(self.data)}, stem={self.stem!r})"
