"""The verbs of melody VAEs.

``sample`` (phrases from seeded latents), ``encode`` (a user's melody → latent and
reconstruction), ``interpolate`` (slerp between two melodies or seeds) and ``condition``
(push a melody or a sample along an attribute vector: note density, pitch range, mean
pitch). Every phrase is two bars of 4/4 (see :mod:`museforge.music.melody_vae`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.latent import draw_latents, encode_latent, slerp
from museforge.core.seeding import stream
from museforge.core.verbs import SEED, Param
from museforge.errors import InputError
from museforge.gallery.provenance import parent_record
from museforge.music.corpus import read_music_file
from museforge.music.melody_vae import (
    ATTRIBUTES,
    attribute_values,
    melody_line,
    phrase_from_line,
    piece_from_phrase,
)
from museforge.music.result import MusicResult
from museforge.music.score import STEP, Piece

ALIASES = {"note_density": "density", "pitch_range": "range", "mean_pitch": "pitch"}
MAX_SAMPLES, MAX_STEPS, MAX_AMOUNT = 1000, 64, 10.0


# -- helpers -------------------------------------------------------------------------------
def _read_phrase(
    loaded: LoadedModel, melody: str | Path, bar: int
) -> tuple[torch.Tensor, Piece, dict[str, Any]]:
    """The first phrase with notes at or after bar ``bar`` of a MIDI/MusicXML file's top
    part (moved by octaves into the model's range), the source piece and its lineage."""
    path = Path(melody)
    piece = read_music_file(path)
    cfg = loaded.model.cfg
    line = melody_line(piece)
    bar_len = round(piece.bar_quarters / STEP)
    last = round(line[-1].start / STEP) if line else -1
    for start in range(bar * bar_len, last + 1, bar_len):
        tokens = phrase_from_line(line, start, cfg)
        if tokens is not None and any(t >= 2 for t in tokens):
            source = {**parent_record(path), "bar": start // bar_len}
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
    prov = loaded.provenance(verb_name, modality="music", latent=encode_latent(z), **fields)
    return name, piece, prov


def _end(loaded: LoadedModel, melody: str | None, seed: int) -> tuple[torch.Tensor, Any, Any]:
    if melody is None:
        return draw_latents(loaded.model.z_dim, seed, 1)[0], None, f"s{seed}"
    phrase, piece, source = _read_phrase(loaded, melody, 0)
    return _encode(loaded, phrase), piece, source


def _tag(source: str | dict[str, Any]) -> str:
    """A short name for a latent's origin: ``s7`` for a seed, the file stem for a melody."""
    return source if isinstance(source, str) else Path(source["file"]).stem


# -- verbs ---------------------------------------------------------------------------------
def sample(
    loaded: LoadedModel,
    n: Annotated[int, Param("how many phrases", min=1, max=MAX_SAMPLES)] = 4,
    seed: Annotated[int, SEED] = 0,
    temperature: Annotated[
        float, Param("randomness: lower is safer, higher is wilder", min=0.01, max=5.0)
    ] = 1.0,
) -> MusicResult:
    """``n`` two-bar melodies from seeded latents; sample i of a seed is the same however
    many are asked for. ``temperature`` scales the decoder's note choices."""
    model = loaded.model.eval()
    z = draw_latents(model.z_dim, seed, n)
    gens = [stream(seed, "notes", i) for i in range(n)]
    phrases = model.generate(z, temperature, gens).tolist()
    arts = [
        _art(loaded, f"melody-s{seed}-{i:03d}", p, None, "sample", z[i], seed=seed, index=i)
        for i, p in enumerate(phrases)
    ]
    return MusicResult(pieces=arts, stem=f"melody-s{seed}")


def encode(
    loaded: LoadedModel,
    melody: Annotated[str, Param("a MIDI/MusicXML/ABC file", input="music", positional=True)],
    bar: Annotated[int, Param("the phrase starting at this bar (from 0)", min=0)] = 0,
) -> MusicResult:
    """A melody file's first phrase with notes from bar ``bar``: its latent (posterior
    mean) as data, the phrase as read and the model's reconstruction of it."""
    phrase, source_piece, source = _read_phrase(loaded, melody, bar)
    z = _encode(loaded, phrase)
    recon = _decode(loaded, z[None])[0]
    stem = f"{Path(melody).stem}-b{source['bar']}"
    arts = [
        _art(
            loaded, f"{stem}-phrase", phrase[0].tolist(), source_piece, "encode", z, source=source
        ),
        _art(loaded, f"{stem}-recon", recon, source_piece, "encode", z, source=source),
    ]
    same = sum(a == b for a, b in zip(recon, phrase[0].tolist(), strict=True))
    data = {
        "latent": z.tolist(),
        "source": source,
        "reconstruction_accuracy": same / len(recon),
        "model": {"sha256": loaded.sha256, "kind": loaded.kind},
    }
    return MusicResult(pieces=arts, data=data, stem=f"{stem}-latent")


def interpolate(
    loaded: LoadedModel,
    melody_a: Annotated[str | None, Param("first melody file", input="music", flag="a")] = None,
    melody_b: Annotated[str | None, Param("second melody file", input="music", flag="b")] = None,
    seed_a: Annotated[int, Param("seed of the first end when there is no melody a")] = 1,
    seed_b: Annotated[int, Param("seed of the second end when there is no melody b")] = 2,
    steps: Annotated[int, Param("phrases from one end to the other", min=2, max=MAX_STEPS)] = 5,
) -> MusicResult:
    """``steps`` phrases along the slerp from A to B, where each end is a melody file's
    first phrase (encoded) or, without one, the first sample of a seed."""
    za, piece_a, src_a = _end(loaded, melody_a, seed_a)
    zb, piece_b, src_b = _end(loaded, melody_b, seed_b)
    stem = f"interp-{_tag(src_a)}-{_tag(src_b)}"
    ts = [i / (steps - 1) for i in range(steps)]
    z = torch.stack([slerp(za, zb, t) for t in ts])
    phrases = _decode(loaded, z)
    names = [f"{stem}-{i:02d}" for i in range(steps)]
    parents = [s for s in (src_a, src_b) if isinstance(s, dict)]
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
        )
        for i, p in enumerate(phrases)
    ]
    return MusicResult(pieces=arts, stem=stem)


def condition(
    loaded: LoadedModel,
    attribute: Annotated[
        str,
        Param("density, range or pitch", choices=(*ATTRIBUTES, *ALIASES)),
    ] = "density",
    amount: Annotated[
        float,
        Param("how far along the attribute (negative: less)", min=-MAX_AMOUNT, max=MAX_AMOUNT),
    ] = 1.0,
    melody: Annotated[str | None, Param("your melody file (else a sample)", input="music")] = None,
    seed: Annotated[int, SEED] = 0,
) -> MusicResult:
    """Push a melody file's first phrase (or seed ``seed``'s first sample) along an
    attribute vector: ``density`` (notes per bar), ``range`` (highest minus lowest pitch)
    or ``pitch`` (mean pitch). ``amount`` 1 moves the latent by the gap between the
    training phrases' top and bottom quartiles; negative amounts push the other way.
    Returns the phrase before and after."""
    name = ALIASES.get(attribute, attribute)
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
