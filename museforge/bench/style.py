"""``museforge bench style``: optimisation-based transfer against a fast style network.

In one run, for each size, the same content picture is stylised in the network's own
style by both methods. Reported per method: seconds per picture, content loss and style
loss (under the default random feature network, against the content and the style
picture) and SSIM of luminance to the content. The unchanged content picture is the
reference row: the style loss a method starts from and the SSIM it would keep by doing
nothing.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from museforge.bench import machine_info
from museforge.core.artifact import LoadedModel
from museforge.errors import InputError
from museforge.style.images import load_rgb, resize_long_side, resize_to
from museforge.style.learned import style_feature_net
from museforge.style.losses import content_loss, feature_stats, style_loss
from museforge.style.metrics import ssim
from museforge.style.optimise import OptimiseSettings
from museforge.style.transfer import stylise

SIZES = (256, 512)
FAST_REPEATS = 5
TARGETS = {"fast_speedup": 100.0, "fast_512_s": 1.0, "optimisation_512_s": 60.0}


def quality(
    picture: torch.Tensor,
    content: torch.Tensor,
    style: torch.Tensor,
    net: torch.nn.Module | None = None,
) -> dict[str, float]:
    """Content loss, style loss (under ``net``, default the random features) and luminance
    SSIM of ``picture``."""
    net = net or style_feature_net("random")
    content = resize_to(content, *picture.shape[-2:])
    style = resize_long_side(style, max(picture.shape[-2:]))
    with torch.no_grad():
        feats, c_feats, s_feats = net(picture), net(content), net(style)
        targets = {name: feature_stats(s_feats[name]) for name in net.style_layers}
        c_targets = {name: c_feats[name] for name in net.content_layers}
        return {
            "content_loss": float(content_loss(feats, c_targets)),
            "style_loss": float(style_loss(feats, targets)),
            "ssim": ssim(picture, content),
        }


def _time_fast(net: torch.nn.Module, picture: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Median seconds of one forward pass (after a warm-up), and its output."""
    with torch.inference_mode():
        out = net(picture)
        times = []
        for _ in range(FAST_REPEATS):
            start = time.perf_counter()
            out = net(picture)
            times.append(time.perf_counter() - start)
    return statistics.median(times), out.clamp(0, 1)


def run_style_bench(
    loaded: LoadedModel,
    content: str = "chelsea",
    sizes: tuple[int, ...] = SIZES,
    steps: int = OptimiseSettings.steps,
) -> dict[str, Any]:
    """Both methods at each size on ``content`` in the style the network ``loaded`` learnt."""
    if loaded.kind != "style-net":
        raise InputError(f"bench style needs a style-net model, not a {loaded.kind} model")
    style_source = loaded.manifest.get("data", {}).get("style", {}).get("source")
    if not style_source:
        raise InputError(f"model '{loaded.path}' does not record its style picture")
    original, style = load_rgb(content), load_rgb(style_source)
    settings = OptimiseSettings(steps=steps)
    net = style_feature_net("random")
    rows: dict[str, Any] = {}
    for size in sizes:
        picture = resize_long_side(original, size)
        start = time.perf_counter()
        optimised = stylise(net, original, [style], size=size, settings=settings)
        opt_s = time.perf_counter() - start
        fast_s, fast = _time_fast(loaded.model, picture)
        rows[str(size)] = {
            "height": picture.shape[-2],
            "width": picture.shape[-1],
            "content": {"seconds": 0.0, **quality(picture, picture, style)},
            "optimisation": {"seconds": opt_s, **quality(optimised, picture, style)},
            "fast": {"seconds": fast_s, **quality(fast, picture, style)},
            "speedup": opt_s / fast_s,
        }
    biggest = rows[str(max(sizes))]
    checks = {"fast_speedup": min(r["speedup"] for r in rows.values())}
    if "512" in rows:
        checks["fast_512_s"] = biggest["fast"]["seconds"]
        checks["optimisation_512_s"] = biggest["optimisation"]["seconds"]
    met = {
        name: (value >= TARGETS[name]) if name == "fast_speedup" else (value < TARGETS[name])
        for name, value in checks.items()
    }
    return {
        "bench": "style",
        "content": content,
        "style": style_source,
        "model": str(loaded.path),
        "model_sha256": loaded.sha256,
        "optimisation_steps_per_level": steps,
        "features": "random",
        "sizes": rows,
        "checks": checks,
        "targets": TARGETS,
        "met": met,
        "machine": machine_info(),
    }


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of every size and method, then the targets."""
    lines = [
        f"content {results['content']}, style {results['style']} "
        f"(model {results['model']}); losses under random features",
        "",
        "| size | method | seconds | content loss | style loss | SSIM (Y) |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["sizes"].values():
        dims = f"{row['width']}×{row['height']}"
        for method in ("content", "optimisation", "fast"):
            r = row[method]
            label = "content (reference)" if method == "content" else method
            lines.append(
                f"| {dims} | {label} | {r['seconds']:.3f} | {r['content_loss']:.3f} | "
                f"{r['style_loss']:.3f} | {r['ssim']:.3f} |"
            )
        lines.append(f"| {dims} | speed-up, fast ÷ optimisation | {row['speedup']:.0f}× | | | |")
    lines.append("")
    for name, value in results["checks"].items():
        verdict = "met" if results["met"][name] else "NOT met"
        lines.append(f"- {name}: {value:.3g} (target {results['targets'][name]:g}) — {verdict}")
    return "\n".join(lines)
