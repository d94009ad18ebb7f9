"""``museforge bench imagine``: do words steer the pictures? Text-to-image against an
unconditional and a class-conditional model of the same size, at equal wall-clock budget.

On each captioned set every contender is the same network trained the same way for the
same seconds; only what it is told differs:

- ``words-latent`` / ``words-flow`` / ``words-gan``: the caption's sentence vector (ours:
  a flow in an autoencoder's latent grid, a flow in pixels, the GAN);
- ``class``: a code for the picture's class instead — on ``captioned-shapes`` its colour–
  shape pair, elsewhere the nearest of 48 clusters of the captions' sentence vectors (what a
  labeller who sorted the pictures into piles would give);
- ``unconditional``: nothing (a zero vector).

The baselines are the latent flow's network.

All are scored on the held-out captions by the same protocol as ``evaluate``: R-precision
by the set's encoder, FID in its picture space, and on ``captioned-shapes`` the attribute
judge for seen and held-out colour–shape pairs. Sampling time is for 8 pictures of one
prompt, as a user asks for them.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans

from museforge.bench import results_head, table_head
from museforge.core.artifact import load_artifact
from museforge.core.latent import draw_latents
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.crossmodal.captioned import CaptionedImages
from museforge.crossmodal.data import load_captioned
from museforge.crossmodal.encoder import r_precision
from museforge.crossmodal.encoder_task import split
from museforge.crossmodal.imagine_eval import draw, fit, picture_features
from museforge.crossmodal.judge import attribute_accuracy, load_judge
from museforge.crossmodal.shapes import CHOICES, captioned_shapes
from museforge.errors import InputError
from museforge.nn.latent_flow import NO_AUTOENCODER, SHIPPED_AUTOENCODER
from museforge.nn.metrics.fid import fid_from_features

ENCODERS = {"captioned-shapes": "shapes-encoder", "emoji": "emoji-encoder"}
# the starter latent flow of each set, whose autoencoder a run may reuse (--autoencoder set)
STARTERS = {"captioned-shapes": "shapes-imagine", "emoji": "emoji-imagine"}
# where the latent flows' autoencoder comes from: the shipped general one (as a user's new
# flow gets it), the set's starter's, or trained in the run
AUTOENCODERS = ("shipped", "set", "own")
IMAGE_SIZES = {"captioned-shapes": 32, "emoji": 64}
# arch -> (model settings, batch size)
ARCHES: dict[str, tuple[dict[str, Any], int]] = {
    "latent-flow": ({"arch": "latent-flow"}, 64),
    "flow": ({"arch": "flow", "flow_width": 32, "flow_levels": 3}, 32),
    "gan": ({"arch": "gan"}, 32),
}
CONTENDERS: dict[str, tuple[str, str]] = {  # name -> (arch, condition)
    "words-latent": ("latent-flow", "words"),
    "words-flow": ("flow", "words"),
    "words-gan": ("gan", "words"),
    "class": ("latent-flow", "class"),
    "unconditional": ("latent-flow", "none"),
}
CLUSTERS = 48
EVAL_N = 500

Codes = Callable[[CaptionedImages, str], torch.Tensor]


def _pairs() -> list[tuple[str, str]]:
    options = dict(CHOICES)
    return list(itertools.product(options["colour"], options["shape"]))


class ClassCodes:
    """A fixed code per class, scaled like sentence vectors, and how to find the class of
    any captioned picture."""

    def __init__(self, model: Any, data: CaptionedImages, seed: int):
        self.dim = model.text.out.out_features
        self.model = model
        self.shapes = data.attributes is not None
        self.kmeans = None
        if not self.shapes:
            en = _language(data)
            vecs = model.sentences([c[en] for c in data.captions]).numpy()
            self.kmeans = KMeans(CLUSTERS, n_init=4, random_state=seed).fit(vecs)
        count = len(_pairs()) if self.shapes else CLUSTERS
        gen = torch.Generator().manual_seed(seed)
        codes = torch.nn.functional.normalize(torch.randn(count, self.dim, generator=gen), dim=1)
        self.codes = codes * self.dim**0.5

    def classes(self, data: CaptionedImages) -> torch.Tensor:
        if self.shapes:
            index = {pair: i for i, pair in enumerate(_pairs())}
            return torch.tensor([index[(a["colour"], a["shape"])] for a in data.attributes or ()])
        en = _language(data)
        vecs = self.model.sentences([c[en] for c in data.captions]).numpy()
        return torch.from_numpy(self.kmeans.predict(vecs).astype(np.int64))

    def __call__(self, data: CaptionedImages, lang: str) -> torch.Tensor:
        return self.codes[self.classes(data)]


def _language(data: CaptionedImages) -> str:
    return "en" if "en" in data.languages else data.languages[0]


def _condition(task: Any, condition: str, seed: int) -> Codes:
    """Replace the task's sentence table for a baseline; how to condition when drawing."""
    if condition == "words":
        return lambda data, lang: task.model.sentences([c[lang] for c in data.captions])
    if condition == "none":
        table = torch.zeros(len(task.data), task.model.text.out.out_features)
        task.sentences = {lang: table for lang in task.sentences}
        return lambda data, lang: torch.zeros(len(data.captions), table.shape[1])
    codes = ClassCodes(task.model, task.data, seed)
    table = codes(task.data, "en")
    task.sentences = {lang: table for lang in task.sentences}
    if hasattr(task, "encoder"):
        task.training = replace(task.training, align_weight=0.0)  # class codes are no words
    return codes


def _train(
    data: str,
    contender: str,
    budget_s: float,
    out: Path,
    encoder: Path,
    seed: int,
    progress: bool,
    autoencoder: Path | str = NO_AUTOENCODER,
) -> tuple[Any, Codes]:
    arch, condition = CONTENDERS[contender]
    settings, batch = ARCHES[arch]
    if arch == "latent-flow":  # a path: the whole budget for the flow
        settings = {**settings, "autoencoder": str(autoencoder)}
    recipe = Recipe(
        kind="text-to-image",
        data=data,
        model={"encoder": str(encoder), **settings, "image_size": IMAGE_SIZES[data]},
        run={
            "time_budget": budget_s,
            "batch_size": batch,
            "seed": seed,
            "preview_every": 0,
            "log_every": 50,
        },
    )
    made: dict[str, Codes] = {}

    def adjust(task: Any) -> None:
        made["codes"] = _condition(task, condition, seed)

    trained = train_from_recipe(recipe, out=out, progress=progress, adjust=adjust)
    return trained, made["codes"]


def _starter(models: Path, name: str) -> Path:
    path = models / name
    if not (path / "model.json").is_file():
        raise InputError(
            f"bench imagine needs the starter '{name}' "
            f"(museforge train --recipe recipes/{name}.toml)"
        )
    return path


def _autoencoder(models: Path, data: str, source: str) -> Path | str:
    """The model whose autoencoder the latent flows on ``data`` reuse (``source`` one of
    :data:`AUTOENCODERS`), or "none" for one trained in the run."""
    if source == "own":
        return NO_AUTOENCODER
    return _starter(models, SHIPPED_AUTOENCODER if source == "shipped" else STARTERS[data])


def _score(loaded: Any, codes: Codes, data: str, eval_n: int, seed: int) -> dict[str, Any]:
    model = loaded.model
    info = loaded.manifest["data"]
    judge = load_artifact(Path(info["encoder"]["path"])).model.eval()
    full = load_captioned(info["source"], image_size=model.cfg.image_size)
    train, holdout = split(full)
    k = min(eval_n, len(holdout))
    part = replace(
        holdout,
        images=holdout.images[:k],
        captions=holdout.captions[:k],
        attributes=None if holdout.attributes is None else holdout.attributes[:k],
    )
    lang = _language(part)
    z = draw_latents(model.z_dim, seed, k)
    drawn = draw(model, z, codes(part, lang))
    captions = [c[lang] for c in part.captions]
    out: dict[str, Any] = {
        "r_precision": r_precision(judge, fit(drawn, judge.cfg.image_size), captions, seed=seed),
        "fid": fid_from_features(
            picture_features(judge, drawn), picture_features(judge, train.images)
        ),
    }
    if data == "captioned-shapes":
        size = model.cfg.image_size
        for split_name, key in (("train", "seen"), ("held-out", "held_out")):
            asked = captioned_shapes(size, n=k, seed=10_000 + seed, split=split_name)
            pictures = draw(model, draw_latents(model.z_dim, seed, k), codes(asked, lang))
            out[f"attributes_{key}"] = attribute_accuracy(
                load_judge(size), pictures, list(asked.attributes or ())
            )
    one = codes(replace(part, captions=part.captions[:1], attributes=_first(part)), lang)
    z8 = draw_latents(model.z_dim, seed, 8)
    draw(model, z8[:1], one)  # warm-up
    start = time.perf_counter()
    draw(model, z8, one.expand(8, -1))
    out["seconds_for_8"] = time.perf_counter() - start
    return out


def _first(part: CaptionedImages) -> tuple[dict[str, str], ...] | None:
    return None if part.attributes is None else part.attributes[:1]


def run_imagine_bench(
    budget_s: float,
    work_dir: Path,
    models: Path,
    data_sets: list[str],
    contenders: list[str] | None = None,
    seed: int = 0,
    eval_n: int = EVAL_N,
    progress: bool = True,
    autoencoder: str = "shipped",
) -> dict[str, Any]:
    """Train and score every contender on every set; the JSON-ready results. The latent
    flows reuse the ``autoencoder`` of :data:`AUTOENCODERS` — the shipped general one
    (``shipped``, what a new flow gets) or the set's starter's (``set``), spending the whole
    budget on the flow — or train their own first in the budget (``own``)."""
    unknown = [d for d in data_sets if d not in ENCODERS]
    if unknown:
        raise InputError(f"bench imagine knows {', '.join(ENCODERS)} (got {', '.join(unknown)})")
    names = contenders or list(CONTENDERS)
    wrong = [n for n in names if n not in CONTENDERS]
    if wrong:
        raise InputError(f"contenders are {', '.join(CONTENDERS)} (got {', '.join(wrong)})")
    results: dict[str, Any] = results_head(budget_s, seed, eval_n)
    if autoencoder not in AUTOENCODERS:
        raise InputError(f"autoencoder is one of {', '.join(AUTOENCODERS)} (got {autoencoder})")
    results["autoencoder"] = autoencoder
    encoders = {data: _starter(models, ENCODERS[data]) for data in data_sets}
    reused = {data: _autoencoder(models, data, autoencoder) for data in data_sets}
    for data in data_sets:
        scores = {}
        for name in names:
            arch, condition = CONTENDERS[name]
            out = Path(work_dir) / data / name
            shutil.rmtree(out, ignore_errors=True)
            trained, codes = _train(
                data, name, budget_s, out, encoders[data], seed, progress, reused[data]
            )
            loaded = load_artifact(out)
            scores[name] = {
                "arch": arch,
                "condition": condition,
                "steps": trained.step,
                "train_seconds": round(trained.elapsed, 1),
                **_score(loaded, codes, data, eval_n, seed),
            }
        results["sets"][data] = scores
    results["targets"] = _targets(results)
    return results


def _targets(results: dict[str, Any]) -> dict[str, bool]:
    shapes = results["sets"].get("captioned-shapes", {})
    best = max(
        (m for n, m in shapes.items() if n.startswith("words")),
        key=lambda m: m["attributes_seen"]["colour_and_shape"],
        default=None,
    )
    out = {}
    if best is not None:
        out["seen_pairs_at_least_0.9"] = min(best["attributes_seen"].values()) >= 0.9
        out["held_out_pairs_at_least_0.6"] = min(best["attributes_held_out"].values()) >= 0.6
    speeds = [m["seconds_for_8"] for s in results["sets"].values() for n, m in s.items()]
    if speeds:
        out["8_pictures_under_2_s"] = max(speeds) < 2.0
    return out


def format_table(results: dict[str, Any]) -> str:
    """Markdown tables of the results (pasted into the README)."""
    rows = []
    for data, models in results["sets"].items():
        shapes = data == "captioned-shapes"
        columns = ["model", "steps", "R-precision", "FID ↓", "s for 8"]
        if shapes:
            columns += ["colour+shape seen", "colour+shape held-out", "all attributes seen"]
        rows += table_head(data, columns)
        for name, m in models.items():
            cells = [
                name,
                str(m["steps"]),
                f"{m['r_precision']:.3f}",
                f"{m['fid']:.2f}",
                f"{m['seconds_for_8']:.2f}",
            ]
            if shapes:
                seen, held = m["attributes_seen"], m["attributes_held_out"]
                cells += [
                    f"{seen['colour_and_shape']:.3f}",
                    f"{held['colour_and_shape']:.3f}",
                    f"{min(seen.values()):.3f}",
                ]
            rows.append("| " + " | ".join(cells) + " |")
        rows.append("")
    rows.append(
        f"budget {results['budget_s']:.0f} s per model; {results['eval_n']} held-out captions; "
        f"targets: {results['targets']}"
    )
    return "\n".join(rows)
