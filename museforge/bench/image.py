"""``museforge bench image``: our GAN, our VAE and a classic DCGAN at equal wall-clock budget.

All three train on ``mnist5k`` (the same 4,500-image split) for the same number of
seconds in one run, then are scored by the same protocol (docs/evaluation.md): FID and
KID with museforge's own feature network, precision/recall and the near-copy share, plus
training and sampling throughput.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from museforge.bench import machine_info
from museforge.core.artifact import load_artifact
from museforge.core.latent import draw_labels, draw_latents
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.image.verbs import generate_images

DATA = "mnist5k"
CONTENDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ours-gan": ("image-gan", {}),
    "ours-vae": ("image-vae", {}),
    "dcgan-classic": ("image-gan", {"preset": "classic-dcgan"}),
}


def sampling_rate(model: Any, n: int = 5000, seed: int = 0) -> float:
    """Images per second for ``n`` samples (after one warm-up batch), inference mode."""
    z = draw_latents(model.z_dim, seed, n)
    labels = draw_labels(model.num_classes, seed, n)
    generate_images(model, z[:256], None if labels is None else labels[:256])
    start = time.perf_counter()
    generate_images(model, z, labels)
    return n / (time.perf_counter() - start)


def run_image_bench(
    budget_s: float, work_dir: Path, seed: int = 0, eval_n: int = 2000, progress: bool = True
) -> dict[str, Any]:
    """Train and score every contender; returns the JSON-ready results."""
    results: dict[str, Any] = {
        "data": DATA,
        "budget_s": budget_s,
        "seed": seed,
        "eval_n": eval_n,
        "machine": machine_info(),
        "models": {},
    }
    for name, (kind, training) in CONTENDERS.items():
        out = Path(work_dir) / name
        shutil.rmtree(out, ignore_errors=True)
        recipe = Recipe(
            kind=kind,
            data=DATA,
            training=training,
            run={
                "time_budget": budget_s,
                "batch_size": 64,
                "seed": seed,
                "preview_every": 0,
                "log_every": 50,
            },
        )
        trained = train_from_recipe(recipe, out=out, progress=progress)
        loaded = load_artifact(out)
        evaluation = call_verb(loaded, "evaluate", n=eval_n, seed=seed, out_dir=out / "eval")
        scores = evaluation.data
        results["models"][name] = {
            "kind": kind,
            "steps": trained.step,
            "train_seconds": round(trained.elapsed, 1),
            "train_images_per_s": round(trained.step * 64 / trained.elapsed, 1),
            "sample_images_per_s": round(sampling_rate(loaded.model, seed=seed), 1),
            "fid": scores["fid"],
            "kid": scores["kid_mean"],
            "precision": scores["precision"],
            "recall": scores["recall"],
            "near_copy_share": scores["memorisation"]["near_copy_share"],
            "fid_real_floor": scores["fid_real_floor"],
        }
    models = results["models"]
    gan, vae, base = models["ours-gan"], models["ours-vae"], models["dcgan-classic"]
    results["ratios"] = {
        "gan_fid_over_classic": gan["fid"] / base["fid"],
        "gan_fid_over_vae": gan["fid"] / vae["fid"],
    }
    results["targets"] = {
        "gan_fid_at_most_half_of_classic": results["ratios"]["gan_fid_over_classic"] <= 0.5,
        "gan_fid_below_vae": gan["fid"] < vae["fid"],
        "gan_sampling_at_least_5000_per_s": gan["sample_images_per_s"] >= 5000,
    }
    return results


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of the results (pasted into the README)."""
    columns = [
        "model",
        "steps",
        "train img/s",
        "sample img/s",
        "FID ↓",
        "KID ↓",
        "precision",
        "recall",
        "near-copies",
    ]
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, m in results["models"].items():
        rows.append(
            f"| {name} | {m['steps']} | {m['train_images_per_s']:.0f} | "
            f"{m['sample_images_per_s']:.0f} | {m['fid']:.2f} | {m['kid']:.4f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['near_copy_share']:.3f} |"
        )
    ratios = results.get("ratios", {})
    to_classic = ratios.get("gan_fid_over_classic", float("nan"))
    to_vae = ratios.get("gan_fid_over_vae", float("nan"))
    floor = next(iter(results["models"].values()))["fid_real_floor"]
    rows.append("")
    rows.append(
        f"budget {results['budget_s']:.0f} s per model on {results['data']}; "
        f"real-data FID floor (held-out vs train) {floor:.2f}; "
        f"our GAN's FID ÷ classic DCGAN's = {to_classic:.2f}, ÷ our VAE's = {to_vae:.2f}"
    )
    return "\n".join(rows)
