"""Sound data sets: clips of one length at one rate, each with a class and a pitch.

``gm-notes`` (see :mod:`museforge.sound.notes`) gives each note its instrument family as
the class and its MIDI pitch. A user's ``folder:PATH`` of WAV, FLAC, OGG or MP3 files
takes its classes from the sub-folders (none: one class) and each clip's pitch from
pYIN (librosa), or "unpitched" (-1) when most of it is unvoiced. Each file gives one clip,
from its first sound on; files that are unreadable, silent, too long or too large are
skipped with the reason, and counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from museforge.core.data import holdout_indices, resolve
from museforge.core.files import list_files
from museforge.core.media import AUDIO_SUFFIXES, UnusableFile, no_usable
from museforge.errors import DataError
from museforge.sound.audio import fit_length, is_silent, read_audio
from museforge.sound.notes import FAMILIES, TWO_PER_FAMILY, NoteSpec, gm_notes

MAX_FILE_SECONDS = 30.0  # a note set's files are notes and short sounds, not songs
UNPITCHED = -1
Progress = Callable[[int, int], None]


@dataclass
class SoundDataset:
    """Clips (n, samples) in [-1, 1] with their class and MIDI pitch (-1: unpitched)."""

    waves: torch.Tensor
    labels: torch.Tensor
    pitches: torch.Tensor
    class_names: tuple[str, ...]
    rate: int
    source: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.waves.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (self.waves, self.labels, self.pitches):
            digest.update(part.numpy().tobytes())
        return digest.hexdigest()

    def subset(self, index: torch.Tensor) -> SoundDataset:
        return SoundDataset(
            self.waves[index],
            self.labels[index],
            self.pitches[index],
            self.class_names,
            self.rate,
            self.source,
            self.skipped,
        )


def preview_notes(
    data: SoundDataset, z_dim: int, seed: int, n: int = 16
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fixed (latents, classes, pitches) for a training run's previews: ``n`` seeded
    latents at the classes and pitches of ``n`` notes of the data."""
    from museforge.core.latent import draw_latents
    from museforge.core.seeding import stream

    pick = torch.randperm(len(data), generator=stream(seed, "preview-notes"))[:n]
    return draw_latents(z_dim, seed, len(pick)), data.labels[pick], data.pitches[pick]


def split_sounds(
    data: SoundDataset, holdout: float, seed: int
) -> tuple[SoundDataset, SoundDataset]:
    """(training, held-out) parts by a seeded shuffle."""
    train, held = holdout_indices(len(data), holdout, seed, f"sound data '{data.source}'")
    return data.subset(train), data.subset(held)


def load_sounds(
    source: str, rate: int, samples: int, on_progress: Progress | None = None
) -> SoundDataset:
    """The clips of ``source`` (``gm-notes`` or ``folder:PATH``) at ``rate``, ``samples`` long."""
    found = resolve(source, "sound")
    if isinstance(found, tuple):
        return _folder(found[1], rate, samples, on_progress)
    return found.loader(rate=rate, samples=samples, on_progress=on_progress)


def notes_dataset(
    rate: int,
    samples: int,
    on_progress: Progress | None = None,
    programs: tuple[int, ...] = TWO_PER_FAMILY,
    name: str = "gm-notes",
) -> SoundDataset:
    """``gm-notes`` (or another choice of ``programs``) at ``rate`` and ``samples``: the
    class is the instrument family."""
    spec = NoteSpec(rate=rate, samples=samples, programs=programs)
    notes = gm_notes(spec, on_progress=on_progress)
    present = sorted(set(int(f) for f in notes.families))
    index = {family: i for i, family in enumerate(present)}
    labels = torch.tensor([index[int(f)] for f in notes.families])
    return SoundDataset(
        torch.from_numpy(notes.waves.astype(np.float32) / 32767),
        labels,
        torch.from_numpy(notes.pitches.astype(np.int64)),
        tuple(FAMILIES[f] for f in present),
        rate,
        name,
    )


def estimate_pitch(wave: np.ndarray, rate: int) -> int:
    """The MIDI pitch of a clip by pYIN (the median over its confidently voiced sounding
    frames), or -1 when its sounding frames are on the whole not voiced (noise, drums).
    pYIN's voiced flag alone calls most of white noise voiced; its probability does not."""
    import librosa  # imported here: numba compiles on first import, seconds

    f0, _, probability = librosa.pyin(
        wave, fmin=30.0, fmax=2100.0, sr=rate, frame_length=2048, hop_length=512
    )
    loud = librosa.feature.rms(y=wave, frame_length=2048, hop_length=512)[0] > 0.01
    loud = loud[: len(probability)]
    sure = loud & (probability > 0.5) & np.isfinite(f0)
    if not loud.any() or np.mean(probability[loud]) < 0.5 or not sure.any():
        return UNPITCHED
    return round(float(librosa.hz_to_midi(np.median(f0[sure]))))


def _first_sound(wave: np.ndarray) -> int:
    loud = np.flatnonzero(np.abs(wave) > 0.01 * np.abs(wave).max())
    return max(0, int(loud[0]) - 64) if loud.size else 0


def _folder(root: Path, rate: int, samples: int, on_progress: Progress | None) -> SoundDataset:
    skipped: list[str] = []
    files = list_files(root, skipped, AUDIO_SUFFIXES)
    classes = sorted({f.parts[0] for f in files if len(f.parts) > 1})
    clips, labels, pitches = [], [], []
    for i, rel in enumerate(files):
        if on_progress:
            on_progress(i + 1, len(files))
        if classes and len(rel.parts) == 1:
            skipped.append(f"{rel.as_posix()}: is not in a class sub-folder")
            continue
        try:
            wave = read_audio(root / rel, rate, MAX_FILE_SECONDS)
        except UnusableFile as why:
            skipped.append(f"{rel.as_posix()}: {why}")
            continue
        except OSError as err:
            skipped.append(f"{rel.as_posix()}: cannot be read ({err.strerror})")
            continue
        if is_silent(wave):
            skipped.append(f"{rel.as_posix()}: is silent")
            continue
        clip = fit_length(wave[_first_sound(wave) :], samples)
        clips.append(clip)
        labels.append(classes.index(rel.parts[0]) if classes else 0)
        pitches.append(estimate_pitch(clip, rate))
    if len(clips) < 2:
        raise DataError(no_usable(f"folder '{root}'", "sounds", skipped, AUDIO_SUFFIXES))
    return SoundDataset(
        torch.from_numpy(np.stack(clips)),
        torch.tensor(labels),
        torch.tensor(pitches),
        tuple(classes) or ("sound",),
        rate,
        f"folder:{root}",
        skipped,
    )
