"""The picture autoencoder as a kind of its own, and the shipped one that new latent flows
reuse by default."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.core.grid import to_pil
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.seeding import stream
from museforge.image.autoencoder import (
    AutoencoderConfig,
    AutoencoderTask,
    AutoencoderTraining,
    random_crops,
)
from museforge.nn.latent_flow import SHIPPED_AUTOENCODER
from tests.conftest import TINY_FLOW, bar_images, train_tiny

TINY_AE = {"latent_channels": 4, "width": 8, "image_size": 16}


def _uint8(pictures: torch.Tensor) -> torch.Tensor:
    return pictures.add(1).mul(127.5).round().to(torch.uint8)


def test_it_learns_to_rebuild_pictures_from_crops() -> None:
    images, _ = bar_images(n=64, size=20)
    cfg = AutoencoderConfig(**{**TINY_AE, "channels": 1})
    task = AutoencoderTask(cfg, AutoencoderTraining(picture_size=20), _uint8(images), seed=0)
    assert task.num_examples + len(task.val_idx) == 64 and len(task.val_idx) >= 1
    noise = stream(0, "train")
    before = task.validate()
    losses = [task.train_step(torch.arange(16), noise)["loss"] for _ in range(60)]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    after = task.validate()
    assert after["val_mse"] < before["val_mse"] and after["val_psnr"] > before["val_psnr"]
    assert task.preview().width > 0
    cfg_out, state = task.export()
    assert cfg_out == cfg and float(state["autoencoder.scale"]) != 1.0  # latents scaled


def test_crops_are_inside_the_picture_and_some_mirrored() -> None:
    pictures = torch.arange(2 * 3 * 6 * 6, dtype=torch.float).view(2, 3, 6, 6).to(torch.uint8)
    crops = random_crops(pictures.repeat(20, 1, 1, 1), 4, stream(0, "crops"))
    assert crops.shape == (40, 3, 4, 4) and crops.min() >= -1 and crops.max() <= 1
    mirrored = (crops[:, :, :, 0] > crops[:, :, :, -1]).all(-1).all(-1)
    assert 0 < int(mirrored.sum()) < 40


def test_a_picture_size_below_the_crop_is_refused() -> None:
    with pytest.raises(ValueError, match="picture_size"):
        AutoencoderTask(
            AutoencoderConfig(**TINY_AE),
            AutoencoderTraining(picture_size=12),
            torch.zeros(4, 3, 12, 12, dtype=torch.uint8),
            seed=0,
        )
    with pytest.raises(ValueError, match="multiple of 4"):
        AutoencoderConfig(image_size=18)


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Red bars on blue in two class folders (RGB pictures)."""
    root = tmp_path_factory.mktemp("colour")
    images, labels = bar_images(n=32)
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        bar = (img + 1) / 2
        rgb = torch.stack([bar, torch.zeros_like(bar), 1 - bar]).squeeze(1) * 2 - 1
        folder = root / ("horizontal" if label == 0 else "vertical")
        folder.mkdir(exist_ok=True)
        to_pil(rgb).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory, colour_folder: Path) -> Path:
    """A models folder holding a tiny trained picture-autoencoder under the starter's name."""
    models = tmp_path_factory.mktemp("models")
    recipe = Recipe(
        kind="picture-autoencoder",
        data=f"folder:{colour_folder}",
        model=TINY_AE,
        training={"picture_size": 16},
        run={"steps": 4, "batch_size": 8, "preview_every": 0},
    )
    train_from_recipe(recipe, out=models / SHIPPED_AUTOENCODER, progress=False)
    return models


def _flow(folder: Path, out: Path, training: dict | None = None, **model) -> dict:
    settings = {k: v for k, v in TINY_FLOW.items() if k != "autoencoder_width"}
    recipe = Recipe(
        kind="image-flow",
        data=f"folder:{folder}",
        model={**settings, **model},
        training=training or {},
        run={"steps": 3, "batch_size": 8, "preview_every": 0, "log_every": 1},
    )
    train_from_recipe(recipe, out=out, progress=False)
    manifest = json.loads((out / "model.json").read_text())
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    manifest["trained_autoencoder"] = any("reconstruction" in r for r in logged)
    return manifest


def test_a_new_flow_reuses_the_shipped_autoencoder_for_its_channels(
    shipped: Path,
    colour_folder: Path,
    bars_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSEFORGE_MODELS", str(shipped))
    reused = _flow(colour_folder, tmp_path / "reused")
    starter = load_artifact(shipped / SHIPPED_AUTOENCODER)
    assert reused["data"]["autoencoder"]["sha256"] == starter.sha256
    assert reused["config"]["latent_channels"] == 4 and reused["config"]["autoencoder_width"] == 8
    assert any("reusing the shipped autoencoder" in n for n in reused["data"]["notices"])
    # Kept as it is (the whole run for the flow), or tuned to the folder first when asked.
    shipped_weight = starter.model.autoencoder.decoder[0].weight
    kept = load_artifact(tmp_path / "reused").model.autoencoder.decoder[0].weight
    assert not reused["trained_autoencoder"] and torch.equal(kept, shipped_weight)
    tuned = _flow(colour_folder, tmp_path / "tuned", training={"autoencoder_tune": 0.1})
    assert tuned["trained_autoencoder"]
    weight = load_artifact(tmp_path / "tuned").model.autoencoder.decoder[0].weight
    assert not torch.equal(weight, shipped_weight)
    # Grey pictures, "none", or a latent grid of its own: the run trains its own.
    for name, folder, model in (
        ("grey", bars_folder, {}),
        ("none", colour_folder, {"autoencoder": "none"}),
        ("wider", colour_folder, {"autoencoder_width": 16}),
    ):
        own = _flow(folder, tmp_path / name, **model)
        assert "autoencoder" not in own["data"] and own["trained_autoencoder"], name
    # Named, it is found among the models as a starter is.
    named = _flow(colour_folder, tmp_path / "named", autoencoder=SHIPPED_AUTOENCODER)
    assert named["data"]["autoencoder"]["sha256"] == starter.sha256


def test_the_shipped_autoencoder_is_refused_for_grey_pictures_when_named(
    shipped: Path, bars_folder: Path, tmp_path: Path
) -> None:
    from museforge.errors import InputError

    with pytest.raises(InputError, match="reads 3-channel pictures, not 1"):
        train_tiny(
            "image-flow",
            bars_folder,
            tmp_path / "m",
            steps=1,
            autoencoder=str(shipped / SHIPPED_AUTOENCODER),
            channels=1,
        )


def test_reconstruct_shows_what_the_autoencoder_keeps_of_a_picture(
    shipped: Path, colour_folder: Path, tmp_path: Path
) -> None:
    from museforge.core.registry import call_verb
    from museforge.errors import InputError

    loaded = load_artifact(shipped / SHIPPED_AUTOENCODER)
    files = sorted((colour_folder / "horizontal").glob("*.png"))[:2]
    result = call_verb(loaded, "reconstruct", images=files, size=32)
    assert [a.image.size for a in result.artworks] == [(32, 32), (32, 32)]
    assert set(result.data) == {f.name for f in files}
    assert all(v["psnr"] > 0 for v in result.data.values()) and "PSNR" in result.message
    assert result.grid.width > 2 * 32
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(InputError, match=r"broken\.png"):
        call_verb(loaded, "reconstruct", images=[broken])
    with pytest.raises(InputError, match="multiple of 4"):
        call_verb(loaded, "reconstruct", images=files, size=30)
