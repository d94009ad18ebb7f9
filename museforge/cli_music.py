"""The music commands of the ``museforge`` CLI: compose, song, harmonise, infill, phrase.

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
from museforge.music.generate import KEY_PULL

BarsOpt = Annotated[int, typer.Option(help="length in bars")]
TempOpt = Annotated[float, typer.Option(help="randomness: lower is safer, higher is wilder")]
TopPOpt = Annotated[float, typer.Option("--top-p", help="nucleus: smallest set with this mass")]
KeyOpt = Annotated[str | None, typer.Option(help="key, e.g. 'D major', 'f# minor', 'Bb'")]
KeyPullOpt = Annotated[
    float, typer.Option(help="nats against notes outside the key (0: the model as trained)")
]
MeterOpt = Annotated[str | None, typer.Option("--time-signature", help="e.g. 3/4, 6/8")]
TempoOpt = Annotated[float, typer.Option(help="quarter notes per minute")]
InstrumentOpt = Annotated[
    str | None,
    typer.Option(
        help="a name or General MIDI number for every part (flute, 73), one per part "
        "(violin,viola,cello,contrabass) or by part (soprano=oboe,bass=bassoon)"
    ),
]


def _music_model(model: str, *kinds: str):
    return _load(model, kinds)


@app.command()
def compose(
    model: ModelArg,
    bars: BarsOpt = 16,
    n: Annotated[int, typer.Option("--n", help="how many pieces")] = 1,
    seed: SeedOpt = 0,
    temperature: TempOpt = 1.0,
    top_p: TopPOpt = 0.95,
    key: KeyOpt = None,
    key_pull: KeyPullOpt = KEY_PULL,
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
        key_pull=key_pull,
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
    key_pull: KeyPullOpt = KEY_PULL,
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
        key_pull=key_pull,
        time_signature=time_signature,
        tempo=tempo,
        instrument=instrument,
    )


MelodyArg = Annotated[
    str, typer.Argument(help="a MIDI/MusicXML/ABC file, or a music21 chorale such as bwv66.6")
]
StepsOpt = Annotated[int, typer.Option(help="Gibbs sampling rounds")]
RulesOpt = Annotated[
    bool, typer.Option(help="veto parallel fifths/octaves, crossings and out-of-range notes")
]


@app.command()
def harmonise(
    model: ModelArg,
    melody: MelodyArg,
    seed: SeedOpt = 0,
    steps: StepsOpt = 96,
    temperature: Annotated[float, typer.Option(help="lower: safer chords")] = 0.7,
    rules: RulesOpt = True,
    instrument: InstrumentOpt = None,
    out_dir: OutOpt = None,
) -> None:
    """Write alto, tenor and bass under a soprano melody (Coconet-style chorale model)."""
    _music_model(model, "chorale-coconet")
    _run_verb(
        model,
        "harmonise",
        out_dir,
        melody=melody,
        seed=seed,
        steps=steps,
        temperature=temperature,
        rules=rules,
        instrument=instrument,
    )


@app.command()
def infill(
    model: ModelArg,
    chorale: MelodyArg,
    bars: Annotated[str, typer.Option(help="bars to rewrite, e.g. 2-3 (from 1), or all")] = "2-3",
    voices: Annotated[str, typer.Option(help="voices to rewrite: letters of satb")] = "atb",
    seed: SeedOpt = 0,
    steps: StepsOpt = 96,
    rules: RulesOpt = True,
    instrument: InstrumentOpt = None,
    out_dir: OutOpt = None,
) -> None:
    """Erase bars and voices of a chorale and let the model fill them in."""
    _music_model(model, "chorale-coconet")
    _run_verb(
        model,
        "infill",
        out_dir,
        chorale=chorale,
        bars=bars,
        voices=voices,
        seed=seed,
        steps=steps,
        rules=rules,
        instrument=instrument,
    )


phrase_app = typer.Typer(help="Two-bar melodies with a melody VAE: sample, encode, blend, push.")
app.add_typer(phrase_app, name="phrase")


@phrase_app.command("sample")
def phrase_sample(
    model: ModelArg,
    n: Annotated[int, typer.Option("--n", help="how many phrases")] = 4,
    seed: SeedOpt = 0,
    temperature: TempOpt = 1.0,
    out_dir: OutOpt = None,
) -> None:
    """Draw new two-bar phrases from the latent space."""
    _music_model(model, "melody-vae")
    _run_verb(model, "sample", out_dir, n=n, seed=seed, temperature=temperature)


@phrase_app.command("encode")
def phrase_encode(
    model: ModelArg,
    melody: Annotated[str, typer.Argument(help="a MIDI/MusicXML/ABC file")],
    bar: Annotated[int, typer.Option(help="the phrase starting at this bar (from 0)")] = 0,
    out_dir: OutOpt = None,
) -> None:
    """Encode two bars of your melody: its latent and how the model hears it back."""
    _music_model(model, "melody-vae")
    _run_verb(model, "encode", out_dir, melody=melody, bar=bar)


@phrase_app.command("blend")
def phrase_blend(
    model: ModelArg,
    melody_a: Annotated[str | None, typer.Option("--a", help="first melody file")] = None,
    melody_b: Annotated[str | None, typer.Option("--b", help="second melody file")] = None,
    seed_a: Annotated[int, typer.Option(help="seed of the first end without --a")] = 1,
    seed_b: Annotated[int, typer.Option(help="seed of the second end without --b")] = 2,
    steps: Annotated[int, typer.Option(help="phrases from one end to the other")] = 5,
    out_dir: OutOpt = None,
) -> None:
    """Interpolate between two melodies (or two seeds) through the latent space."""
    _music_model(model, "melody-vae")
    _run_verb(
        model,
        "interpolate",
        out_dir,
        melody_a=melody_a,
        melody_b=melody_b,
        seed_a=seed_a,
        seed_b=seed_b,
        steps=steps,
    )


@phrase_app.command("push")
def phrase_push(
    model: ModelArg,
    attribute: Annotated[str, typer.Option(help="density, range or pitch")] = "density",
    amount: Annotated[
        float, typer.Option(help="how far along the attribute (negative: less)")
    ] = 1.0,
    melody: Annotated[str | None, typer.Option(help="your melody file (else a sample)")] = None,
    seed: SeedOpt = 0,
    out_dir: OutOpt = None,
) -> None:
    """Push a melody along an attribute vector: busier or calmer, wider or narrower."""
    _music_model(model, "melody-vae")
    _run_verb(
        model, "condition", out_dir, attribute=attribute, amount=amount, melody=melody, seed=seed
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
