"""The verbs of chorale Coconets.

``harmonise`` (a soprano → alto, tenor, bass), ``infill`` (a chorale with bars and/or
voices erased → filled in), ``sample`` (chorale fragments from nothing) and ``evaluate``
(held-out NLL per erased cell; voice-leading errors of harmonised held-out sopranos next
to Bach's own on the same bars). Every piece carries its provenance: model hash, verb,
seed, arguments and the source it was made from.

Voice leading is enforced by constraint (``rules``, on by default): the model proposes
each pitch, the rules veto the ones that would make parallel fifths or octaves, cross a
voice or leave its range (see :mod:`museforge.music.coconet.sampling`). ``rules=False``
lets users hear the raw model; the choice is recorded with every piece's arguments.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from museforge.core.artifact import LoadedModel
from museforge.core.media import MUSIC_SUFFIXES
from museforge.core.verbs import SEED, Param
from museforge.errors import InputError
from museforge.music import instruments
from museforge.music.coconet.encoding import from_classes, grid_to_piece, piece_windows
from museforge.music.coconet.network import VOICES, CoconetConfig
from museforge.music.coconet.sampling import VetoStats, fill, harmonise_line, rewrite
from museforge.music.coconet.training import fixed_masks, grid_nll
from museforge.music.corpus import (
    CHORALE_PARTS,
    piece_from_music21,
    read_music_file,
    training_split,
)
from museforge.music.readers import estimate_key
from museforge.music.result import MusicResult
from museforge.music.score import STEP, Note, Piece
from museforge.music.tokens import bar_steps
from museforge.music.voiceleading import RANGES, count_errors, rates

MAX_BARS = 200  # longest piece harmonised or infilled (~1 minute of sampling on 2 cores)
FIT_SLACK = 3  # semitones a melody may stray outside the soprano range after shifting

Seed = Annotated[int, SEED]
Steps = Annotated[int, Param("Gibbs sampling rounds", min=1, max=1000)]
Temperature = Annotated[float, Param("lower: safer chords", min=0.05, max=5.0)]
Rules = Annotated[bool, Param("veto parallel fifths/octaves, crossings and out-of-range notes")]
Instrument = Annotated[str | None, Param(instruments.HELP)]
MUSIC_OR_CORPUS = "a MIDI/MusicXML/ABC file, or a music21 chorale such as bwv66.6"


# -- pieces in ----------------------------------------------------------------------------


def load_source(source: str, what: str) -> Piece:
    """A music file, or a music21 corpus piece by name (``bwv66.6``), quantised."""
    path = Path(source).expanduser()
    if path.is_file():
        return read_music_file(path).quantised()
    if path.suffix.lower() in MUSIC_SUFFIXES or "/" in source or "\\" in source:
        raise InputError(f"{what} file '{source}' does not exist")
    try:
        from music21 import corpus as m21corpus

        score = m21corpus.parse(source)
    except Exception:  # music21 raises several types for a name it cannot find
        raise InputError(
            f"{what} '{source}' is neither a music file nor a music21 corpus piece (e.g. bwv66.6)"
        ) from None
    return piece_from_music21(score, default_tempo=100.0, title=source).quantised()


def _mean_pitch(piece: Piece, part: int) -> float:
    pitches = [n.pitch for n in piece.notes if n.part == part]
    return float(np.mean(pitches)) if pitches else -math.inf


def highest_part(piece: Piece) -> Piece:
    """The part of ``piece`` with the highest mean pitch, alone, as part 0 (no chords)."""
    top = max(range(len(piece.parts)), key=lambda p: _mean_pitch(piece, p))
    notes = tuple(replace(n, part=0) for n in piece.notes if n.part == top)
    return replace(piece, notes=notes, parts=(piece.parts[top],), chords=())


def soprano_line(piece: Piece, cfg: CoconetConfig, source: str) -> tuple[Piece, int]:
    """The highest part of ``piece`` as voice 0, moved by whole octaves into the soprano
    range (the shift with fewest notes outside it, then the smallest); InputError when no
    shift brings every note within :data:`FIT_SLACK` semitones of the range."""
    notes = highest_part(piece).notes
    low, high = RANGES["soprano"]
    fit_low, fit_high = max(low - FIT_SLACK, cfg.low), min(high + FIT_SLACK, cfg.high)
    lo, hi = min(n.pitch for n in notes), max(n.pitch for n in notes)
    shifts = [s for s in (0, 12, -12, 24, -24, 36, -36) if fit_low <= lo + s and hi + s <= fit_high]
    if not shifts:
        raise InputError(
            f"melody '{source}' spans MIDI {lo}–{hi}, which no octave shift fits into the "
            f"soprano range {low}–{high} (±{FIT_SLACK})"
        )
    outside = [sum(not low <= n.pitch + s <= high for n in notes) for s in shifts]
    shift = shifts[int(np.argmin(outside))]
    moved = tuple(replace(n, pitch=n.pitch + shift) for n in notes)
    return replace(piece, notes=moved, title=piece.title or Path(source).stem), shift


def parse_region(piece: Piece, bars: str, voices: str) -> tuple[np.ndarray, list[int], str]:
    """The erased cells [4, L] for ``bars`` ("2-3", "5", "all"; counted from 1 at the
    start of the piece, a pickup being bar 1) and ``voices`` (letters of "satb")."""
    letters = voices.lower().replace(",", "").replace(" ", "")
    if not letters or set(letters) - set("satb") or len(set(letters)) != len(letters):
        raise InputError(f"voices must be distinct letters of 'satb', e.g. 'atb' (got '{voices}')")
    bar = bar_steps(piece.time_signature)
    n_bars = max(1, math.ceil(round(piece.end / STEP) / bar))
    text = bars.strip().lower()
    if text in ("", "all"):
        first, last = 1, n_bars
    else:
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", text)
        if not match:
            raise InputError(f"bars must look like '2-3', '5' or 'all' (got '{bars}')")
        first, last = int(match[1]), int(match[2] or match[1])
        if not 1 <= first <= last <= n_bars:
            raise InputError(f"bars {bars} is outside the piece's bars 1–{n_bars}")
    region = np.zeros((VOICES, n_bars * bar), dtype=bool)
    for letter in letters:
        region["satb".index(letter), (first - 1) * bar : last * bar] = True
    return region, [first, last], letters


def _check_length(piece: Piece, source: str) -> None:
    if piece.bars > MAX_BARS:
        raise InputError(f"'{source}' has {piece.bars} bars; at most {MAX_BARS} are supported")


def source_stem(source: str) -> str:
    """A file's stem, or a corpus name whole (``bwv66.6``), safe as a file name."""
    path = Path(source)
    name = path.stem if path.suffix.lower() in MUSIC_SUFFIXES else path.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "piece"


# -- verbs ---------------------------------------------------------------------------------


def harmonise(
    loaded: LoadedModel,
    melody: Annotated[str, Param(MUSIC_OR_CORPUS, input="music", corpus=True, positional=True)],
    seed: Seed = 0,
    steps: Steps = 96,
    temperature: Temperature = 0.7,
    rules: Rules = True,
    instrument: Instrument = None,
) -> MusicResult:
    """Alto, tenor and bass under a soprano: ``melody`` is a MIDI/MusicXML/ABC file (its
    highest part) or a music21 corpus piece such as ``bwv66.6`` (its soprano). ``steps``
    Gibbs sweeps per 2-bar window; ``temperature`` below 1 favours likelier notes;
    ``rules`` vetoes parallel fifths/octaves, crossings and out-of-range notes (off: the
    raw model); ``instrument``: one for all parts or per part (``soprano=oboe``)."""
    instruments.assign(instrument, CHORALE_PARTS)  # a bad spec fails before sampling
    source = load_source(melody, "melody")
    _check_length(source, melody)
    soprano, shift = soprano_line(source, loaded.model.cfg, melody)
    piece = harmonise_line(loaded.model, soprano, seed, steps, temperature, rules)
    piece = replace(piece, parts=instruments.assign(instrument, piece.parts))
    errors = count_errors(piece).per_100()
    prov = loaded.provenance(
        "harmonise",
        modality="music",
        seed=seed,
        lineage={"content": {"source": melody, "fingerprint": source.fingerprint()}},
        octave_shift=shift,
        voice_leading=errors,
    )
    name = f"harmonise-{source_stem(melody)}-s{seed}"
    return MusicResult(pieces=[(name, piece, prov)], data={"voice_leading": errors}, stem=name)


def infill(
    loaded: LoadedModel,
    chorale: Annotated[str, Param(MUSIC_OR_CORPUS, input="music", corpus=True, positional=True)],
    bars: Annotated[str, Param("bars to rewrite, e.g. 2-3 (from 1), or all")] = "2-3",
    voices: Annotated[str, Param("voices to rewrite: letters of satb")] = "atb",
    seed: Seed = 0,
    steps: Steps = 96,
    temperature: Temperature = 0.7,
    rules: Rules = True,
    instrument: Instrument = None,
) -> MusicResult:
    """Erase ``voices`` (letters of "satb") in ``bars`` ("2-3", counted from 1; "all")
    of a four-part ``chorale`` (file or music21 corpus name) and let the model refill them;
    everything outside the region is kept note for note. ``rules``: the voice-leading
    veto, and ``instrument``, as for harmonise."""
    source = load_source(chorale, "chorale")
    _check_length(source, chorale)
    if len(source.parts) != VOICES:
        raise InputError(f"chorale '{chorale}' has {len(source.parts)} parts; infill needs 4")
    # Parts ordered by falling mean pitch: soprano, alto, tenor, bass whatever the file's order.
    order = sorted(range(VOICES), key=lambda p: -_mean_pitch(source, p))
    notes = tuple(replace(n, part=order.index(n.part)) for n in source.notes)
    parts = instruments.assign(instrument, tuple(source.parts[p] for p in order))
    piece = replace(source, notes=notes, parts=parts)
    region, span, letters = parse_region(piece, bars, voices)
    result = rewrite(loaded.model, piece, region, seed, steps, temperature, rules)
    errors = count_errors(result).per_100()
    prov = loaded.provenance(
        "infill",
        modality="music",
        seed=seed,
        lineage={"content": {"source": chorale, "fingerprint": source.fingerprint()}},
        voice_leading=errors,
    )
    name = f"infill-{source_stem(chorale)}-b{span[0]}-{span[1]}{letters}-s{seed}"
    return MusicResult(pieces=[(name, result, prov)], data={"voice_leading": errors}, stem=name)


def sample(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many chorale fragments", min=1, max=64)] = 1,
    bars: Annotated[int, Param("length in bars of 4/4", min=1, max=64)] = 4,
    seed: Seed = 0,
    steps: Steps = 96,
    temperature: Temperature = 0.7,
    tempo: Annotated[float, Param("quarter notes per minute", min=20, max=300)] = 80.0,
    rules: Rules = True,
    instrument: Instrument = None,
) -> MusicResult:
    """``n`` four-part fragments of ``bars`` bars of 4/4 written from nothing (``rules``
    and ``instrument`` as for harmonise)."""
    parts = instruments.assign(instrument, CHORALE_PARTS)
    model = loaded.model
    length = bars * 16
    x = torch.full((n, VOICES, length), model.cfg.classes - 1, dtype=torch.long)
    region = torch.ones(n, VOICES, length, dtype=torch.bool)
    pos = (torch.arange(length) % 16).expand(n, length)
    grids = fill(model, x, region, pos, steps, seed, temperature, rules).numpy()
    pieces = []
    for i, grid in enumerate(grids):
        pitches = from_classes(grid, model.cfg)
        blank = Piece((Note(60, 0.0, 1.0),), parts, tempo=tempo)
        piece = grid_to_piece(pitches, None, blank)
        piece = replace(piece, key=estimate_key(piece.notes), title=f"chorale sample {i}")
        prov = loaded.provenance("sample", modality="music", seed=seed, index=i)
        pieces.append((f"chorale-s{seed}-{i:03d}", piece, prov))
    return MusicResult(pieces=pieces, stem=f"chorale-s{seed}")


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("held-out chorales to harmonise", min=1)] = 16,
    seed: Seed = 0,
    bars: Annotated[int, Param("bars of each chorale to harmonise", min=1)] = 8,
    steps: Steps = 64,
    temperature: Temperature = 0.7,
    rules: Rules = True,
    out_dir: Any = None,
) -> MusicResult:
    """Held-out NLL per erased cell (random erasures; alto+tenor+bass given the soprano),
    and voice-leading errors per 100 chords of the first ``bars`` bars of ``n`` held-out
    chorales harmonised from their sopranos, next to Bach's own on the same bars. With
    ``rules`` (the voice-leading veto, as harmonise uses by default) the raw model's
    harmonisations of the same sopranos are scored too (``voice_leading_raw``), so the
    model's own progress stays visible under the rules; ``veto`` says how much the rules
    changed (the mean share of the model's probability they removed per draw, and the share
    of draws where they allowed nothing, so the model's own distribution was used)."""
    model = loaded.model
    _, val = training_split(loaded.manifest, loaded.path)
    val = [p for p in val if len(p.parts) == VOICES]
    x, pos = piece_windows(val, model.cfg)
    x = x.long()
    random_masks, atb = fixed_masks(x.shape[0], model.cfg.window)
    bach, ours, raw = [], [], []
    veto = VetoStats()
    for i, piece in enumerate(val[:n]):
        excerpt = piece.window(0.0, bars * piece.bar_quarters)
        if not excerpt.part_notes(0):
            continue
        bach.append(excerpt)
        soprano = replace(excerpt, notes=tuple(excerpt.part_notes(0)))
        ours.append(harmonise_line(model, soprano, seed + i, steps, temperature, rules, veto))
        if rules:
            raw.append(harmonise_line(model, soprano, seed + i, steps, temperature, False))
    model_rates, bach_rates = rates(ours), rates(bach)
    data = {
        "val_nll": grid_nll(model, x, pos, random_masks),
        "val_harmonise_nll": grid_nll(model, x, pos, atb),
        "val_windows": int(x.shape[0]),
        "harmonised_pieces": len(ours),
        "bars_each": bars,
        "gibbs_steps": steps,
        "temperature": temperature,
        "rules": rules,
        "voice_leading": model_rates,
        "voice_leading_bach": bach_rates,
        "voice_leading_ratio": model_rates["total"] / max(bach_rates["total"], 1e-9),
    }
    if rules:
        data["veto"] = veto.summary()
    if raw:
        raw_rates = rates(raw)
        data["voice_leading_raw"] = raw_rates
        data["voice_leading_raw_ratio"] = raw_rates["total"] / max(bach_rates["total"], 1e-9)
    return MusicResult(data=data, stem="evaluation")
