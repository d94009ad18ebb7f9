"""The verbs of music LMs: sample (free or primed), continue a melody, set lyrics, evaluate.

Priming and the parts that play a piece are in :mod:`museforge.music.priming`; a song's
syllables come from :mod:`museforge.music.lyrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from museforge.core.artifact import LoadedModel
from museforge.core.verbs import SEED, Param
from museforge.errors import InputError
from museforge.music import instruments, tokens
from museforge.music.accompany import Accompany, accompanied
from museforge.music.evaluate import evaluate_music_lm
from museforge.music.generate import KEY_PULL, MAX_BARS, MusicSampling, sample_tokens
from museforge.music.lyrics import MAX_SYLLABLES, syllables_of
from museforge.music.priming import METER_NAMES, parse_meter, parts_for, prime_tokens
from museforge.music.result import MusicArtwork, MusicResult
from museforge.music.score import parse_key

Bars = Annotated[int, Param("length in bars", min=1, max=MAX_BARS)]
Seed = Annotated[int, SEED]
Temperature = Annotated[float, Param("randomness: lower is safer, higher is wilder")]
TopP = Annotated[float, Param("nucleus: smallest set with this mass")]
KeyName = Annotated[str | None, Param("key, e.g. 'D major', 'f# minor', 'Bb'")]
KeyPull = Annotated[
    float, Param("nats against notes outside the key (0: the model as trained)", min=0, max=20)
]
Meter = Annotated[str | None, Param("the piece's meter", choices=METER_NAMES)]
Tempo = Annotated[float, Param("quarter notes per minute", min=20, max=300)]
Instrument = Annotated[str | None, Param(instruments.HELP)]
Notes = Annotated[str | None, Param("prime with typed notes (TinyNotation): 'c4 d8 e f g2'")]
PrimeFile = Annotated[
    Path | None,
    Param("prime with a MIDI/MusicXML/ABC file (continue it)", input="music", flag="prime"),
]


def sample(
    loaded: LoadedModel,
    bars: Bars = 16,
    n: Annotated[int, Param("how many pieces", min=1, max=64)] = 1,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    key: KeyName = None,
    key_pull: KeyPull = KEY_PULL,
    time_signature: Meter = None,
    tempo: Tempo = 100.0,
    instrument: Instrument = None,
    notes: Notes = None,
    prime_file: PrimeFile = None,
    accompany: Accompany = "",
) -> MusicResult:
    """``n`` pieces of ``bars`` bars; optionally in a key and meter, primed by typed
    ``notes`` (TinyNotation) or a MIDI/MusicXML file. ``key_pull``: nats against notes
    outside the key (0: the model as trained). ``accompany``: chords by a key-aware rule
    over the piece, played by a piano in that pattern."""
    settings = MusicSampling(bars, temperature, top_p, key_pull)
    parsed_key = parse_key(key) if key else None
    meter = parse_meter(time_signature)
    parts = parts_for(loaded, instrument)
    prime, source = prime_tokens(loaded, prime_file, notes, parsed_key, meter)
    rows = sample_tokens(loaded.model, prime, n, seed, settings)
    arts = []
    for i, row in enumerate(rows):
        piece = tokens.decode(prime + row, tempo=tempo, parts=parts)
        bars_made = (prime + row).count(tokens.BAR)
        piece = piece.window(0.0, bars_made * piece.bar_quarters)  # last notes end at the bar
        piece = accompanied(piece, accompany)
        prov = loaded.provenance(
            "sample" if source is None else "continue_",
            modality="music",
            seed=seed,
            index=i,
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
    loaded: LoadedModel,
    prime_file: PrimeFile = None,
    notes: Notes = None,
    bars: Bars = 16,
    n: Annotated[int, Param("how many continuations", min=1, max=64)] = 1,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    key: KeyName = None,
    key_pull: KeyPull = KEY_PULL,
    time_signature: Meter = None,
    tempo: Tempo = 100.0,
    instrument: Instrument = None,
    accompany: Accompany = "",
) -> MusicResult:
    """Continue a melody (a MIDI/MusicXML file, or typed notes): the controls of sample."""
    if not prime_file and not notes:
        raise InputError("continue needs a melody: a prime file (MIDI/MusicXML) or typed notes")
    return sample(
        loaded,
        bars=bars,
        n=n,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        key=key,
        key_pull=key_pull,
        time_signature=time_signature,
        tempo=tempo,
        instrument=instrument,
        notes=notes,
        prime_file=prime_file,
        accompany=accompany,
    )


def lyrics(
    loaded: LoadedModel,
    text: Annotated[str, Param("the words: a poem line or a few", positional=True)],
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    key: KeyName = None,
    key_pull: KeyPull = KEY_PULL,
    time_signature: Meter = None,
    tempo: Tempo = 90.0,
    instrument: Instrument = None,
    accompany: Accompany = "",
) -> MusicResult:
    """Set ``text`` (a poem line or a few) to a melody with one note per syllable, as MIDI
    and MusicXML with lyrics; ``accompany`` adds chords and a piano playing them."""
    if loaded.model.cfg.polyphonic:
        raise InputError("set lyrics with a melody model (trained on folk tunes), not chorales")
    syllables = syllables_of(text)
    if not syllables:
        raise InputError("the lyrics hold no words to sing")
    if len(syllables) > MAX_SYLLABLES:
        raise InputError(f"at most {MAX_SYLLABLES} syllables at once (got {len(syllables)})")
    parts = parts_for(loaded, instrument)
    parsed_key = parse_key(key) if key else None
    prime, _ = prime_tokens(loaded, None, None, parsed_key, parse_meter(time_signature))
    # A note lasts at most two bars, so this many bars always leaves room for every syllable.
    settings = MusicSampling(2 * len(syllables) + 2, temperature, top_p, key_pull)
    [row] = sample_tokens(loaded.model, prime, 1, seed, settings, note_count=len(syllables))
    piece = accompanied(tokens.decode(prime + row, tempo=tempo, parts=parts), accompany)
    provenance = loaded.provenance(
        "lyrics", modality="music", seed=seed, text=text, syllables=len(syllables)
    )
    art = MusicArtwork(f"song-s{seed}", piece, provenance, lyrics=syllables)
    return MusicResult([art], stem=f"song-s{seed}")


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("samples to generate", min=1)] = 16,
    seed: Seed = 0,
    out_dir: Any = None,
) -> MusicResult:
    """Validation NLL per event, feature statistics against held-out music, key
    consistency and originality of ``n`` samples."""
    return MusicResult(data=evaluate_music_lm(loaded, n=n, seed=seed), stem="evaluation")
