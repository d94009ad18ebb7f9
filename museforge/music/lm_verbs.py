"""The verbs of music LMs: sample (free or primed), continue a melody, set lyrics, evaluate.

Priming comes from a MIDI/MusicXML/ABC file or a few typed notes in music21's
TinyNotation (``"c4 d8 e f g2"``); key and time signature become the first tokens, so a
model trained with transposition learns to follow them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from museforge.core.artifact import LoadedModel
from museforge.errors import InputError
from museforge.music import instruments, tokens
from museforge.music.generate import KEY_PULL, MusicSampling, sample_tokens
from museforge.music.result import MusicArtwork, MusicResult
from museforge.music.score import Key, Part, Piece, parse_key

VOICES = ("soprano", "alto", "tenor", "bass")
MAX_SYLLABLES = 200


def parse_meter(text: str | None) -> tuple[int, int] | None:
    """``"3/4"`` as (3, 4), None for nothing; an InputError for a meter without tokens."""
    if text is None or text == "":
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    meter = (int(match[1]), int(match[2])) if match else None
    if meter not in tokens.METERS:
        known = ", ".join(f"{n}/{d}" for n, d in tokens.METERS)
        raise InputError(f"--time-signature {text!r} is not one of {known}")
    return meter


def _typed_notes(notes: str) -> Piece:
    """A few notes typed in TinyNotation (``c4 d8 e f g2``; ``c'`` is an octave up)."""
    import music21

    from museforge.music.corpus import piece_from_music21

    text = notes.strip()
    if not text.lower().startswith("tinynotation:"):
        text = "tinyNotation: " + text
    try:
        stream = music21.converter.parse(text)
        if not hasattr(stream, "parts") or not stream.parts:  # TinyNotation gives one Part
            stream = music21.stream.Score([stream])
        piece = piece_from_music21(stream)
    except Exception as err:  # music21 raises many types for bad notation
        raise InputError(f"cannot read the typed notes {notes!r} ({err})") from None
    if not piece.notes:
        raise InputError(f"the typed notes {notes!r} hold no notes")
    return piece


def prime_tokens(
    loaded: LoadedModel, prime_file, notes, key, meter
) -> tuple[list[int], str | None]:
    """Priming tokens (BOS first, no EOS) and a description of the source."""
    from museforge.music.corpus import read_music_file

    poly = loaded.model.cfg.polyphonic
    if prime_file and notes:
        raise InputError("prime from a file or from typed notes, not both")
    piece, source = None, None
    if prime_file:
        if not Path(prime_file).exists():
            raise InputError(
                f"priming file '{prime_file}' does not exist "
                "(typed notes go in --notes, e.g. --notes 'c4 d8 e f g2')"
            )
        piece, source = read_music_file(Path(prime_file)), str(prime_file)
    elif notes:
        piece, source = _typed_notes(notes), f"notes:{notes}"
    if piece is None:
        ids = [tokens.BOS]
        if meter is not None or key is not None:  # a key needs a meter before it: 4/4
            ids.append(tokens.meter_token(meter or (4, 4)))
        if key is not None:
            ids.append(tokens.key_token(key))
        return ids, None
    if key is not None:
        piece = piece.transpose(((key.tonic - piece.key.tonic + 6) % 12) - 6)
        piece = dataclasses.replace(piece, key=Key(piece.key.tonic, key.mode))
    if meter is not None:
        piece = dataclasses.replace(piece, time_signature=meter)
    ids = tokens.encode(piece, polyphonic=poly, end=False)
    return ids, source


def parts_for(loaded: LoadedModel, instrument: str | int | None) -> tuple[Part, ...]:
    """The parts a sample is played by: four choir voices or one melody instrument, with
    the instruments of ``instrument`` (see :mod:`museforge.music.instruments`)."""
    if loaded.model.cfg.polyphonic:
        parts = tuple(Part(v, 52) for v in VOICES)  # choir aahs
    else:
        parts = (Part("melody", 73),)  # flute
    return instruments.assign(instrument, parts)


def _provenance(loaded: LoadedModel, verb: str, **fields: Any) -> dict[str, Any]:
    return loaded.provenance(verb, modality="music", **fields)


def sample(
    loaded: LoadedModel,
    bars: int = 16,
    n: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
    top_p: float = 0.95,
    key: str | None = None,
    key_pull: float = KEY_PULL,
    time_signature: str | None = None,
    tempo: float = 100.0,
    instrument: str | None = None,
    notes: str | None = None,
    prime_file: str | None = None,
) -> MusicResult:
    """``n`` pieces of ``bars`` bars; optionally in a key and meter, primed by typed
    ``notes`` (TinyNotation) or a MIDI/MusicXML file. ``key_pull``: nats against notes
    outside the key (0: the model as trained)."""
    if not 1 <= n <= 64:
        raise InputError(f"--n must be 1 to 64 (got {n})")
    if not 20 <= tempo <= 300:
        raise InputError(f"--tempo must be 20 to 300 quarter notes a minute (got {tempo})")
    settings = MusicSampling(bars, temperature, top_p, key_pull)
    parsed_key = parse_key(key) if key else None
    meter = parse_meter(time_signature)
    parts = parts_for(loaded, instrument)
    prime, source = prime_tokens(loaded, prime_file, notes, parsed_key, meter)
    rows = sample_tokens(loaded.model, prime, n, seed, settings)
    arts = []
    record = {"key": key, "time_signature": time_signature, "tempo": tempo}
    for i, row in enumerate(rows):
        piece = tokens.decode(prime + row, tempo=tempo, parts=parts)
        bars_made = (prime + row).count(tokens.BAR)
        piece = piece.window(0.0, bars_made * piece.bar_quarters)  # last notes end at the bar
        prov = _provenance(
            loaded,
            "sample" if source is None else "continue_",
            seed=seed,
            index=i,
            settings={**dataclasses.asdict(settings), **record, "instrument": instrument},
            tokens=len(row),
            seconds_of_music=round(piece.seconds, 2),
            key_played=piece.key.name,
        )
        if source is not None:
            prov["lineage"] = {"content": {"source": source}}
        arts.append(
            MusicArtwork(f"{'continue' if source else 'music'}-s{seed}-{i:03d}", piece, prov)
        )
    return MusicResult(arts, stem=f"music-s{seed}")


def continue_(
    loaded: LoadedModel, prime_file: str | None = None, notes: str | None = None, **settings: Any
) -> MusicResult:
    """Continue a melody (a MIDI/MusicXML file, or typed notes): the controls of sample."""
    if not prime_file and not notes:
        raise InputError("continue needs a melody: a MIDI/MusicXML file or typed --notes")
    return sample(loaded, prime_file=prime_file, notes=notes, **settings)


def lyrics(loaded: LoadedModel, text: str, seed: int = 0, **settings: Any) -> MusicResult:
    """Set ``text`` (a poem line or a few) to a melody with one note per syllable."""
    from museforge.music.lyrics import set_lyrics

    return set_lyrics(loaded, text, seed=seed, **settings)


def evaluate(loaded: LoadedModel, n: int = 16, seed: int = 0, out_dir: Any = None) -> MusicResult:
    """Validation NLL per event, feature statistics against held-out music, key
    consistency and originality of ``n`` samples."""
    from museforge.music.evaluate import evaluate_music_lm

    return MusicResult(data=evaluate_music_lm(loaded, n=n, seed=seed), stem="evaluation")
