"""``museforge bench 3d``: the sculpture models against their baselines, in one run.

For each kind (vessels, forms) our VAE trains for the budget; it, the same network
untrained (what the figures are when nothing is learnt) and the training solids
themselves (what a perfect model would reach) are scored against the held-out solids by
:mod:`museforge.sculpture.evaluate`: coverage, minimum matching distance (Chamfer, mm),
1-nearest-neighbour accuracy (0.5 ideal), the share printable as drawn and after repair,
near copies; plus the seconds to draw, mesh and check one solid.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from museforge.bench import machine_info
from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe

KINDS = {"vessel-vae": "vessels", "form-vae": "solids"}


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    keep = ("coverage", "mmd_chamfer_mm", "nna_accuracy", "empty")
    return {
        **{k: data.get(k) for k in keep},
        "printable_as_drawn": data["printable_as_drawn"],
        "printable_after_repair": data["printable_after_repair"],
        "near_copies": data.get("memorisation", {}).get("near_copies"),
    }


def run_3d_bench(
    budget_s: float,
    work_dir: Path,
    seed: int = 0,
    eval_n: int = 100,
    progress: bool = True,
    kinds: tuple[str, ...] = tuple(KINDS),
) -> dict[str, Any]:
    """Train each sculpture kind (of ``kinds``) for ``budget_s`` seconds and score it
    beside the baselines."""
    from museforge.sculpture.evaluate import evaluate_model

    results: dict[str, Any] = {
        "budget_s": budget_s,
        "seed": seed,
        "eval_n": eval_n,
        "machine": machine_info(),
        "kinds": {},
    }
    for kind in kinds:
        data = KINDS[kind]
        rows = {}
        for name, run in (
            ("untrained", {"steps": 1}),
            ("ours", {"time_budget": budget_s}),
        ):
            out = Path(work_dir) / f"{kind}-{name}"
            shutil.rmtree(out, ignore_errors=True)
            recipe = Recipe(kind=kind, data=data, run={**run, "seed": seed, "preview_every": 0})
            trained = train_from_recipe(recipe, out=out, progress=progress)
            loaded = load_artifact(out)
            start = time.perf_counter()
            # repairs take seconds a solid: only ours is repaired, the baseline as drawn
            figures = evaluate_model(
                loaded, n=eval_n, seed=seed, printer="fdm", repair=name == "ours"
            )
            rows[name] = {
                **_figures(figures),
                "steps": trained.step,
                "train_seconds": round(trained.elapsed, 1),
                "eval_seconds": round(time.perf_counter() - start, 1),
            }
            rows["training solids"] = {
                k: figures["training_solids"][k]
                for k in ("coverage", "mmd_chamfer_mm", "nna_accuracy")
            }
        rows["ours"]["seconds_per_solid"] = _seconds_per_solid(
            load_artifact(Path(work_dir) / f"{kind}-ours")
        )
        results["kinds"][kind] = {"data": data, "rows": rows}
    return results


def _seconds_per_solid(loaded: Any, n: int = 4) -> float:
    """Seconds to draw, mesh and check one solid (sample of ``n``, files not written)."""
    from museforge.core.registry import call_verb

    start = time.perf_counter()
    call_verb(loaded, "sample", n=n)
    return round((time.perf_counter() - start) / n, 3)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table per kind: each row's figures against the held-out solids."""
    columns = [
        "model",
        "steps",
        "coverage ↑",
        "MMD mm ↓",
        "1-NN acc. (0.5 best)",
        "printable as drawn",
        "after repair",
        "near copies",
        "no solid drawn",
    ]
    lines = []
    for kind, block in results["kinds"].items():
        lines += [f"**{kind}** on `{block['data']}`", ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for name, row in block["rows"].items():
            cells = [
                row.get("steps"),
                row.get("coverage"),
                row.get("mmd_chamfer_mm"),
                row.get("nna_accuracy"),
                row.get("printable_as_drawn"),
                row.get("printable_after_repair"),
                row.get("near_copies"),
                row.get("empty"),
            ]
            lines.append(f"| {name} | " + " | ".join(_cell(c) for c in cells) + " |")
        per = block["rows"]["ours"].get("seconds_per_solid")
        lines += ["", f"{per} s to draw, mesh and check one solid.", ""]
    lines.append(
        f"budget {results['budget_s']:.0f} s per model; {results['eval_n']} drawn solids "
        "against the held-out ones"
    )
    return "\n".join(lines)
