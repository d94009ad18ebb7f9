"""Registers the music LM kind and its training task (event tokens, shared LM trainer)."""

from __future__ import annotations

from typing import Any

import torch

from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.errors import DataError
from museforge.music import lm_verbs, tokens
from museforge.music.lm import MusicLM, MusicLMConfig
from museforge.text.task import TextLMTask, TextLMTraining

HOLDOUT, SPLIT_SEED = 0.1, 0
# Small corpora (a few hundred pieces): regularise like the small text corpora do.
DEFAULT_MODEL = {"context": 256, "dropout": 0.2, "n_layer": 4, "n_embd": 128}
DEFAULT_TRAINING = {"input_dropout": 0.05, "eval_every": 100}


class MusicLMTask(TextLMTask):
    """The text LM's training loop (windows, early stopping, best weights) on events."""

    kind = "music-lm"
    model_cls = MusicLM


def encode_all(pieces: list, polyphonic: bool) -> torch.Tensor:
    """One token stream: every piece from BOS to EOS, one after another."""
    ids: list[int] = []
    for piece in pieces:
        ids += tokens.encode(piece, polyphonic=polyphonic)
    return torch.tensor(ids, dtype=torch.long)


def music_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A MusicLMTask for the Trainer, plus the data description for the manifest."""
    from museforge.music.corpus import augment_transpositions, load_music, split_pieces

    corpus = load_music(data)
    train, val = split_pieces(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    model = {**DEFAULT_MODEL, **model}
    model.setdefault("polyphonic", any(len(p.parts) > 1 for p in corpus.pieces))
    cfg = config_from_dict(MusicLMConfig, model, "model settings")
    train_cfg = config_from_dict(TextLMTraining, {**DEFAULT_TRAINING, **training}, "training")
    train_ids = encode_all(augment_transpositions(train), cfg.polyphonic)
    val_ids = encode_all(val, cfg.polyphonic)
    if train_ids.numel() < cfg.context + 2:
        raise DataError(f"data '{data}': {train_ids.numel()} training events is too little")
    data_info = {
        "source": corpus.source,
        "fingerprint": corpus.fingerprint,
        "n_train": len(train),
        "n_holdout": len(val),
        "train_events": int(train_ids.numel()),
        "holdout_events": int(val_ids.numel()),
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        "transpositions": "-5..+6 semitones (training pieces only)",
        "skipped_files": len(corpus.skipped),
        "skipped": list(corpus.skipped[:20]),
    }
    return MusicLMTask(cfg, train_cfg, train_ids, val_ids, seed), data_info


register_kind(
    "music-lm",
    modality="music",
    description="event-token transformer or LSTM: melodies and four-part chorales, primed or free",
    config_cls=MusicLMConfig,
    model_cls=MusicLM,
    task_factory=music_task,
    default_run={"batch_size": 16},
)
for _fn in (lm_verbs.sample, lm_verbs.continue_, lm_verbs.lyrics, lm_verbs.evaluate):
    verb("music-lm")(_fn)
