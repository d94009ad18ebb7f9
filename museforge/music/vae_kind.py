"""Registers the melody VAE kind, its training task and its verbs.

Verbs: ``sample`` (phrases from seeded latents), ``encode`` (a user's melody → latent and
reconstruction), ``interpolate`` (slerp between two melodies or seeds) and ``condition``
(push a melody or a sample along an attribute vector: note density, pitch range, mean
pitch). Every phrase is two bars of 4/4 (see :mod:`museforge.music.melody_vae`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.core.seeding import stream
from museforge.errors import DataError, InputError
from museforge.gallery.provenance import encode_latent
from museforge.image.latent import draw_latents, slerp
from museforge.music.melody_vae import (
    ATTRIBUTES,
    MelodyVAE,
    MelodyVAEConfig,
    MelodyVAETask,
    MelodyVAETraining,
    attribute_values,
    melody_line,
    phrase_from_line,
    phrase_tensor,
    phrase_windows,
    piece_from_phrase,
)
from museforge.music.result import MusicResult
from museforge.music.score import STEP, Piece

HOLDOUT, SPLIT_SEED = 0.1, 0
SOURCES = ("folk", "chorales")  # joinable with '+': "folk+chorales"
ALIASES = {"note_density": "density", "pitch_range": "range", "mean_pitch": "pitch"}
MAX_SAMPLES, MAX_STEPS, MAX_AMOUNT = 1000, 64, 10.0


# -- training ------------------------------------------------------------------------------
def melody_vae_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A MelodyVAETask for the Trainer (2-bar windows of every training piece's top line;
    random transposition on the fly), plus the data description for the manifest."""
    from museforge.music.corpus import load_music, split_pieces

    cfg = config_from_dict(MelodyVAEConfig, model, "model settings")
    train_cfg = config_from_dict(MelodyVAETraining, training, "training settings")
    names = data.split("+") if not data.startswith("folder:") else [data]
    train_pieces, val_pieces, info = [], [], []
    for name in names:
        corpus = load_music(name)
        train, val = split_pieces(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
        train_pieces += train
        val_pieces += val
        info.append((corpus, len(train), len(val)))
    train_x = phrase_tensor([w for p in train_pieces for w in phrase_windows(p, cfg)], cfg)
    val_x = phrase_tensor([w for p in val_pieces for w in phrase_windows(p, cfg)], cfg)
    if len(train_x) < 8 or len(val_x) < 1:
        raise DataError(
            f"data '{data}': {len(train_x)} training and {len(val_x)} held-out {cfg.bars}-bar "
            "phrases with notes: too few for a melody VAE"
        )
    combined = hashlib.sha256("+".join(c.fingerprint for c, _, _ in info).encode()).hexdigest()
    data_info = {
        "source": data,
        "fingerprint": info[0][0].fingerprint if len(info) == 1 else combined,
        "sources": [{"source": c.source, "fingerprint": c.fingerprint} for c, _, _ in info],
        "n_train": sum(n for _, n, _ in info),
        "n_holdout": sum(n for _, _, n in info),
        "train_phrases": len(train_x),
        "holdout_phrases": len(val_x),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "transpositions": f"{train_cfg.transpose[0]}..+{train_cfg.transpose[1]} semitones, "
        "random per training phrase",
        "skipped_files": sum(len(c.skipped) for c, _, _ in info),
        "skipped": [s for c, _, _ in info for s in c.skipped][:20],
    }
    return MelodyVAETask(cfg, train_cfg, train_x, val_x, seed), data_info


# -- helpers for the verbs -----------------------------------------------------------------
def _provenance(loaded: LoadedModel, verb_name: str, **fields: Any) -> dict[str, Any]:
    return loaded.provenance(verb_name, modality="music", **fields)


def _read_phrase(
    loaded: LoadedModel, melody: str | Path, bar: int
) -> tuple[torch.Tensor, Piece, dict[str, Any]]:
    """The first phrase with notes at or after bar ``bar`` of a MIDI/MusicXML file's top
    part (moved by octaves into the model's range), the source piece and its lineage."""
    from museforge.music.corpus import read_music_file

    if bar < 0:
        raise InputError(f"--bar must be 0 or more (got {bar})")
    path = Path(melody)
    piece = read_music_file(path)
    cfg = loaded.model.cfg
    line = melody_line(piece)
    bar_len = round(piece.bar_quarters / STEP)
    last = round(line[-1].start / STEP) if line else -1
    for start in range(bar * bar_len, last + 1, bar_len):
        tokens = phrase_from_line(line, start, cfg)
        if tokens is not None and any(t >= 2 for t in tokens):
            source = {
                "file": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "bar": start // bar_len,
            }
            return torch.tensor([tokens]), piece, source
    raise InputError(
        f"'{path}': no {cfg.bars}-bar phrase with notes in MIDI {cfg.low}-{cfg.high} "
        f"(octaves allowed) from bar {bar}"
    )


def _encode(loaded: LoadedModel, phrase: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return loaded.model.eval().encode(phrase)[0][0]


def _decode(loaded: LoadedModel, z: torch.Tensor) -> list[list[int]]:
    """Greedy decoding (the most likely token at each step): the same latent always gives
    the same phrase, so edits come from the latent alone."""
    return loaded.model.eval().generate(z).tolist()


def _art(loaded, name, tokens, piece_from, verb_name, z, **fields) -> tuple[str, Piece, dict]:
    tempo = piece_from.tempo if piece_from is not None else 100.0
    key = piece_from.key if piece_from is not None else None
    piece = piece_from_phrase(tokens, loaded.model.cfg, tempo=tempo, key=key, title=name)
    prov = _provenance(loaded, verb_name, latent=encode_latent(z), **fields)
    return name, piece, prov


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InputError(f"--{name} must be between {low:g} and {high:g} (got {value})")


# -- verbs ---------------------------------------------------------------------------------
def sample(loaded: LoadedModel, n: int = 4, seed: int = 0, temperature: float = 1.0) -> MusicResult:
    """``n`` two-bar melodies from seeded latents; sample i of a seed is the same however
    many are asked for. ``temperature`` scales the decoder's note choices (0.1–2)."""
    _check_range("n", n, 1, MAX_SAMPLES)
    _check_range("temperature", temperature, 0.01, 5.0)
    model = loaded.model.eval()
    z = draw_latents(model.z_dim, seed, n)
    gens = [stream(seed, "notes", i) for i in range(n)]
    phrases = model.generate(z, temperature, gens).tolist()
    settings = {"n": n, "temperature": temperature}
    arts = [
        _art(
            loaded,
            f"melody-s{seed}-{i:03d}",
            p,
            None,
            "sample",
            z[i],
            seed=seed,
            index=i,
            settings=settings,
        )
        for i, p in enumerate(phrases)
    ]
    return MusicResult(pieces=arts, stem=f"melody-s{seed}")


def encode(loaded: LoadedModel, melody: str, bar: int = 0) -> MusicResult:
    """A melody file's first phrase with notes from bar ``bar``: its latent (posterior
    mean) as data, the phrase as read and the model's reconstruction of it."""
    phrase, source_piece, source = _read_phrase(loaded, melody, bar)
    z = _encode(loaded, phrase)
    recon = _decode(loaded, z[None])[0]
    stem = f"{Path(melody).stem}-b{source['bar']}"
    fields = {"source": source, "settings": {"bar": bar}}
    arts = [
        _art(loaded, f"{stem}-phrase", phrase[0].tolist(), source_piece, "encode", z, **fields),
        _art(loaded, f"{stem}-recon", recon, source_piece, "encode", z, **fields),
    ]
    same = sum(a == b for a, b in zip(recon, phrase[0].tolist(), strict=True))
    data = {
        "latent": z.tolist(),
        "source": source,
        "reconstruction_accuracy": same / len(recon),
        "model": {"sha256": loaded.sha256, "kind": loaded.kind},
    }
    return MusicResult(pieces=arts, data=data, stem=f"{stem}-latent")


def _end(loaded: LoadedModel, melody: str | None, seed: int) -> tuple[torch.Tensor, Any, Any]:
    if melody is None:
        return draw_latents(loaded.model.z_dim, seed, 1)[0], None, f"s{seed}"
    phrase, piece, source = _read_phrase(loaded, melody, 0)
    return _encode(loaded, phrase), piece, source


def _tag(source: str | dict[str, Any]) -> str:
    """A short name for a latent's origin: ``s7`` for a seed, the file stem for a melody."""
    return source if isinstance(source, str) else Path(source["file"]).stem


def interpolate(
    loaded: LoadedModel,
    melody_a: str | None = None,
    melody_b: str | None = None,
    seed_a: int = 1,
    seed_b: int = 2,
    steps: int = 5,
) -> MusicResult:
    """``steps`` phrases along the slerp from A to B, where each end is a melody file's
    first phrase (encoded) or, without one, the first sample of a seed."""
    _check_range("steps", steps, 2, MAX_STEPS)
    za, piece_a, src_a = _end(loaded, melody_a, seed_a)
    zb, piece_b, src_b = _end(loaded, melody_b, seed_b)
    stem = f"interp-{_tag(src_a)}-{_tag(src_b)}"
    ts = [i / (steps - 1) for i in range(steps)]
    z = torch.stack([slerp(za, zb, t) for t in ts])
    phrases = _decode(loaded, z)
    names = [f"{stem}-{i:02d}" for i in range(steps)]
    parents = [s for s in (src_a, src_b) if isinstance(s, dict)]
    settings = {
        "melody_a": melody_a,
        "melody_b": melody_b,
        "seed_a": seed_a,
        "seed_b": seed_b,
        "steps": steps,
    }
    ends = [f"{names[0]}.mid", f"{names[-1]}.mid"]
    arts = [
        _art(
            loaded,
            names[i],
            p,
            piece_a or piece_b,
            "interpolate",
            z[i],
            t=ts[i],
            index=i,
            seed=seed_a,
            ends=ends,
            parents=parents,
            settings=settings,
        )
        for i, p in enumerate(phrases)
    ]
    return MusicResult(pieces=arts, stem=stem)


def condition(
    loaded: LoadedModel,
    attribute: str = "density",
    amount: float = 1.0,
    melody: str | None = None,
    seed: int = 0,
) -> MusicResult:
    """Push a melody file's first phrase (or seed ``seed``'s first sample) along an
    attribute vector: ``density`` (notes per bar), ``range`` (highest minus lowest pitch)
    or ``pitch`` (mean pitch). ``amount`` 1 moves the latent by the gap between the
    training phrases' top and bottom quartiles; negative amounts push the other way.
    Returns the phrase before and after."""
    name = ALIASES.get(attribute, attribute)
    if name not in ATTRIBUTES:
        raise InputError(f"unknown attribute '{attribute}' (known: {', '.join(ATTRIBUTES)})")
    _check_range("amount", amount, -MAX_AMOUNT, MAX_AMOUNT)
    model = loaded.model
    row = ATTRIBUTES.index(name)
    vector = model.attribute_vectors[row]
    if not bool(vector.any()):
        raise InputError(f"model '{loaded.path}' holds no attribute vectors (it was not trained)")
    z0, piece, src = _end(loaded, melody, seed)
    z = torch.stack([z0, z0 + amount * vector])
    phrases = _decode(loaded, z)
    values = attribute_values(torch.tensor(phrases), model.cfg)[:, row].tolist()
    stem = f"{_tag(src)}-{name}{amount:+g}"
    settings = {"attribute": name, "amount": amount, "melody": melody, "seed": seed}
    lineage = {"parents": [src]} if isinstance(src, dict) else {}
    arts = [
        _art(
            loaded,
            f"{stem}-{tag}",
            p,
            piece,
            "condition",
            z[i],
            seed=seed,
            index=i,
            offset=[0.0, amount][i],
            settings=settings,
            **lineage,
        )
        for i, (tag, p) in enumerate(zip(("before", "after"), phrases, strict=True))
    ]
    low, high = model.attribute_quartiles[row].tolist()
    data = {
        "attribute": name,
        "amount": amount,
        "before": values[0],
        "after": values[1],
        "training_quartile_means": {"bottom": low, "top": high},
    }
    return MusicResult(pieces=arts, data=data, stem=stem)


register_kind(
    "melody-vae",
    modality="music",
    description="MusicVAE-style 2-bar melody VAE: sample, encode, interpolate, attribute vectors",
    config_cls=MelodyVAEConfig,
    model_cls=MelodyVAE,
    task_factory=melody_vae_task,
    default_run={"batch_size": 64},
)
for _fn in (sample, encode, interpolate, condition):
    verb("melody-vae")(_fn)
