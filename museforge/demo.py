"""``museforge demo``: sample the starter models into a folder a new user can open."""

from __future__ import annotations

from pathlib import Path

from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.errors import MuseforgeError
from museforge.gallery.artwork import write_result

# What the demo asks of each text starter, by language: a form that shows what museforge
# can do that a plain sampler cannot.
TEXT_DEMOS = {
    "zh": ("poem", {"form": "qijue", "acrostic": "春夏秋冬", "n": 3}),
    "en": ("poem", {"form": "limerick", "n": 3}),
}


# Pictures each style network redraws in the demo (built-in photos).
STYLE_DEMOS = ("chelsea", "astronaut")


def run_demo(models: Path, out_dir: Path, seed: int = 7) -> list[Path]:
    """For each image starter a 64-image grid and an interpolation GIF; for each text
    starter three poems in a strict form; for each style network two stylised photos.
    Returns the files worth opening."""
    starters = sorted(p.parent for p in Path(models).glob("*/model.json"))
    if not starters:
        raise MuseforgeError(f"no starter models in '{models}' (train one: see recipes/)")
    shown: list[Path] = []
    for path in starters:
        loaded = load_artifact(path)
        target = Path(out_dir) / path.name
        if loaded.kind == "text-lm":
            verb, kwargs = TEXT_DEMOS[loaded.model.cfg.language]
            result = call_verb(loaded, verb, seed=seed, **kwargs)
            shown += write_result(result, target)
            continue
        if loaded.kind == "style-net":
            for photo in STYLE_DEMOS:
                shown += write_result(call_verb(loaded, "stylise", image=photo), target)
            continue
        scale = max(1, 256 // loaded.model.cfg.image_size)
        for verb, kwargs in (
            ("sample", {"n": 64, "seed": seed}),
            ("interpolate", {"seed_a": seed, "seed_b": seed + 1, "frames": 24}),
        ):
            result = call_verb(loaded, verb, **kwargs)
            written = write_result(result, target, upscale=scale)
            shown += [p for p in written if p.name.endswith(("-grid.png", ".gif"))]
    return shown
