"""``museforge bench design``: picture models on the design sets at equal wall-clock budget.

On ``glyphs`` (every installed font's A-Z, a-z, 0-9) and ``sprites`` (Wesnoth's units, RGBA)
our conditional VAE and GAN train for the same seconds with a user's defaults and are scored
by the evaluation protocol (docs/evaluation.md). For glyphs the class check is legibility:
the share of sampled letters that a classifier trained on the real fonts reads as the
letter asked for; and every typeface of a handful of seeds is set as a specimen and traced
to SVG, which must parse.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from museforge.bench import results_head, table_head
from museforge.bench.image import train_and_score
from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.design.typeset import potrace_missing, trace_svg
from museforge.errors import InputError

DATA_SETS = ("glyphs", "sprites")
CONTENDERS = {"ours-vae": "image-vae", "ours-gan": "image-gan"}
LEGIBILITY_TARGET = 0.9
SPECIMENS = 10


def svg_share(model_dir: Path, n: int = SPECIMENS) -> float | None:
    """The share of ``n`` typefaces (seeds 0..n-1) whose specimen traces to an SVG that
    parses, None where potrace is missing."""
    if potrace_missing():
        return None
    loaded = load_artifact(model_dir)
    good = 0
    for seed in range(n):
        picture = call_verb(loaded, "typeset", seed=seed, svg=False).artworks[0].image
        try:
            ET.fromstring(trace_svg(picture))
            good += 1
        except (InputError, ET.ParseError):
            continue
    return good / n


def run_design_bench(
    budget_s: float,
    work_dir: Path,
    sets: tuple[str, ...] = DATA_SETS,
    seed: int = 0,
    eval_n: int = 2000,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and score each contender on each set; returns the JSON-ready results."""
    unknown = [s for s in sets if s not in DATA_SETS]
    if unknown:
        raise InputError(f"bench design knows {', '.join(DATA_SETS)} (got {unknown})")
    results: dict[str, Any] = results_head(budget_s, seed, eval_n)
    for data in sets:
        rows = results["sets"].setdefault(data, {})
        for name, kind in CONTENDERS.items():
            out = Path(work_dir) / data / name
            model = {"conditional": True}
            rows[name] = train_and_score(
                kind, data, model, {}, budget_s, out, seed, eval_n, progress
            )
            if data == "glyphs":
                rows[name]["svg_parsed_share"] = svg_share(out)
    if "glyphs" in results["sets"]:
        rows = results["sets"]["glyphs"].values()
        best = max(r["classes"]["asked_share"] for r in rows)
        svg = [r["svg_parsed_share"] for r in rows if r["svg_parsed_share"] is not None]
        results["targets"] = {
            "glyphs_legible_at_least_0.9": best >= LEGIBILITY_TARGET,
            "every_svg_parses": bool(svg) and min(svg) == 1.0,
        }
    return results


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table per set (pasted into the README)."""
    lines = []
    for data, rows in results["sets"].items():
        head = ["model", "steps", "FID ↓", "KID ↓", "precision", "recall", "near-copies"]
        head += ["legible", "SVG parses"] if data == "glyphs" else ["as asked"]
        lines += table_head(data, head)
        for name, m in rows.items():
            cells = [
                name,
                str(m["steps"]),
                f"{m['fid']:.2f}",
                f"{m['kid']:.4f}",
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['near_copy_share']:.3f}",
                f"{m['classes']['asked_share']:.2f}",
            ]
            if data == "glyphs":
                share = m.get("svg_parsed_share")
                cells.append("–" if share is None else f"{share:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        first = next(iter(rows.values()))
        lines += [
            "",
            f"{results['budget_s']:.0f} s each; real-data FID floor {first['fid_real_floor']:.2f}; "
            f"a classifier trained apart reads held-out real pictures right "
            f"{first['classes']['real_accuracy']:.2f} of the time",
            "",
        ]
    return "\n".join(lines).rstrip()
