"""Registers the sound data sets, the kinds ``sound-vae`` and ``sound-gan``, their training
tasks and verbs, and lends sound models to other modalities as instruments."""

from __future__ import annotations

from functools import partial
from typing import Any

from museforge.core.data import get_dataset, register_dataset, register_user_source, skipped_record
from museforge.core.instruments import register_audio_reader, register_instrument_loader
from museforge.core.media import AUDIO_SUFFIXES
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.sound import verbs, verbs_play
from museforge.sound.audio import load_sound_file
from museforge.sound.data import load_sounds, notes_dataset, split_sounds
from museforge.sound.gan import SoundGAN, SoundGANConfig, SoundGANTask, SoundGANTraining
from museforge.sound.notes import ALL_PITCHED, TWO_PER_FAMILY, NoteSpec
from museforge.sound.vae import SoundVAE, SoundVAEConfig, SoundVAETask, SoundVAETraining

MODALITY = "sound"
HOLDOUT, SPLIT_SEED = 0.1, 0

register_dataset(
    "gm-notes",
    modality=MODALITY,
    description="single notes rendered here by FluidSynth from the General MIDI soundfont "
    f"(NSynth-like): {len(TWO_PER_FAMILY)} instruments, two of each pitched family, "
    "MIDI pitches 36-84, two velocities; class = family",
    size=f"{NoteSpec().count:,} notes of about 1 s (the model's rate and length; rendered "
    "once, about 10 s, then cached)",
    licence="MIT (FluidR3_GM soundfont, Frank Wen)",
    loader=notes_dataset,
)
register_dataset(
    "gm-notes-full",
    modality=MODALITY,
    description="gm-notes with every pitched General MIDI instrument (the 112 programs "
    "before percussion and sound effects)",
    size=f"{NoteSpec(programs=ALL_PITCHED).count:,} notes of about 1 s (rendered once, "
    "about 40 s, then cached; 0.7 GB in memory at 16 kHz)",
    licence="MIT (FluidR3_GM soundfont, Frank Wen)",
    loader=partial(notes_dataset, programs=ALL_PITCHED, name="gm-notes-full"),
)
register_user_source(
    MODALITY,
    "folder",
    "WAV/FLAC/OGG/MP3 files below PATH, one clip each (sub-folder: class; pitch by pYIN)",
)


def _sound_task(task_cls, config_cls, training_cls, model, training, data, seed):
    """A sound kind's task for the Trainer, plus the data description for the manifest."""
    probe = config_from_dict(config_cls, model, "model settings")
    spectral = probe.spectral
    full = load_sounds(data, spectral.rate, spectral.samples)
    model = {**model, "num_classes": full.num_classes}
    cfg = config_from_dict(config_cls, model, "model settings")
    train_cfg = config_from_dict(training_cls, training, "training settings")
    train, holdout = split_sounds(full, HOLDOUT, SPLIT_SEED)
    builtin = get_dataset(data, MODALITY)
    pitched = full.pitches[full.pitches >= 0]
    data_info = {
        "source": full.source,
        **({"licence": builtin.licence} if builtin else {"licence": "the user's own"}),
        "fingerprint": train.fingerprint,
        "full_fingerprint": full.fingerprint,
        "n_train": len(train),
        "n_holdout": len(holdout),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "class_names": list(full.class_names),
        "pitch_range": [int(pitched.min()), int(pitched.max())] if len(pitched) else None,
        "sample_rate": spectral.rate,
        "seconds": round(spectral.seconds, 3),
        **skipped_record(full.skipped),
    }
    return task_cls(cfg, train_cfg, train, seed), data_info


def vae_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A SoundVAETask for the Trainer, plus the data description for the manifest."""
    return _sound_task(SoundVAETask, SoundVAEConfig, SoundVAETraining, model, training, data, seed)


def gan_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A SoundGANTask for the Trainer, plus the data description for the manifest."""
    return _sound_task(SoundGANTask, SoundGANConfig, SoundGANTraining, model, training, data, seed)


register_kind(
    "sound-vae",
    modality=MODALITY,
    description="conditional VAE of single notes (log magnitude + instantaneous frequency, "
    "told the pitch's harmonics): timbre morphs and learned instruments",
    config_cls=SoundVAEConfig,
    model_cls=SoundVAE,
    task_factory=vae_task,
    default_run={"batch_size": 32},
)

register_kind(
    "sound-gan",
    modality=MODALITY,
    description="GAN of single notes as log magnitude + instantaneous frequency (GANSynth), "
    "told the family and pitch (harmonic comb, projection critic)",
    config_cls=SoundGANConfig,
    model_cls=SoundGAN,
    task_factory=gan_task,
    default_run={"batch_size": 32},
)

for _kind in ("sound-vae", "sound-gan"):
    for _fn in (verbs.sample, verbs.interpolate, verbs.breed, verbs_play.play):
        verb(_kind)(_fn)
    verb(_kind)(verbs_play.instrument)  # the studio serves the SFZ and its samples as a zip
    verb(_kind, studio=False)(verbs.evaluate)
verb("sound-vae")(verbs.encode)  # the studio's sound uploads are checked by decoding
register_instrument_loader(verbs_play.lend_instrument)  # music's --instrument MODEL@SEED
register_audio_reader(AUDIO_SUFFIXES, partial(load_sound_file, what="music"))  # visualise
