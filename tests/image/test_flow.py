"""The latent flow picture model (image-flow): its shapes, its training and its verbs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.image.data import ImageDataset
from museforge.image.flow import (
    FlowImage,
    FlowImageConfig,
    FlowImageTask,
    FlowImageTraining,
)
from museforge.nn.flow import flow_levels
from tests.conftest import TINY_FLOW, bar_images, train_tiny


@pytest.mark.parametrize(
    ("side", "levels"), [(4, 2), (6, 2), (8, 2), (16, 3), (18, 2), (32, 4), (64, 5), (128, 5)]
)
def test_the_unet_halves_the_latent_grid_while_it_stays_even(side: int, levels: int) -> None:
    assert flow_levels(side) == levels


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"image_size": 28}, "multiple of 8"),
        ({"channels": 2}, "channels must be 1, 3 or 4"),
        ({"sample_steps": 0}, "sample_steps"),
        ({"guidance": -1.0}, "guidance"),
    ],
)
def test_bad_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FlowImageConfig(**settings)


@pytest.mark.parametrize(("channels", "size"), [(1, 16), (3, 32), (4, 24)])
def test_pictures_come_out_in_range_in_every_channel_layout(channels: int, size: int) -> None:
    cfg = FlowImageConfig(
        image_size=size,
        channels=channels,
        num_classes=3,
        width=16,
        autoencoder_width=8,
        sample_steps=2,
    )
    model = FlowImage(cfg).eval()
    assert model.z_dim == 8 * (size // 4) ** 2
    z = torch.randn(5, model.z_dim, generator=stream(0, "z"))
    with torch.no_grad():
        told = model.generate(z, torch.tensor([0, 1, 2, 0, 1]))
        free = model.generate(z)
    assert told.shape == free.shape == (5, channels, size, size)
    assert told.min() >= -1 and told.max() <= 1


def _task(steps_share: float = 0.3) -> FlowImageTask:
    images, labels = bar_images(n=32)
    data = ImageDataset(images, labels, ("horizontal", "vertical"), "bars", "fp")
    cfg = FlowImageConfig(**{**TINY_FLOW, "channels": 1, "num_classes": 2})
    return FlowImageTask(cfg, FlowImageTraining(autoencoder_share=steps_share), data, seed=0)


def test_the_autoencoder_learns_first_then_the_flow_on_its_frozen_latents() -> None:
    task = _task()
    noise = stream(0, "train")
    batch = torch.arange(16)
    task.set_progress(0.0)
    assert task.distance_to_data() is None  # nothing is drawn while the autoencoder learns
    first = [task.train_step(batch, noise)["reconstruction"] for _ in range(30)]
    assert np.mean(first[-5:]) < np.mean(first[:5])
    encoder_weight = task.model.autoencoder.encoder[1].weight.clone()
    task.set_progress(0.5)
    losses = [task.train_step(batch, noise)["loss"] for _ in range(40)]
    assert np.mean(losses[-8:]) < np.mean(losses[:8])
    assert torch.equal(encoder_weight, task.model.autoencoder.encoder[1].weight)  # frozen
    assert task.distance_to_data() > 0
    assert set(task.optimizers()) == {"flow", "autoencoder"}


def test_the_exported_flow_is_the_average_and_the_class_codes_are_whitened() -> None:
    task = _task()
    noise = stream(1, "train")
    task.set_progress(0.5)
    before = task.model.flow.words[0].weight.clone()
    task.train_step(torch.arange(8), noise)
    assert not torch.allclose(before, task.model.flow.words[0].weight)  # whitening folded in
    task.train_step(torch.arange(8), noise)
    cfg, state = task.export()
    assert cfg.num_classes == 2
    assert torch.equal(state["flow.inp.weight"], task.ema.model.inp.weight)


@pytest.fixture(scope="module")
def flow_model(tmp_path_factory: pytest.TempPathFactory, bars_folder: Path) -> Path:
    out = tmp_path_factory.mktemp("m") / "flow"
    return train_tiny("image-flow", bars_folder, out, steps=30)


def test_a_folder_with_classes_trains_a_conditional_flow(flow_model: Path) -> None:
    manifest = json.loads((flow_model / "model.json").read_text())
    assert manifest["kind"] == "image-flow"
    assert manifest["config"]["num_classes"] == 2
    assert manifest["config"]["channels"] == 1
    model = load_artifact(flow_model).model.eval()
    assert model.num_classes == 2
    z = torch.randn(4, model.z_dim, generator=stream(0, "z"))
    with torch.no_grad():
        told, free = model.generate(z, torch.tensor([0, 1, 0, 1])), model.generate(z)
    assert not torch.allclose(told, free)  # guided towards the classes vs no class at all


def test_sampling_is_reproducible_from_the_seed(flow_model: Path) -> None:
    loaded = load_artifact(flow_model)
    a = call_verb(loaded, "sample", n=4, seed=3, label=1)
    b = call_verb(loaded, "sample", n=4, seed=3, label=1)
    c = call_verb(loaded, "sample", n=4, seed=4, label=1)
    same = [np.asarray(x.image) for x in a.artworks], [np.asarray(x.image) for x in b.artworks]
    assert len(same[0]) == 4 and all(map(np.array_equal, *same))
    assert not np.array_equal(same[0][0], np.asarray(c.artworks[0].image))


@pytest.mark.parametrize("verb", ["interpolate", "evaluate"])
def test_the_picture_verbs_work_on_a_flow(
    flow_model: Path, tmp_path: Path, verb: str, quick_feature_net: None
) -> None:
    loaded = load_artifact(flow_model)
    if verb == "interpolate":
        result = call_verb(loaded, verb, frames=3)
        assert len(result.artworks) == 3
    else:
        result = call_verb(loaded, verb, n=40, out_dir=tmp_path)
        assert result.data["fid"] >= 0 and "classes" in result.data


def test_a_folder_of_28_pixel_pictures_trains_a_flow_at_32(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    recipe = Recipe(
        kind="image-flow",
        data=f"folder:{folder}",
        model={"width": 16, "autoencoder_width": 8},
        run={"steps": 2, "batch_size": 4, "preview_every": 0},
    )
    train_from_recipe(recipe, out=tmp_path / "m", progress=False)
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert manifest["config"]["image_size"] == 32
    assert "32×32 px" in manifest["data"]["notices"][0]


def test_a_trained_autoencoder_is_reused_tuned_briefly_or_as_it_is(
    flow_model: Path, bars_folder: Path, tmp_path: Path
) -> None:
    first = load_artifact(flow_model).model.autoencoder.decoder[0].weight

    def again(name: str, **training) -> tuple[list[dict], torch.Tensor]:
        recipe = Recipe(
            kind="image-flow",
            data=f"folder:{bars_folder}",
            model={**TINY_FLOW, "autoencoder": str(flow_model)},
            training=training,
            run={"steps": 10, "batch_size": 16, "preview_every": 0, "log_every": 1},
        )
        train_from_recipe(recipe, out=tmp_path / name, progress=False)
        manifest = json.loads((tmp_path / name / "model.json").read_text())
        assert manifest["data"]["autoencoder"]["path"] == str(flow_model)
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        logged = [json.loads(line) for line in lines if "step" in line]
        return logged, load_artifact(tmp_path / name).model.autoencoder.decoder[0].weight

    # By default it is kept as it is: the whole run for the flow.
    logged, weight = again("kept")
    assert logged and not any("reconstruction" in r for r in logged)
    assert torch.equal(weight, first)
    # Asked, the first tenth tunes it to the data, then the flow has the rest.
    logged, weight = again("tuned", autoencoder_tune=0.1)
    phases = [("reconstruction" in r, "loss" in r) for r in logged if "examples_per_s" in r]
    assert phases[0] == (True, False) and phases[-1] == (False, True)
    assert sum(tuned for tuned, _ in phases) == 1 and not torch.equal(weight, first)


def test_an_autoencoder_for_other_pictures_is_refused(
    flow_model: Path, gan_model: Path, bars_folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="reads 1-channel pictures, not 3"):
        train_tiny(
            "image-flow",
            bars_folder,
            tmp_path / "m",
            steps=1,
            autoencoder=str(flow_model),
            channels=3,
        )
    with pytest.raises(InputError, match="has no autoencoder"):
        train_tiny(
            "image-flow",
            bars_folder,
            tmp_path / "n",
            steps=1,
            autoencoder=str(gan_model),
        )
