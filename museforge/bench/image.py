"""``museforge bench image``: our GAN, our VAE and a classic DCGAN at equal wall-clock budget.

All three train on one data set (``mnist5k``, the same 4,500-image split; or
``shapes-folder``, 2,000 coloured shapes of 32 px in four class sub-folders, as a user's
own folder would be) for the same number of seconds in one run, with the defaults a user
gets, then are scored by the same protocol (docs/evaluation.md): FID and KID with
museforge's own feature network, precision/recall and the near-copy share, training and
sampling throughput, and on a set with classes how often a classifier trained apart sees
the class each picture was drawn for.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from museforge.bench import machine_info
from museforge.bench.shape_folder import write_shape_folder
from museforge.core.artifact import load_artifact
from museforge.core.latent import draw_labels, draw_latents
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.image.verbs import generate_images

DATA_SETS = ("mnist5k", "shapes-folder")
# On a folder every class should come out recognisable: the share of pictures a
# classifier trained apart sees as the class asked for, for the class drawn worst.
CLASS_SHARE_TARGET = 0.8
FOLDER_PICTURES = 2000
CONTENDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ours-flow": ("image-flow", {}),
    "ours-gan": ("image-gan", {}),
    "ours-vae": ("image-vae", {}),
    "dcgan-classic": ("image-gan", {"preset": "classic-dcgan"}),
}


def sampling_rate(model: Any, n: int = 5000, seed: int = 0) -> float:
    """Images per second for ``n`` samples (after one warm-up batch), inference mode; a
    model that takes over a second for the warm-up batch is timed on it alone."""
    z = draw_latents(model.z_dim, seed, n)
    labels = draw_labels(model.num_classes, seed, n)
    start = time.perf_counter()
    generate_images(model, z[:256], None if labels is None else labels[:256])
    warm = time.perf_counter() - start
    if warm > 1.0:
        return 256 / warm
    start = time.perf_counter()
    generate_images(model, z, labels)
    return n / (time.perf_counter() - start)


def _source(data: str, work_dir: Path, seed: int) -> str:
    if data not in DATA_SETS:
        raise InputError(f"bench image knows {', '.join(DATA_SETS)} (got {data!r})")
    if data == "shapes-folder":
        folder = Path(work_dir) / "shapes-folder-data"
        return f"folder:{write_shape_folder(folder, FOLDER_PICTURES, seed=seed)}"
    return data


def train_and_score(
    kind: str,
    source: str,
    model: dict[str, Any],
    training: dict[str, Any],
    budget_s: float,
    out: Path,
    seed: int,
    eval_n: int,
    progress: bool,
) -> dict[str, Any]:
    """Train one picture model for ``budget_s`` seconds (batch 64) into ``out`` and score
    it by the evaluation protocol; the bench's row for it."""
    shutil.rmtree(out, ignore_errors=True)
    recipe = Recipe(
        kind=kind,
        data=source,
        model=model,
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
    row = {
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
    if "classes" in scores:
        row["classes"] = scores["classes"]
    return row


def run_image_bench(
    budget_s: float,
    work_dir: Path,
    seed: int = 0,
    eval_n: int = 2000,
    progress: bool = True,
    data: str = "mnist5k",
    contenders: list[str] | None = None,
) -> dict[str, Any]:
    """Train and score every contender (or those named) on ``data``; returns the
    JSON-ready results (the ratios and GAN targets need our GAN, our VAE and the classic)."""
    names = contenders or list(CONTENDERS)
    if wrong := [n for n in names if n not in CONTENDERS]:
        raise InputError(
            f"bench image's models are {', '.join(CONTENDERS)} (got {', '.join(wrong)})"
        )
    source = _source(data, work_dir, seed)
    results: dict[str, Any] = {
        "data": data,
        "budget_s": budget_s,
        "seed": seed,
        "eval_n": eval_n,
        "machine": machine_info(),
        "models": {},
    }
    for name in names:
        kind, training = CONTENDERS[name]
        out = Path(work_dir) / name
        results["models"][name] = train_and_score(
            kind, source, {}, training, budget_s, out, seed, eval_n, progress
        )
    models = results["models"]
    results["targets"] = {}
    if {"ours-gan", "ours-vae", "dcgan-classic"} <= set(models):
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
    for name, m in models.items():
        if (worst := _worst_class(m)) is not None:
            key = f"{name.removeprefix('ours-')}_every_class_recognisable"
            results["targets"][key] = worst[1] >= CLASS_SHARE_TARGET
    return results


def _worst_class(m: dict[str, Any]) -> tuple[str, float] | None:
    """The class a model drew as asked least often, and how often (None without classes)."""
    shares = m.get("classes", {}).get("asked_share_per_class") or {}
    known = {k: v for k, v in shares.items() if v is not None}
    if not known:
        return None
    name = min(known, key=known.__getitem__)
    return name, known[name]


def _worst_cell(m: dict[str, Any]) -> str:
    worst = _worst_class(m)
    return "–" if worst is None else f"{worst[1]:.2f} ({worst[0]})"


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
    classes = any("classes" in m for m in results["models"].values())
    if classes:
        columns += ["as asked", "worst class"]
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, m in results["models"].items():
        rows.append(
            f"| {name} | {m['steps']} | {m['train_images_per_s']:.0f} | "
            f"{m['sample_images_per_s']:.0f} | {m['fid']:.2f} | {m['kid']:.4f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['near_copy_share']:.3f} |"
            + (
                f" {m['classes'].get('asked_share', float('nan')):.2f} | {_worst_cell(m)} |"
                if classes
                else ""
            )
        )
    floor = next(iter(results["models"].values()))["fid_real_floor"]
    rows.append("")
    rows.append(
        f"budget {results['budget_s']:.0f} s per model on {results['data']}; "
        f"real-data FID floor (held-out vs train) {floor:.2f}"
    )
    if ratios := results.get("ratios"):
        rows[-1] += (
            f"; our GAN's FID ÷ classic DCGAN's = {ratios['gan_fid_over_classic']:.2f}, "
            f"÷ our VAE's = {ratios['gan_fid_over_vae']:.2f}"
        )
    real = next(iter(results["models"].values())).get("classes", {}).get("real_accuracy")
    if real is not None:
        rows[-1] += (
            f'; "as asked": the share of pictures a classifier trained apart sees as the class '
            f"they were drawn for (on held-out real pictures it is right {real:.2f})"
        )
    return "\n".join(rows)
