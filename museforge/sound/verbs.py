"""The verbs of sound models: sample notes, morph timbres, breed and encode sounds.

Every note is drawn from a latent (its timbre), a class (an instrument family, or a
folder's sub-folder) and a MIDI pitch, all recorded in its provenance, so any note can be
re-made, bred or morphed later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from museforge.core.artifact import LoadedModel
from museforge.core.grid import make_grid
from museforge.core.latent import crossover, draw_latents, encode_latent, mutate, slerp, truncate
from museforge.core.seeding import stream
from museforge.core.verbs import CHILDREN, MUTATION, SEED, Param
from museforge.errors import InputError
from museforge.gallery.provenance import parent_record, read_latent_parent
from museforge.sound.audio import fit_length, load_sound_file
from museforge.sound.data import UNPITCHED, estimate_pitch
from museforge.sound.picture import spectrogram_tensor
from museforge.sound.result import SoundArtwork, SoundResult

Pitch = Annotated[int | None, Param("MIDI pitch, 60 = middle C (default: any)", min=0, max=127)]
Family = Annotated[str | None, Param("class: an instrument family such as brass (default: any)")]
GriffinLim = Annotated[
    int,
    Param("spectrogram decoders: Griffin-Lim iterations after the drawn phase", min=0, max=200),
]
SOUND_PARENTS = Param("parent WAVs made by MODEL", input="sounds")
BATCH = 64


def class_names(loaded: LoadedModel) -> list[str]:
    names = loaded.manifest.get("data", {}).get("class_names")
    return list(names) if names else [str(i) for i in range(loaded.model.num_classes)]


def class_index(loaded: LoadedModel, family: str | None) -> int | None:
    """The class ``family`` names (a name or a number), or None for any."""
    if family is None:
        return None
    names = class_names(loaded)
    wanted = family.strip().lower()
    if wanted in names:
        return names.index(wanted)
    if wanted.isdigit() and int(wanted) < len(names):
        return int(wanted)
    raise InputError(f"family must be one of {', '.join(names)} (got {family!r})")


def pitch_range(loaded: LoadedModel) -> tuple[int, int]:
    found = loaded.manifest.get("data", {}).get("pitch_range")
    return (int(found[0]), int(found[1])) if found else (48, 72)


def draw_classes(loaded: LoadedModel, seed: int, n: int, family: str | None) -> torch.Tensor:
    chosen = class_index(loaded, family)
    if chosen is not None:
        return torch.full((n,), chosen, dtype=torch.long)
    return torch.randint(loaded.model.num_classes, (n,), generator=stream(seed, "classes"))


def _pitches(loaded: LoadedModel, seed: int, n: int, pitch: int | None) -> torch.Tensor:
    if pitch is not None:
        return torch.full((n,), int(pitch), dtype=torch.long)
    low, high = pitch_range(loaded)
    return torch.randint(low, high + 1, (n,), generator=stream(seed, "pitches"))


@torch.inference_mode()
def draw_waves(
    loaded: LoadedModel,
    z: torch.Tensor,
    labels: torch.Tensor,
    pitches: torch.Tensor,
    griffin_lim: int = 0,
) -> torch.Tensor:
    """The model's notes as waves (n, samples), in batches."""
    model = loaded.model.eval()
    parts = [
        model.render(z[s : s + BATCH], labels[s : s + BATCH], pitches[s : s + BATCH], griffin_lim)
        for s in range(0, len(z), BATCH)
    ]
    return torch.cat(parts)


def _artworks(loaded, verb, z, labels, pitches, names, extra, griffin_lim=0):
    drawn = draw_waves(loaded, z, labels, pitches, griffin_lim)
    pictures = spectrogram_tensor(loaded.model.spectral.features(drawn))
    waves = drawn.numpy()
    names_of = class_names(loaded)
    rate = loaded.model.spectral.rate
    arts = []
    for i, name in enumerate(names):
        prov = loaded.provenance(
            verb,
            latent=encode_latent(z[i]),
            label=int(labels[i]),
            family=names_of[int(labels[i])],
            pitch=int(pitches[i]),
            **extra[i],
        )
        picture = make_grid(pictures[i : i + 1], pad=0)
        arts.append(SoundArtwork(name, waves[i], rate, picture, prov))
    return arts, make_grid(pictures, nrow=min(len(names), 8))


def sample(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many notes", min=1, max=10_000)] = 8,
    seed: Annotated[int, SEED] = 0,
    pitch: Pitch = None,
    family: Family = None,
    truncation: Annotated[float, Param("≤1: more typical timbres", min=0.05, max=1.0)] = 1.0,
    griffin_lim: GriffinLim = 0,
) -> SoundResult:
    """Draw ``n`` notes: WAV files with their spectrograms."""
    z = truncate(draw_latents(loaded.model.z_dim, seed, n), truncation)
    labels = draw_classes(loaded, seed, n, family)
    pitches = _pitches(loaded, seed, n, pitch)
    extra = [{"seed": seed, "index": i} for i in range(n)]
    names = [f"note-s{seed}-{i:03d}" for i in range(n)]
    arts, grid = _artworks(loaded, "sample", z, labels, pitches, names, extra, griffin_lim)
    return SoundResult(arts, grid=grid, stem=f"notes-s{seed}")


def interpolate(
    loaded: LoadedModel,
    seed_a: Annotated[int, Param("seed of the first timbre")] = 1,
    seed_b: Annotated[int, Param("seed of the last timbre")] = 2,
    frames: Annotated[int, Param("notes from one timbre to the other", min=2, max=64)] = 8,
    pitch: Annotated[int, Param("MIDI pitch of every note", min=0, max=127)] = 60,
    family: Family = None,
    griffin_lim: GriffinLim = 0,
) -> SoundResult:
    """Morph one timbre into another: the notes of the walk, and the whole morph as one
    WAV (the notes in turn) with its spectrogram."""
    a, b = (
        draw_latents(loaded.model.z_dim, seed_a, 1)[0],
        draw_latents(loaded.model.z_dim, seed_b, 1)[0],
    )
    ts = [i / (frames - 1) for i in range(frames)]
    z = torch.stack([slerp(a, b, t) for t in ts])
    labels = draw_classes(loaded, seed_a, 1, family).expand(frames).clone()
    pitches = torch.full((frames,), pitch, dtype=torch.long)
    stem = f"morph-s{seed_a}-s{seed_b}"
    extra = [{"seed": seed_a, "t": t} for t in ts]
    names = [f"{stem}-{i:02d}" for i in range(frames)]
    arts, grid = _artworks(loaded, "interpolate", z, labels, pitches, names, extra, griffin_lim)
    strip = np.concatenate([art.wave for art in arts])
    whole = {k: v for k, v in arts[0].provenance.items() if k not in {"latent", "t"}}
    whole.update(frames=frames, ends=[seed_a, seed_b])
    arts.append(SoundArtwork(stem, strip, arts[0].rate, grid, whole))
    return SoundResult(arts, grid=grid, stem=stem, walk=True)


def _parent(loaded: LoadedModel, path: Path) -> tuple[torch.Tensor, dict[str, Any], str]:
    prov, z, digest = read_latent_parent(
        path,
        loaded.sha256,
        loaded.short_hash,
        loaded.model.z_dim,
        "breed sounds of the same model",
    )
    return z, prov, digest


def breed(
    loaded: LoadedModel,
    parents: Annotated[list[Path], SOUND_PARENTS],
    children: Annotated[int, CHILDREN] = 8,
    mutation: Annotated[float, MUTATION] = 0.3,
    seed: Annotated[int, SEED] = 0,
    pitch: Pitch = None,
) -> SoundResult:
    """Children of parent notes: their timbres crossed over, then ``mutation`` of fresh
    noise; each child takes the class and (unless ``pitch``) the pitch of a parent."""
    if not parents:
        raise InputError("breed needs at least one parent WAV")
    info = [_parent(loaded, Path(p)) for p in parents]
    zs = torch.stack([z for z, _, _ in info])
    gen = stream(seed, "breed")
    z = torch.stack([mutate(crossover(zs, gen), mutation, gen) for _ in range(children)])
    picks = torch.randint(len(info), (children,), generator=gen).tolist()
    labels = torch.tensor([int(info[i][1].get("label", 0)) for i in picks])
    pitches = torch.tensor(
        [int(pitch if pitch is not None else info[i][1].get("pitch", 60)) for i in picks]
    )
    lineage = [
        {"file": Path(p).name, "sha256": d} for p, (_, _, d) in zip(parents, info, strict=True)
    ]
    extra = [{"seed": seed, "index": i, "parents": lineage} for i in range(children)]
    names = [f"child-s{seed}-{i:03d}" for i in range(children)]
    arts, grid = _artworks(loaded, "breed", z, labels, pitches, names, extra)
    return SoundResult(arts, grid=grid, stem=f"breed-s{seed}")


def encode(
    loaded: LoadedModel,
    # an option, not an argument: the image kinds' encode takes its files as the argument
    sounds: Annotated[list[Path], Param("sounds to encode", input="sounds")],
    pitch: Annotated[
        int | None, Param("their MIDI pitch (default: found by pYIN)", min=0, max=127)
    ] = None,
    family: Family = None,
) -> SoundResult:
    """Turn your sounds into the model's latents: each re-drawn from its latent (a WAV
    to breed or morph from), the latents as JSON."""
    if not sounds:
        raise InputError("give at least one sound to encode")
    spectral = loaded.model.spectral
    clips, found = [], []
    for path in sounds:
        clip = fit_length(load_sound_file(path, spectral.rate), spectral.samples)
        clips.append(clip)
        found.append(pitch if pitch is not None else estimate_pitch(clip, spectral.rate))
    x = torch.from_numpy(np.stack(clips))
    chosen = class_index(loaded, family)
    labels = torch.full((len(sounds),), chosen or 0, dtype=torch.long)
    pitches = torch.tensor(found, dtype=torch.long)
    with torch.inference_mode():
        z = loaded.model.encode(spectral.features(x), labels, pitches)[0]
    extra = [
        {"source": parent_record(p), "pitch_found": found[i] != UNPITCHED}
        for i, p in enumerate(sounds)
    ]
    names = [f"encoded-{Path(p).stem}" for p in sounds]
    arts, grid = _artworks(loaded, "encode", z, labels, pitches, names, extra)
    data = {
        Path(p).name: {"latent": z[i].tolist(), "pitch": found[i]} for i, p in enumerate(sounds)
    }
    return SoundResult(arts, grid=grid, stem="encoded", data=data)


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("notes to draw", min=10, max=20_000)] = 400,
    seed: Annotated[int, SEED] = 0,
    out_dir: Path | None = None,
) -> SoundResult:
    """FID in a sound classifier's features, the family heard as asked, pitch accuracy
    (pYIN), NDB and the memorisation check, against the model's own training data.

    Notes are drawn for classes and pitches of the training notes, so the drawn set asks
    for what the data holds.
    """
    from museforge.sound.data import load_sounds, split_sounds
    from museforge.sound.evaluate import evaluate_sounds

    info = loaded.manifest.get("data", {})
    source = info.get("source")
    if not source:
        raise InputError(f"model '{loaded.path}' does not record its training data")
    spectral = loaded.model.spectral
    full = load_sounds(source, spectral.rate, spectral.samples)
    train, holdout = split_sounds(full, info.get("holdout", 0.1), info.get("split_seed", 0))
    pick = torch.randint(len(train), (n,), generator=stream(seed, "evaluate-notes"))
    labels, pitches = train.labels[pick], train.pitches[pick]
    z = draw_latents(loaded.model.z_dim, seed, n)
    waves = draw_waves(loaded, z, labels, pitches)
    metrics = evaluate_sounds(waves, labels, pitches, train, holdout, spectral, out_dir, seed)
    metrics["model"] = {"sha256": loaded.sha256, "kind": loaded.kind, "path": str(loaded.path)}
    metrics["data_matches_training"] = train.fingerprint == info.get("fingerprint")
    return SoundResult([], data=metrics, stem="evaluation")
