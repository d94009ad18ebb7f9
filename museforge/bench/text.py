"""``museforge bench text``: our text LM against the classic small char-GPT recipe.

By default on a panel of corpora no starter model learns from (English and Chinese
fortune files): on each, the classic CPU recipe trains for its usual 2,000 iterations and
ours for the same wall-clock seconds it took, measured in the same run; with ``budget_s``
both train for that long instead. Both use the same split and keep their best weights by
validation loss (as the classic recipe's training script does). Reported: validation bits
per character, their ratio, sampling speed (characters per second, one stream and a batch
of 16, KV cache) and originality of free samples (longest copied span, share of lines
copied verbatim from the training text).
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from museforge.bench import machine_info
from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.nn.lm_training import nll_per_token
from museforge.text.evaluate import load_splits
from museforge.text.metrics import CopyIndex, distinct_n
from museforge.text.sampling import SamplingSettings, generate
from museforge.text.task import CLASSIC_CHAR_GPT

FORTUNES = "/usr/share/games/fortunes"
# The panel: corpora of both languages and several sizes that no starter model uses
# (name -> data source); the starters learn from tang300 and songs-poems.
PANEL: dict[str, str] = {
    "literature": f"file:{FORTUNES}/literature",  # quotations, ~44k characters
    "wisdom": f"file:{FORTUNES}/wisdom",  # ~54k
    "art": f"file:{FORTUNES}/art",  # ~76k
    "science": f"file:{FORTUNES}/science",  # ~120k
    "song100": "song100",  # 宋词一百首, ~7k characters
    "chinese": f"file:{FORTUNES}/chinese",  # Chinese fortunes, ~650k characters
}
CORPORA = tuple(PANEL)
CLASSIC_STEPS = 2000  # the classic recipe's iterations on a CPU
# name -> (model settings, training settings, batch size; None = the kind's default)
CONTENDERS: dict[str, tuple[dict[str, Any], dict[str, Any], int | None]] = {
    "classic-char-gpt": ({}, {"preset": "classic-char-gpt"}, CLASSIC_CHAR_GPT[2]),
    "ours-transformer": ({}, {}, None),
}
ORIGINALITY_SAMPLES = 32
SPEED_CHARS = 1000  # characters per stream when timing sampling


def sampling_rate(model: Any, n: int, chars: int | None = None, seed: int = 0) -> float:
    """Characters per second when sampling ``n`` streams of ``chars`` characters each."""
    settings = SamplingSettings(max_chars=chars or SPEED_CHARS, stop_at_end=False)
    generate(model, "", n, seed, SamplingSettings(max_chars=20))  # warm-up
    start = time.perf_counter()
    texts = generate(model, "", n, seed, settings)
    return sum(len(t) for t in texts) / (time.perf_counter() - start)


def score(path: Path) -> dict[str, Any]:
    """Validation bpc, speed and originality of the artifact at ``path``."""
    loaded = load_artifact(path)
    model = loaded.model
    train, val = load_splits(loaded)
    ids = model.encode_lossy(val.text())
    nll = nll_per_token(model, ids)
    network_nll = nll
    if model.cfg.ngram_order:  # what sampling reads: the network without the counts
        weight = float(model.ngram_weight)
        model.ngram_weight.fill_(0.0)
        network_nll = nll_per_token(model, ids)
        model.ngram_weight.fill_(weight)
    samples = generate(model, "", ORIGINALITY_SAMPLES, 0, SamplingSettings(max_chars=300))
    copies = CopyIndex(train.text()).report(samples)
    manifest = loaded.manifest
    return {
        "val_bpc": nll / math.log(2),
        "network_val_bpc": network_nll / math.log(2),
        "parameters": model.num_parameters(),
        "steps": manifest["recipe"].get("steps_done"),
        "train_seconds": manifest["recipe"].get("train_seconds"),
        "chars_per_s_1": sampling_rate(model, 1),
        "chars_per_s_16": sampling_rate(model, 16),
        "distinct_2": distinct_n(samples, 2),
        "longest_copied_span": copies["longest_copied_span"],
        "verbatim_line_share": copies["verbatim_line_share"],
        "example": samples[0][:200],
    }


def _source(corpus: str) -> str:
    """A panel name's data source; anything else is a data source already."""
    return PANEL.get(corpus, corpus)


def _label(corpus: str) -> str:
    return Path(corpus.removeprefix("file:")).name if corpus.startswith("file:") else corpus


def run_text_bench(
    budget_s: float | None,
    work_dir: Path,
    corpora: tuple[str, ...] = CORPORA,
    seed: int = 0,
    progress: bool = True,
    classic_steps: int = CLASSIC_STEPS,
) -> dict[str, Any]:
    """Train and score both contenders on every corpus; returns JSON-ready results.

    ``budget_s`` None: the classic recipe runs ``classic_steps`` iterations first and ours
    gets the seconds they took; otherwise both get ``budget_s``."""
    results: dict[str, Any] = {
        "budget_s": budget_s,
        "classic_steps": classic_steps if budget_s is None else None,
        "seed": seed,
        "machine": machine_info(),
        "corpora": {},
    }
    for corpus in corpora:
        rows: dict[str, Any] = {}
        seconds = budget_s
        for name, (model, training, batch) in CONTENDERS.items():  # the classic first
            out = work_dir / _label(corpus) / name
            shutil.rmtree(out, ignore_errors=True)
            run: dict[str, Any] = {"seed": seed, "preview_every": 0}
            if seconds is None:
                run["steps"] = classic_steps
            else:
                run["time_budget"] = seconds
            if batch is not None:
                run["batch_size"] = batch
            recipe = Recipe("text-lm", _source(corpus), str(out), model, training, run)
            train_from_recipe(recipe, progress=progress)
            rows[name] = score(out)
            seconds = seconds if seconds is not None else rows[name]["train_seconds"]
        ours, base = rows["ours-transformer"]["val_bpc"], rows["classic-char-gpt"]["val_bpc"]
        results["corpora"][_label(corpus)] = {
            "source": _source(corpus),
            "seconds": seconds,
            "models": rows,
            "bpc_ratio": ours / base,
        }
    return results


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of the results and the ratios the targets refer to."""
    lines = [
        "| corpus | model | steps | val bpc ↓ | network alone | chars/s (1) | chars/s (16) "
        "| distinct-2 | longest copy | verbatim lines |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for corpus, entry in results["corpora"].items():
        for name, row in entry["models"].items():
            lines.append(
                f"| {corpus} | {name} | {row['steps']} | {row['val_bpc']:.3f} "
                f"| {row.get('network_val_bpc', row['val_bpc']):.3f} "
                f"| {row['chars_per_s_1']:,.0f} | {row['chars_per_s_16']:,.0f} "
                f"| {row['distinct_2']:.3f} | {row['longest_copied_span']} "
                f"| {row['verbatim_line_share']:.1%} |"
            )
        notes.append(f"{corpus}: ours ÷ classic bpc = {entry['bpc_ratio']:.3f}")
    budget = results["budget_s"]
    if budget is None:
        how = f"classic {results['classic_steps']} steps, ours the same seconds; "
    else:
        how = f"budget {budget:.0f} s per model; "
    worst = max(entry["bpc_ratio"] for entry in results["corpora"].values())
    return "\n".join([*lines, "", how + "; ".join(notes), f"worst ratio {worst:.3f}"])
