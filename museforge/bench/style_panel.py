"""``museforge bench style``: does the style come across? A panel of contents × styles.

Every content picture is stylised in every style picture by each method, in one run, and
each result is scored (:mod:`museforge.style.scores`): its colour and texture distance to
the style as a share of the content's own (issue #28's targets: ≤ 0.6 and ≤ 0.8), SSIM to
the content (0.3–0.8), seconds, and content and style losses under a judge — random
features of another width and seed than any method's losses use.

The styles are none that the learned features trained on: museforge's procedural patterns
(painterly strokes among them) and painted portraits held out of the features' training
(written into the output folder, so every row can be re-run by hand).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from museforge.bench import machine_info
from museforge.bench.style import quality
from museforge.core.artifact import LoadedModel
from museforge.errors import InputError
from museforge.nn.features import random_feature_net
from museforge.style.feature_data import held_out_portraits
from museforge.style.images import load_rgb, resize_long_side, to_pil
from museforge.style.learned import style_feature_net
from museforge.style.scores import style_scores
from museforge.style.transfer import stylise
from museforge.style.verbs import any_style_picture

CONTENTS = ("chelsea", "astronaut", "coffee", "motorcycle")
STYLES = ("pattern-strokes", "portrait-drakes-1", "pattern-voronoi", "pattern-waves")
TARGETS = {"colour": 0.6, "texture": 0.8, "ssim_low": 0.3, "ssim_high": 0.8, "any_512_s": 0.5}
JUDGE_WIDTH, JUDGE_SEED = 24, 28
SPEED_REPEATS = 3
PORTRAIT_SIDE = 400  # the portraits' own size

Method = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def optimisation(features: str, palette: str) -> Method:
    """``museforge style`` with a feature network and a palette setting."""
    net = style_feature_net(features)

    def run(content: torch.Tensor, style: torch.Tensor, size: int) -> torch.Tensor:
        return stylise(net, content, [style], size=size, palette=palette)

    return run


def any_style(loaded: LoadedModel, palette: str = "histogram") -> Method:
    """One pass of an any-style network, as ``style-fast`` with a style-any model does it."""

    def run(content: torch.Tensor, style: torch.Tensor, size: int) -> torch.Tensor:
        picture = resize_long_side(content, size)
        return any_style_picture(loaded.model, picture, [style], [1.0], palette=palette)

    return run


def _styles(names: tuple[str, ...], folder: Path) -> dict[str, torch.Tensor]:
    """Style pictures by name: built-ins, files, or held-out portraits (written to
    ``folder`` as PNG)."""
    portraits = (
        dict(held_out_portraits(400)) if any(n.startswith("portrait-") for n in names) else {}
    )
    out = {}
    for name in names:
        if name in portraits:
            folder.mkdir(parents=True, exist_ok=True)
            to_pil(portraits[name]).save(folder / f"{name}.png")
            out[name] = portraits[name]
        else:
            out[name] = load_rgb(name)
    return out


def _time_any(loaded: LoadedModel, content: torch.Tensor, style: torch.Tensor) -> float:
    """Median seconds to stylise ``content`` with a new style picture (its statistics
    included), after a warm-up."""
    method = any_style(loaded)
    side = max(content.shape[-2:])
    method(content, style, side)
    times = []
    for _ in range(SPEED_REPEATS):
        start = time.perf_counter()
        method(content, style, side)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_style_panel(
    methods: dict[str, Method],
    out_dir: Path,
    contents: tuple[str, ...] = CONTENTS,
    styles: tuple[str, ...] = STYLES,
    size: int = 256,
    any_model: LoadedModel | None = None,
    grid_method: str | None = None,
) -> dict[str, Any]:
    """Every method on every content × style pair at ``size``; scores, and a grid of
    ``grid_method``'s results (contents down, styles across) in ``out_dir``."""
    if not methods:
        raise InputError("bench style needs at least one method")
    judge = random_feature_net(JUDGE_WIDTH, seed=JUDGE_SEED)
    style_pictures = _styles(styles, out_dir / "styles")
    rows: list[dict[str, Any]] = []
    grid: dict[tuple[str, str], torch.Tensor] = {}
    content_pictures = {name: load_rgb(name) for name in contents}
    for content_name, content in content_pictures.items():
        picture = resize_long_side(content, size)
        for style_name, style in style_pictures.items():
            for method_name, method in methods.items():
                start = time.perf_counter()
                result = method(content, style, size).clamp(0, 1)
                seconds = time.perf_counter() - start
                scores = style_scores(result, picture, style)
                judge_quality = quality(result, picture, style, judge)
                rows.append(
                    {
                        "content": content_name,
                        "style": style_name,
                        "method": method_name,
                        "seconds": seconds,
                        **scores,
                        **{f"judge_{k}": v for k, v in judge_quality.items() if k != "ssim"},
                    }
                )
                if method_name == grid_method:
                    grid[(content_name, style_name)] = result
    summary = {name: _summary([r for r in rows if r["method"] == name]) for name in methods}
    results: dict[str, Any] = {
        "bench": "style",
        "size": size,
        "contents": list(contents),
        "styles": list(styles),
        "rows": rows,
        "summary": summary,
        "targets": TARGETS,
        "machine": machine_info(),
    }
    if any_model is not None:
        speed_content = resize_long_side(content_pictures[contents[0]], 512)
        results["any_512_s"] = _time_any(any_model, speed_content, style_pictures[styles[0]])
        results["any_model"] = {"path": str(any_model.path), "sha256": any_model.sha256}
    if grid:
        results["grid"] = str(_write_grid(grid, content_pictures, style_pictures, out_dir, size))
    return results


def _summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Means over the panel and how many pairs meet each target."""

    def mean(key: str) -> float:
        values = [r[key] for r in rows if not math.isnan(r[key])]
        return statistics.fmean(values) if values else math.nan

    t = TARGETS
    return {
        "colour": mean("colour"),
        "texture": mean("texture"),
        "ssim": mean("ssim"),
        "seconds": mean("seconds"),
        "judge_style_loss": mean("judge_style_loss"),
        "judge_content_loss": mean("judge_content_loss"),
        "pairs": len(rows),
        "colour_met": sum(r["colour"] <= t["colour"] for r in rows),
        "texture_met": sum(r["texture"] <= t["texture"] for r in rows),
        "ssim_met": sum(t["ssim_low"] <= r["ssim"] <= t["ssim_high"] for r in rows),
    }


def _write_grid(
    grid: dict[tuple[str, str], torch.Tensor],
    contents: dict[str, torch.Tensor],
    styles: dict[str, torch.Tensor],
    out_dir: Path,
    size: int,
) -> Path:
    """Styles across the top row, then one row per content: the picture, then its results."""
    cell = size // 2

    def fit(x: torch.Tensor) -> torch.Tensor:
        x = resize_long_side(x, cell)
        pad_h, pad_w = cell - x.shape[-2], cell - x.shape[-1]
        return torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), value=1.0)

    blank = torch.ones(1, 3, cell, cell)
    header = [blank] + [fit(style) for style in styles.values()]
    lines = [torch.cat(header, dim=-1)]
    for c, picture in contents.items():
        row = [fit(picture)] + [fit(grid[(c, s)]) for s in styles]
        lines.append(torch.cat(row, dim=-1))
    path = out_dir / "style-grid.png"
    out_dir.mkdir(parents=True, exist_ok=True)
    to_pil(torch.cat(lines, dim=-2)).save(path)
    return path


def format_table(results: dict[str, Any]) -> str:
    """Per method: the panel's means and how many pairs meet each target."""
    t = results["targets"]
    lines = [
        f"{len(results['contents'])} contents × {len(results['styles'])} styles at "
        f"{results['size']} px; colour and texture: distance to the style ÷ the content's",
        "",
        f"| method | colour ↓ (≤ {t['colour']}) | texture ↓ (≤ {t['texture']}) | "
        f"SSIM ({t['ssim_low']}–{t['ssim_high']}) | judge style loss ↓ | judge content loss ↓ "
        "| s per picture |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in results["summary"].items():
        n = s["pairs"]
        lines.append(
            f"| {name} | {s['colour']:.2f} ({s['colour_met']}/{n}) | "
            f"{s['texture']:.2f} ({s['texture_met']}/{n}) | {s['ssim']:.2f} ({s['ssim_met']}/{n}) "
            f"| {s['judge_style_loss']:.3f} | {s['judge_content_loss']:.3f} | {s['seconds']:.2f} |"
        )
    if "any_512_s" in results:
        verdict = "met" if results["any_512_s"] < t["any_512_s"] else "NOT met"
        lines += [
            "",
            f"any-style network, a 512-px picture in a new style: "
            f"{results['any_512_s']:.2f} s (target < {t['any_512_s']} s) — {verdict}",
        ]
    if "grid" in results:
        lines += ["", f"grid: {results['grid']}"]
    return "\n".join(lines)
