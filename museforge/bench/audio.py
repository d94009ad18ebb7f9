"""``museforge bench audio``: the sound VAE against plainer ones, at equal budget.

Three VAEs with the same encoder train for the same wall-clock budget on the same notes:
ours, whose decoder drives a harmonic-plus-noise synthesizer at the pitch asked; the
same with a decoder of log magnitude and instantaneous frequency (GANSynth's
representation, each stage told the pitch's harmonic comb); and that spectrogram VAE told
neither the instrument family nor the pitch — the plain, unconditioned baseline. Each is
scored by :mod:`museforge.sound.evaluate` (FID in a sound classifier's features with the
real-data floor, family heard as asked, pitch accuracy by pYIN, NDB, near copies) and
timed drawing notes: milliseconds per second of audio, decoder to samples.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch

from museforge.bench import machine_info
from museforge.core.artifact import load_artifact
from museforge.core.latent import draw_latents
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb

CONTENDERS = {
    "ours": {},
    "spectrogram": {"decoder": "spectrogram"},
    "plain": {"decoder": "spectrogram", "conditioned": False},
}
TARGETS = {"pitch_accuracy": 0.9, "ms_per_audio_second": 50.0, "visualise_30s_720p_s": 60.0}
SPEED_NOTES = 64


def generation_speed(loaded: Any, notes: int = SPEED_NOTES) -> float:
    """Milliseconds to draw one second of audio (``notes`` notes in one batch, best of 3)."""
    from museforge.sound.verbs import draw_waves

    model = loaded.model
    z = draw_latents(model.z_dim, 0, notes)
    labels = torch.zeros(notes, dtype=torch.long)
    pitches = torch.full((notes,), 60, dtype=torch.long)
    draw_waves(loaded, z[:2], labels[:2], pitches[:2])  # warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        draw_waves(loaded, z, labels, pitches)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / (notes * model.spectral.seconds)


def visualise_speed(model_dir: Path, work_dir: Path, seconds: float = 30.0) -> dict[str, Any]:
    """Seconds to visualise ``seconds`` of music (a swelling tone with a beat every half
    second, 22.05 kHz) at 1280×720 and 24 frames a second through the picture model at
    ``model_dir``, MP4 with the music included."""
    import numpy as np

    from museforge.crossmodal.visualise import visualise

    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.3 + 0.7 * (np.sin(t) ** 2))
    for beat in np.arange(0.0, seconds, 0.5):
        start = int(beat * rate)
        wave[start : start + 300] += 0.5 * np.sin(np.arange(300) * 0.9)
    loaded = load_artifact(model_dir)
    start = time.perf_counter()
    made = visualise(loaded, wave.astype("float32"), rate, Path(work_dir) / "visualise.mp4")
    return {
        "model": loaded.kind,
        "seconds_of_music": seconds,
        "frames": made["frames"],
        "seconds": round(time.perf_counter() - start, 2),
    }


def _row(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        "fid": evaluation["fid"],
        "fid_real_floor": evaluation["fid_real_floor"],
        "family_as_asked": evaluation["classes"]["asked_share"],
        "family_real_accuracy": evaluation["classes"]["real_accuracy"],
        "pitch_accuracy": evaluation["pitch"]["accuracy"],
        "pitch_real_accuracy": evaluation["pitch_real"]["accuracy"],
        "ndb_over_k": evaluation["ndb"]["ndb_over_k"],
        "near_copy_share": evaluation["memorisation"]["near_copy_share"],
    }


def run_audio_bench(
    budget_s: float,
    work_dir: Path,
    data: str = "gm-notes",
    seed: int = 0,
    eval_n: int = 200,
    progress: bool = True,
    model: dict[str, Any] | None = None,
    picture_model: Path | None = None,
) -> dict[str, Any]:
    """Train each contender for ``budget_s`` seconds on ``data`` and score them; with a
    ``picture_model``, time a 30-second 720p visualisation through it too."""
    results: dict[str, Any] = {
        "budget_s": budget_s,
        "data": data,
        "seed": seed,
        "eval_n": eval_n,
        "machine": machine_info(),
        "models": {},
    }
    for name, settings in CONTENDERS.items():
        out = Path(work_dir) / name
        shutil.rmtree(out, ignore_errors=True)
        run = {"time_budget": budget_s, "seed": seed, "preview_every": 0}
        recipe = Recipe(kind="sound-vae", data=data, model={**(model or {}), **settings}, run=run)
        trained = train_from_recipe(recipe, out=out, progress=progress)
        loaded = load_artifact(out)
        evaluation = call_verb(loaded, "evaluate", n=eval_n, seed=seed).data
        results["models"][name] = {
            **_row(evaluation),
            "steps": trained.step,
            "train_seconds": round(trained.elapsed, 1),
            "ms_per_audio_second": generation_speed(loaded),
        }
    ours = results["models"]["ours"]
    results["targets"] = {
        "pitch_accuracy_at_least_0.9": (ours["pitch_accuracy"] or 0) >= TARGETS["pitch_accuracy"],
        "1_s_of_audio_under_50_ms": ours["ms_per_audio_second"] < TARGETS["ms_per_audio_second"],
    }
    if picture_model is not None:
        results["visualise"] = visualise_speed(picture_model, work_dir)
        took = results["visualise"]["seconds"]
        results["targets"]["30_s_720p_visualisation_under_60_s"] = (
            took < TARGETS["visualise_30s_720p_s"]
        )
    return results


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of the contenders and the targets."""

    def num(value: Any, digits: int = 2) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    lines = [
        f"sound models, {results['budget_s']:.0f} s each on {results['data']}",
        "",
        "| model | FID ↓ (floor) | family as asked | pitch within 1 semitone | NDB/k ↓ "
        "| near copies | steps | ms per 1 s of audio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["models"].items():
        lines.append(
            f"| {name} | {num(row['fid'])} ({num(row['fid_real_floor'])}) "
            f"| {num(row['family_as_asked'])} (real {num(row['family_real_accuracy'])}) "
            f"| {num(row['pitch_accuracy'])} (real {num(row['pitch_real_accuracy'])}) "
            f"| {num(row['ndb_over_k'])} | {num(row['near_copy_share'], 3)} | {row['steps']} "
            f"| {num(row['ms_per_audio_second'], 1)} |"
        )
    seen = results.get("visualise")
    if seen:
        lines += [
            "",
            f"visualise: {seen['seconds_of_music']:.0f} s of music at 1280x720, "
            f"{seen['frames']} frames through {seen['model']}, in {seen['seconds']:.1f} s",
        ]
    met = ", ".join(f"{k}: {'met' if v else 'not met'}" for k, v in results["targets"].items())
    return "\n".join([*lines, "", f"targets — {met}"])
