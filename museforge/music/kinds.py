"""Registers the music data sets, the music model kinds, their training tasks and verbs.

Kinds: ``music-lm`` (event-token transformer or LSTM, :mod:`museforge.music.verbs_lm`),
``melody-vae`` (two-bar phrases, :mod:`museforge.music.verbs_vae`),
``chorale-coconet`` (four-part chorales, :mod:`museforge.music.verbs_chorale`) and
``chord-model`` (chord symbols for melodies, :mod:`museforge.music.verbs_chords`). Each is
trained on the same held-out split of its pieces (:data:`~museforge.music.corpus.HOLDOUT`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from museforge.core.data import register_dataset, register_user_source, skipped_record
from museforge.core.instruments import register_audio_reader
from museforge.core.media import MUSIC_SUFFIXES
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.errors import DataError
from museforge.music import verbs_chorale, verbs_chords, verbs_lm, verbs_vae
from museforge.music.chord_model import (
    ChordModelConfig,
    ChordNet,
    ChordTask,
    ChordTraining,
    encode_pieces,
)
from museforge.music.coconet.encoding import piece_windows
from museforge.music.coconet.network import VOICES, Coconet, CoconetConfig
from museforge.music.coconet.training import CoconetTask, CoconetTraining
from museforge.music.corpus import (
    FOLK_TUNES,
    HOLDOUT,
    SPLIT_SEED,
    augment_transpositions,
    load_chorales,
    load_folk,
    load_music,
    split_pieces,
    split_record,
)
from museforge.music.lm import MusicLM, MusicLMConfig, MusicLMTask, encode_all
from museforge.music.melody_vae import (
    MelodyVAE,
    MelodyVAEConfig,
    MelodyVAETask,
    MelodyVAETraining,
    phrase_tensor,
    phrase_windows,
)
from museforge.music.render import render_samples
from museforge.nn.lm_training import SequenceLMTraining

# -- data sets -----------------------------------------------------------------------------
register_dataset(
    "chorales",
    modality="music",
    description="Bach's four-part chorales from the music21 corpus (soprano, alto, tenor, bass)",
    size="397 chorales (of 413 files; 16 skipped: meter or parts)",
    licence="public domain (music21 corpus)",
    loader=load_chorales,
)
register_dataset(
    "folk",
    modality="music",
    description=f"{FOLK_TUNES} Essen folk melodies from the music21 corpus (one voice)",
    size=f"2,447 melodies (of {FOLK_TUNES:,} tunes read; 553 skipped)",
    licence="traditional tunes, public domain (Essen collection in the music21 corpus)",
    loader=load_folk,
)
register_user_source("music", "folder", "MIDI, MusicXML and ABC files below PATH")
register_audio_reader(MUSIC_SUFFIXES, render_samples)  # visualise hears a piece rendered

# -- music LM ------------------------------------------------------------------------------
# Small corpora (a few hundred pieces): regularise like the small text corpora do.
LM_MODEL = {"context": 256, "dropout": 0.2, "n_layer": 4, "n_embd": 128}
LM_TRAINING = {"input_dropout": 0.05, "eval_every": 100}


def music_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A MusicLMTask for the Trainer, plus the data description for the manifest."""
    corpus = load_music(data)
    train, val = split_pieces(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    model = {**LM_MODEL, **model}
    model.setdefault("polyphonic", any(len(p.parts) > 1 for p in corpus.pieces))
    cfg = config_from_dict(MusicLMConfig, model, "model settings")
    train_cfg = config_from_dict(SequenceLMTraining, {**LM_TRAINING, **training}, "training")
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
        **skipped_record(corpus.skipped),
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
verb("music-lm", command="compose")(verbs_lm.sample)
verb("music-lm")(verbs_lm.continue_)
verb("music-lm", command="song")(verbs_lm.lyrics)
verb("music-lm", studio=False)(verbs_lm.evaluate)


# -- melody VAE ----------------------------------------------------------------------------
def melody_vae_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A MelodyVAETask for the Trainer (2-bar windows of every training piece's top line;
    random transposition on the fly), plus the data description for the manifest."""
    cfg = config_from_dict(MelodyVAEConfig, model, "model settings")
    train_cfg = config_from_dict(MelodyVAETraining, training, "training settings")
    names = data.split("+") if not data.startswith("folder:") else [data]  # folk+chorales
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
        **skipped_record([s for c, _, _ in info for s in c.skipped]),
    }
    return MelodyVAETask(cfg, train_cfg, train_x, val_x, seed), data_info


register_kind(
    "melody-vae",
    modality="music",
    description="MusicVAE-style 2-bar melody VAE: sample, encode, interpolate, attribute vectors",
    config_cls=MelodyVAEConfig,
    model_cls=MelodyVAE,
    task_factory=melody_vae_task,
    default_run={"batch_size": 64},
)
verb("melody-vae", command="phrase sample")(verbs_vae.sample)
verb("melody-vae", command="phrase encode")(verbs_vae.encode)
verb("melody-vae", command="phrase blend")(verbs_vae.interpolate)
verb("melody-vae", command="phrase push")(verbs_vae.condition)


# -- chorale Coconet -----------------------------------------------------------------------
TRANSPOSITIONS = tuple(range(-5, 7))  # as corpus.augment_transpositions: every key once


def coconet_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A CoconetTask for the Trainer, plus the data description for the manifest."""
    cfg = config_from_dict(CoconetConfig, model, "model settings")
    train_cfg = config_from_dict(CoconetTraining, training, "training settings")
    corpus = load_music(data)
    four = [p for p in corpus.pieces if len(p.parts) == VOICES]
    if len(four) < 2:
        raise DataError(f"data '{data}': a chorale model needs four-part pieces (S, A, T, B)")
    train, val = split_pieces(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    train = [p for p in train if len(p.parts) == VOICES]
    val = [p for p in val if len(p.parts) == VOICES]
    shifts = TRANSPOSITIONS if train_cfg.transpose else (0,)
    train_windows, val_windows = piece_windows(train, cfg, shifts), piece_windows(val, cfg)
    if train_windows[0].shape[0] == 0:
        raise DataError(f"data '{data}': no window fits the pitch range {cfg.low}..{cfg.high}")
    data_info = {
        **split_record(corpus, train, len(train), len(val)),
        "train_windows": int(train_windows[0].shape[0]),
        "holdout_windows": int(val_windows[0].shape[0]),
    }
    return CoconetTask(cfg, train_cfg, train_windows, val_windows, seed), data_info


register_kind(
    "chorale-coconet",
    modality="music",
    description="Coconet-style masked convolutional chorale model: harmonise, infill, sample",
    config_cls=CoconetConfig,
    model_cls=Coconet,
    task_factory=coconet_task,
    default_run={"batch_size": 32},
)
verb("chorale-coconet")(verbs_chorale.harmonise)
verb("chorale-coconet")(verbs_chorale.infill)
verb("chorale-coconet")(verbs_chorale.sample)
verb("chorale-coconet", studio=False)(verbs_chorale.evaluate)


# -- chord model ---------------------------------------------------------------------------
def chord_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A ChordTask for the Trainer (melody features and the chords all parts sound, per
    beat, of every piece with harmony), plus the data description for the manifest."""
    cfg = config_from_dict(ChordModelConfig, model, "model settings")
    train_cfg = config_from_dict(ChordTraining, training, "training settings")
    corpus = load_music(data)
    train, val = split_pieces(corpus, holdout=HOLDOUT, seed=SPLIT_SEED)
    train_items, val_items = (
        encode_pieces(train, cfg.vocabulary),
        encode_pieces(val, cfg.vocabulary),
    )
    if len(train_items) < 4 or not val_items:
        raise DataError(
            f"data '{data}': {len(train_items)} training pieces with harmony (two or more "
            "pitch classes sounding on a beat): a chord model learns from harmonised music"
        )
    data_info = {
        **split_record(corpus, train, len(train_items), len(val_items)),
        "train_beats": int(sum((item[1] >= 0).sum() for item in train_items)),
    }
    return ChordTask(cfg, train_cfg, train_items, val_items, seed), data_info


register_kind(
    "chord-model",
    modality="music",
    description="chord symbols for a melody (bidirectional GRU over beats), learnt from harmony",
    config_cls=ChordModelConfig,
    model_cls=ChordNet,
    task_factory=chord_task,
    default_run={"batch_size": 16},
)
verb("chord-model")(verbs_chords.chords)
verb("chord-model", studio=False)(verbs_chords.evaluate)
