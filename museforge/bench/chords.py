"""``museforge bench chords``: chord symbols for melodies, our model against two baselines.

Our chord model trains on the chorales' training split for the budget, then it, a
key-aware rule (the diatonic triad the melody fits best, tonic, dominant and subdominant
first) and the most frequent chord (per mode, from the training harmony) write chords for
the held-out chorale sopranos — scored per beat against the chords Bach's four parts
sound, exactly and by root — and for the chord-annotated lead sheets of the music21
corpus, at half bars, against the chords written there. Each also gets the share of
strong beats whose melody note is a tone of its chord.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from museforge.bench import machine_info
from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb

METHODS = {
    "model": "ours (chord model)",
    "rule": "key-aware rule",
    "most_frequent": "most frequent chord",
}
DATA = "chorales"


def run_chords_bench(
    budget_s: float, work_dir: Path, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Train our chord model for ``budget_s`` seconds and score it beside the baselines."""
    out = Path(work_dir) / "chord-model"
    shutil.rmtree(out, ignore_errors=True)
    recipe = Recipe(
        kind="chord-model",
        data=DATA,
        run={"time_budget": budget_s, "batch_size": 16, "seed": seed, "preview_every": 0},
    )
    trained = train_from_recipe(recipe, out=out, progress=progress)
    scores = call_verb(load_artifact(out), "evaluate").data
    return {
        "data": DATA,
        "budget_s": budget_s,
        "seed": seed,
        "machine": machine_info(),
        "steps": trained.step,
        "train_seconds": round(trained.elapsed, 1),
        **scores,
    }


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table: each method's accuracy and chord tones on both test sets."""
    held, sheets = results["held_out"], results.get("lead_sheets", {})
    columns = [
        "method",
        "chorales: exact",
        "by root",
        "chord tones",
        "lead sheets: exact",
        "by root",
        "chord tones",
    ]
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for key, name in METHODS.items():
        cells = [held.get(f"{key}_{m}") for m in ("exact", "root", "chord_tones")]
        cells += [sheets.get(f"{key}_{m}") for m in ("exact", "root", "chord_tones")]
        rows.append(f"| {name} | " + " | ".join(_cell(c) for c in cells) + " |")
    rows.append(
        f"| as written | – | – | {_cell(held.get('as_written_chord_tones'))} | – | – | "
        f"{_cell(sheets.get('as_written_chord_tones'))} |"
    )
    rows.append("")
    rows.append(
        f"chord model trained {results['steps']} steps in {results['train_seconds']:.0f} s on "
        f"{results['data']}; {held['pieces']} held-out chorales scored per beat, "
        f"{sheets.get('pieces', 0)} lead sheets at half bars ({results['vocabulary']})"
    )
    return "\n".join(rows)
