"""Evaluating a music LM on its own held-out split: likelihood, features, key, copying."""

from __future__ import annotations

import math
from typing import Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.errors import DataError
from museforge.music import metrics, tokens
from museforge.music.corpus import HOLDOUT, SPLIT_SEED, load_music, split_pieces
from museforge.music.generate import KEY_PULL, MusicSampling, sample_tokens
from museforge.music.lm import encode_all

EVAL_BARS = 16


def held_out(loaded: LoadedModel) -> tuple[list, list]:
    """The training and validation pieces the model was trained on (same split)."""
    source = loaded.manifest.get("data", {}).get("source")
    if not source:
        raise DataError(f"model '{loaded.path}' does not record its training data")
    corpus = load_music(source)
    return split_pieces(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)


def nll_per_event(model: Any, pieces: list, polyphonic: bool) -> float:
    """Mean negative log-likelihood (nats) per event token of ``pieces``."""
    from museforge.nn.lm_training import nll_per_token

    return nll_per_token(model, encode_all(pieces, polyphonic))


def samples(
    loaded: LoadedModel, n: int, seed: int, bars: int = EVAL_BARS, key_pull: float = 0.0
) -> list:
    """``n`` free samples of ``bars`` bars (meter and key chosen by the model)."""
    settings = MusicSampling(bars=bars, key_pull=key_pull)
    rows = sample_tokens(loaded.model, [tokens.BOS], n, seed, settings)
    return [tokens.decode([tokens.BOS, *row]) for row in rows]


def evaluate_music_lm(loaded: LoadedModel, n: int = 16, seed: int = 0) -> dict[str, Any]:
    """NLL per event on the held-out pieces, feature overlap of ``n`` samples with them,
    key consistency of the samples (as trained, and with the verbs' default key pull; the
    held-out pieces' for scale) and the longest run of notes copied from the training
    pieces."""
    train, val = held_out(loaded)
    torch.manual_seed(seed)
    nll = nll_per_event(loaded.model, val, loaded.model.cfg.polyphonic)
    made = samples(loaded, n, seed)
    overlap = metrics.feature_overlap(made, val)
    return {
        "val_nll_per_event": nll,
        "val_bits_per_event": nll / math.log(2),
        "samples": n,
        "feature_overlap": overlap,
        "mean_feature_overlap": metrics.mean_overlap(overlap),
        "key_consistency": metrics.key_consistency(made),
        "key_consistency_pulled": metrics.key_consistency(
            samples(loaded, n, seed, key_pull=KEY_PULL)
        ),
        "key_pull": KEY_PULL,
        "key_consistency_heldout": metrics.key_consistency(val),
        "originality": metrics.originality(made, train),
    }
