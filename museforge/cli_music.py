"""The music commands of the ``museforge`` CLI: compose, song, harmonise, infill.

Each writes MIDI (always), a piano-roll PNG, MusicXML and WAV (FluidSynth with the General
MIDI soundfont, or the built-in synth with a notice) into the gallery, with provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from museforge.cli import (
    ModelArg,
    OutOpt,
    SeedOpt,
    _load,
    _run_verb,
    app,
    bench_app,
    models_dir,
    out,
)
from museforge.errors import InputError

BarsOpt = Annotated[int, typer.Option(help="length in bars")]
TempOpt = Annotated[float, typer.Option(help="randomness: lower is safer, higher is wilder")]
TopPOpt = Annotated[float, typer.Option("--top-p", help="nucleus: smallest set with this mass")]
KeyOpt = Annotated[str | None, typer.Option(help="key, e.g. 'D major', 'f# minor', 'Bb'")]
MeterOpt = Annotated[str | None, typer.Option("--time-signature", help="e.g. 3/4, 6/8")]
TempoOpt = Annotated[float, typer.Option(help="quarter notes per minute")]
InstrumentOpt = Annotated[
    int | None, typer.Option(help="General MIDI program 0-127 (e.g. 0 piano, 73 flute)")
]


def _music_model(model: str, *kinds: str):
    loaded = _load(model)
    if loaded.kind not in kinds:
        raise InputError(f"model '{model}' is a {loaded.kind} model, not {' or '.join(kinds)}")
    return loaded


@app.command()
def compose(
    model: ModelArg,
    bars: BarsOpt = 16,
    n: Annotated[int, typer.Option("--n", help="how many pieces")] = 1,
    seed: SeedOpt = 0,
    temperature: TempOpt = 1.0,
    top_p: TopPOpt = 0.95,
    key: KeyOpt = None,
    time_signature: MeterOpt = None,
    tempo: TempoOpt = 100.0,
    instrument: InstrumentOpt = None,
    notes: Annotated[
        str | None, typer.Option(help="prime with typed notes (TinyNotation): 'c4 d8 e f g2'")
    ] = None,
    prime: Annotated[
        Path | None, typer.Option(help="prime with a MIDI/MusicXML/ABC file (continue it)")
    ] = None,
    out_dir: OutOpt = None,
) -> None:
    """Compose melodies or chorales with a music LM (free, or continuing a melody)."""
    _music_model(model, "music-lm")
    _run_verb(
        model,
        "sample",
        out_dir,
        bars=bars,
        n=n,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        key=key,
        time_signature=time_signature,
        tempo=tempo,
        instrument=instrument,
        notes=notes,
        prime_file=str(prime) if prime else None,
    )


@app.command()
def song(
    model: ModelArg,
    text: Annotated[str, typer.Argument(help="the words: a poem line or a few")],
    seed: SeedOpt = 0,
    temperature: TempOpt = 1.0,
    key: KeyOpt = None,
    time_signature: MeterOpt = None,
    tempo: TempoOpt = 90.0,
    instrument: InstrumentOpt = None,
    out_dir: OutOpt = None,
) -> None:
    """Set words to a new melody, one note per syllable (MusicXML carries the lyrics)."""
    _music_model(model, "music-lm")
    _run_verb(
        model,
        "lyrics",
        out_dir,
        text=text,
        seed=seed,
        temperature=temperature,
        key=key,
        time_signature=time_signature,
        tempo=tempo,
        instrument=instrument,
    )


@bench_app.command("music")
def bench_music(
    budget: Annotated[str, typer.Option(help="training budget of our model, e.g. 5m")] = "5m",
    json_path: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    seed: SeedOpt = 0,
    work_dir: Annotated[Path, typer.Option(help="where the trained model goes")] = Path(
        "runs/bench-music"
    ),
) -> None:
    """Our music LM against n-gram and unigram baselines on folk melodies; speed;
    harmonisation voice leading next to Bach's (with the Coconet starter)."""
    import json

    from museforge.bench.music import format_table, run_music_bench
    from museforge.core.train import parse_duration

    results = run_music_bench(parse_duration(budget), work_dir, models_dir(), seed=seed)
    if json_path is not None:
        from museforge.core.atomic import atomic_write_text

        atomic_write_text(json_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    out.print(format_table(results))
