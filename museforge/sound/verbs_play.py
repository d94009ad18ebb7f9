"""Playing a sound model: a MIDI file performed with one of its timbres (``play``), and
that timbre exported as a sampler instrument any DAW loads (``instrument``: SFZ).

The timbre is the latent of a seed, or of a note the model made (``--timbre NOTE.wav``),
with the note's family; both are recorded in the provenance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from museforge.core.artifact import LoadedModel, load_artifact
from museforge.core.atomic import atomic_write_with
from museforge.core.files import models_dir
from museforge.core.instruments import LentInstrument, NoteEvent
from museforge.core.latent import draw_latents, encode_latent
from museforge.core.verbs import SEED, Param
from museforge.errors import InputError
from museforge.gallery.provenance import parent_record, read_latent_parent
from museforge.sound.picture import spectrogram
from museforge.sound.play import Instrument, loop_points, midi_notes, perform
from museforge.sound.result import SoundArtwork, SoundResult
from museforge.sound.spectral import Spectral
from museforge.sound.verbs import (
    Family,
    GriffinLim,
    class_index,
    class_names,
    draw_classes,
    pitch_range,
)

Timbre = Annotated[
    Path | None,
    Param("a note made by MODEL whose timbre to play (default: the seed's)", input="sound"),
]
MAX_PICTURE_FRAMES = 1600
SOUND_KINDS = ("sound-vae", "sound-gan")  # the kinds that lend their notes as instruments


def instrument_of(
    loaded: LoadedModel,
    seed: int,
    family: str | None,
    timbre: Path | None,
    griffin_lim: int,
) -> tuple[Instrument, dict[str, Any]]:
    """The instrument a seed (or a note's latent) and a family make, and its record."""
    if timbre is not None:
        prov, z, digest = read_latent_parent(
            timbre,
            loaded.sha256,
            loaded.short_hash,
            loaded.model.z_dim,
            "give a note this model made",
        )
        label = class_index(loaded, family)
        label = int(prov.get("label", 0)) if label is None else label
        record = {"timbre": {"file": Path(timbre).name, "sha256": digest}}
    else:  # the timbre of the first note `sample --seed SEED` draws (its latent and class)
        z = draw_latents(loaded.model.z_dim, seed, 1)[0]
        label = int(draw_classes(loaded, seed, 1, family)[0])
        record = {"seed": seed}
    record.update(latent=encode_latent(z), label=label, family=class_names(loaded)[label])
    return Instrument(loaded.model, z[None], label, griffin_lim), record


def whole_spectrogram(wave: np.ndarray, spectral: Spectral):
    """A picture of a whole performance (frames thinned to at most MAX_PICTURE_FRAMES)."""
    frames = len(wave) // spectral.hop + 1
    whole = Spectral(spectral.rate, spectral.n_fft, spectral.hop, frames)
    features = whole.features(torch.from_numpy(wave)[None])
    if frames > MAX_PICTURE_FRAMES:
        keep = torch.linspace(0, frames - 1, MAX_PICTURE_FRAMES).round().long()
        features = features[..., keep]
    return spectrogram(features[0])


def play(
    loaded: LoadedModel,
    music: Annotated[Path, Param("a MIDI file to play", input="music", positional=True)],
    seed: Annotated[int, SEED] = 0,
    family: Family = None,
    timbre: Timbre = None,
    griffin_lim: GriffinLim = 0,
) -> SoundResult:
    """Play a MIDI file with the model's own notes (one timbre for every part)."""
    notes = midi_notes(music)
    instrument, record = instrument_of(loaded, seed, family, timbre, griffin_lim)
    wave = perform(instrument, notes)
    name = f"play-{Path(music).stem}-s{seed}"
    prov = loaded.provenance("play", **record, source=parent_record(music), notes=len(notes))
    spectral = loaded.model.spectral
    art = SoundArtwork(name, wave, spectral.rate, whole_spectrogram(wave, spectral), prov)
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    return SoundResult(
        [art],
        stem=name,
        message=f"{len(notes)} notes, pitches {low}-{high}, {len(wave) / spectral.rate:.1f} s",
    )


def sfz_text(
    name: str,
    samples: list[tuple[int, str]],
    record: dict[str, Any],
    loops: dict[int, tuple[int, int]] | None = None,
) -> str:
    """An SFZ instrument: one region per sample, each covering the keys nearest to it; a
    sample with a loop (``loops[pitch]``: first and past-the-last sample) sustains it
    while the key is held, as museforge's own play does."""
    lines = [
        f"// {name}: a museforge instrument (model {record['model']}, {record['timbre']})",
        "<control>",
        f"default_path={name}-samples/",
        "<global>",
        "ampeg_release=0.08",
        "amp_veltrack=100",
    ]
    centres = [p for p, _ in samples]
    for i, (pitch, file) in enumerate(samples):
        low = 0 if i == 0 else (centres[i - 1] + pitch) // 2 + 1
        high = 127 if i == len(samples) - 1 else (pitch + centres[i + 1]) // 2
        region = f"<region> sample={file} lokey={low} hikey={high} pitch_keycenter={pitch}"
        if loops and pitch in loops:
            start, end = loops[pitch]
            region += f" loop_mode=loop_sustain loop_start={start} loop_end={end - 1}"
        lines.append(region)
    return "\n".join(lines) + "\n"


class InstrumentResult(SoundResult):
    """A sampler instrument: ``NAME.sfz``, its samples in ``NAME-samples/``, both in one
    ``NAME.sfz.zip`` to download, and a scale played on it as the gallery's sound (the SFZ
    and the zip are its companions)."""

    def __init__(self, demo: SoundArtwork, samples: dict[str, np.ndarray], sfz: str):
        super().__init__([demo], stem=demo.name, message=f"{len(samples)} samples")
        self.samples, self.sfz = samples, sfz

    def write_to(self, folder: str | Path, upscale: int = 1) -> list[Path]:
        from museforge.core.atomic import atomic_write_text
        from museforge.sound.audio import write_wav

        folder = Path(folder)
        name = self.artworks[0].name
        rate = self.artworks[0].rate
        paths = [
            write_wav(folder / f"{name}-samples" / f, w, rate) for f, w in self.samples.items()
        ]
        sfz = atomic_write_text(folder / f"{name}.sfz", self.sfz.replace("{name}", name))
        paths += [sfz, _zip_instrument(folder / f"{name}.sfz.zip", sfz, paths)]
        return paths + super().write_to(folder, upscale)


def _zip_instrument(path: Path, sfz: Path, samples: list[Path]) -> Path:
    """The SFZ and its samples folder in one zip, as a sampler unpacks them; atomically."""
    import zipfile

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as box:
            box.write(sfz, sfz.name)
            for sample in samples:
                box.write(sample, f"{sample.parent.name}/{sample.name}")

    return atomic_write_with(path, write)


def instrument(
    loaded: LoadedModel,
    seed: Annotated[int, SEED] = 0,
    family: Family = None,
    timbre: Timbre = None,
    every: Annotated[int, Param("a sample every this many semitones", min=1, max=12)] = 3,
    griffin_lim: GriffinLim = 0,
) -> SoundResult:
    """Export one timbre as an SFZ instrument (WAV samples + .sfz) for any sampler or DAW;
    its sound in the gallery is a scale played on it."""
    inst, record = instrument_of(loaded, seed, family, timbre, griffin_lim)
    low, high = pitch_range(loaded)
    pitches = list(range(low, high + 1, every))
    inst.prepare(pitches)
    samples = {f"p{p:03d}.wav": inst.note(p) for p in pitches}
    name = f"instrument-s{seed}" if timbre is None else f"instrument-{Path(timbre).stem}"
    described = {
        "model": loaded.short_hash,
        "timbre": f"seed {seed}" if timbre is None else Path(timbre).name,
    }
    loops = {p: loop_points(len(samples[f"p{p:03d}.wav"]), p, inst.rate) for p in pitches}
    sfz = sfz_text("{name}", [(p, f"p{p:03d}.wav") for p in pitches], described, loops)
    scale = [NoteEvent(i * 0.4, i * 0.4 + 0.35, p, 100) for i, p in enumerate(pitches)]
    wave = perform(inst, scale)
    prov = loaded.provenance("instrument", **record, samples=len(pitches), every=every)
    spectral = loaded.model.spectral
    demo = SoundArtwork(name, wave, spectral.rate, whole_spectrogram(wave, spectral), prov)
    return InstrumentResult(demo, samples, sfz)


def lend_instrument(name: str) -> LentInstrument | None:
    """The instrument ``MODEL`` or ``MODEL@SEED`` names (a sound model's folder or starter
    name, and the seed of its timbre), for other modalities' ``--instrument``; None when
    ``name`` is no sound model."""
    model, _, seed_text = name.strip().partition("@")
    path = Path(model).expanduser()
    if not path.is_dir():
        path = models_dir() / model
    try:
        kind = json.loads((path / "model.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    if kind not in SOUND_KINDS:
        return None
    if seed_text and not seed_text.lstrip("-").isdigit():
        raise InputError(f"instrument '{name}': the seed after @ must be a whole number")
    seed = int(seed_text or 0)
    loaded = load_artifact(path)
    inst, record = instrument_of(loaded, seed, None, None, 0)

    def render(notes: list[NoteEvent]) -> tuple[np.ndarray, int]:
        return perform(inst, notes), inst.rate

    about = {k: v for k, v in record.items() if k != "latent"}
    return LentInstrument(render, {"model": loaded.short_hash, "kind": loaded.kind, **about})
