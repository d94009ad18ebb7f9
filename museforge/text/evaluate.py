"""Evaluating a text LM: held-out bits per character, diversity, form accuracy, originality.

The held-out split is re-made from the data source named in the manifest (same split
seed and share), and its fingerprint is checked so a changed corpus is reported rather
than silently scored.
"""

from __future__ import annotations

import math
import time
from typing import Any

from museforge.core.artifact import LoadedModel
from museforge.errors import DataError
from museforge.nn.lm_training import nll_per_token
from museforge.text.corpus import TextCorpus, load_text_corpus, split_corpus
from museforge.text.forms import POEM_CHARS, write_poems
from museforge.text.metrics import CopyIndex, distinct_n, non_word_share, repeated_line_share
from museforge.text.prosody import DEFAULT_MIN_ZIPF
from museforge.text.sampling import SamplingSettings, generate

FREE_CHARS = 300


def load_splits(loaded: LoadedModel) -> tuple[TextCorpus, TextCorpus]:
    """The (train, validation) corpora the model was trained on, checked by fingerprint."""
    info = loaded.manifest.get("data", {})
    source = info.get("source")
    if not source:
        raise DataError(f"model '{loaded.path}' does not record its training data")
    corpus = load_text_corpus(source)
    if info.get("full_fingerprint") and corpus.fingerprint != info["full_fingerprint"]:
        raise DataError(
            f"data '{source}' has changed since model '{loaded.path}' was trained "
            "(fingerprint differs), so its held-out split cannot be re-made"
        )
    return split_corpus(corpus, holdout=info.get("holdout", 0.1), seed=info.get("split_seed", 0))


def _word_scores(language: str, free: list[str], poems: list[str]) -> dict[str, float]:
    """English only: the share of words that are not common words (the poem forms draw
    none; free sampling may spell anything)."""
    if language != "en":
        return {}
    return {
        "non_word_share": non_word_share(free, DEFAULT_MIN_ZIPF),
        "poem_non_word_share": non_word_share(poems, DEFAULT_MIN_ZIPF),
    }


def evaluate_text_model(loaded: LoadedModel, n: int = 64, seed: int = 0) -> dict[str, Any]:
    """All text metrics of ``loaded`` as a flat-ish dict (see docs/evaluation.md)."""
    model = loaded.model
    train, val = load_splits(loaded)
    nll = nll_per_token(model, model.encode_lossy(val.text()))
    settings = SamplingSettings(max_chars=FREE_CHARS)
    t0 = time.perf_counter()
    free = generate(model, "", n, seed, settings)
    seconds = time.perf_counter() - t0
    chars = sum(len(t) + 1 for t in free)
    poems = write_poems(model, n, seed, SamplingSettings(max_chars=POEM_CHARS))
    meets = [not v for v in poems.violations]
    index = CopyIndex(train.text())
    free_copy = index.report(free)
    poem_copy = index.report(poems.bodies)
    return {
        "val_loss": nll,
        "val_bpc": nll / math.log(2),
        "val_chars": len(val.text()),
        "samples": n,
        "distinct_1": distinct_n(free, 1),
        "distinct_2": distinct_n(free, 2),
        "sampling_chars_per_s": chars / max(seconds, 1e-9),
        "form": poems.form,
        "form_accuracy": sum(meets) / len(meets),
        "longest_copied_span": free_copy["longest_copied_span"],
        "longest_copied_text": free_copy["longest_copied_text"],
        "verbatim_line_share": free_copy["verbatim_line_share"],
        "poem_longest_copied_span": poem_copy["longest_copied_span"],
        "poem_verbatim_line_share": poem_copy["verbatim_line_share"],
        "repeated_line_share": repeated_line_share(free),
        "poem_repeated_line_share": repeated_line_share(poems.bodies),
        **_word_scores(model.cfg.language, free, poems.bodies),
        "examples": free[:3],
        "poem_examples": poems.texts[:3],
    }
