"""The picture autoencoder a latent flow draws in, and the flow trained in its grid."""

import dataclasses

import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.crossmodal import data
from museforge.crossmodal.encoder_task import split
from museforge.crossmodal.flow_task import FlowTask, FlowTraining
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.errors import ArtifactError, InputError
from museforge.nn.autoencoder import PictureAutoencoder, laplacian_l1, reconstruction_loss


def test_pictures_go_to_a_quarter_side_grid_and_back():
    ae = PictureAutoencoder(channels=4, width=16)
    pictures = torch.rand(3, 3, 32, 32) * 2 - 1
    latents = ae.fit_scale(pictures)
    assert latents.shape == (3, 4, 8, 8)
    assert latents.std().item() == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(ae.encode(pictures), latents, atol=1e-5)
    assert ae.decode(latents).shape == pictures.shape


def test_the_laplacian_loss_sees_edges_that_a_blur_loses():
    sharp = -torch.ones(1, 3, 16, 16)
    sharp[..., 4:12, 4:12] = 1
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1)
    assert laplacian_l1(sharp, sharp).item() == 0
    assert laplacian_l1(blurred, sharp).item() > 0
    shifted = sharp.roll(1, dims=3)
    assert laplacian_l1(shifted, sharp).item() > laplacian_l1(blurred, sharp).item() / 2


def test_the_autoencoder_learns_to_rebuild_pictures(shapes):
    torch.manual_seed(0)
    ae = PictureAutoencoder(channels=4, width=16)
    opt = torch.optim.Adam(ae.parameters(), 3e-3)
    gen = torch.Generator().manual_seed(0)
    pictures = shapes.images[:16]
    losses = []
    for _ in range(60):
        loss = reconstruction_loss(ae, pictures, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def _latent_config(encoder_cfg) -> ImagineConfig:
    return ImagineConfig(
        encoder=dataclasses.asdict(encoder_cfg),
        image_size=16,
        arch="latent-flow",
        flow_width=8,
        flow_levels=2,
        sample_steps=2,
        latent_channels=4,
        autoencoder_width=16,
    )


def test_the_autoencoder_trains_first_then_the_flow_in_its_frozen_latents(shapes, encoder):
    loaded = load_artifact(encoder)
    cfg = _latent_config(loaded.model.cfg)
    train, _ = split(shapes)
    task = FlowTask(cfg, FlowTraining(autoencoder_share=0.5), train, loaded.model, seed=0)
    assert set(task.optimizers()) == {"flow", "autoencoder"}
    noise = torch.Generator().manual_seed(0)
    flow_before = task.model.flow.out[-1].weight.clone()
    task.set_progress(0.1)
    assert "reconstruction" in task.train_step(torch.arange(8), noise)
    assert task.preview().width > 16  # reconstructions while the autoencoder learns
    assert torch.equal(task.model.flow.out[-1].weight, flow_before)
    task.set_progress(0.6)
    ae_state = {k: v.clone() for k, v in task.model.autoencoder.state_dict().items()}
    assert "loss" in task.train_step(torch.arange(8), noise)
    assert not torch.equal(task.model.flow.out[-1].weight, flow_before)
    after = task.model.autoencoder.state_dict()
    assert all(torch.equal(ae_state[k], after[k]) for k in ae_state if k not in ("shift", "scale"))
    assert after["scale"].item() != 1.0  # fitted to the training pictures
    config, state = task.export()
    model = TextToImage(config)
    model.load_state_dict(state)
    assert model.z_dim == 4 * 4 * 4
    pictures = model.generate(torch.randn(2, model.z_dim), torch.zeros(2, 16))
    assert pictures.shape == (2, 3, 16, 16) and pictures.abs().max() <= 1


def test_a_latent_flow_is_a_text_to_image_model_like_any_other(
    shapes, encoder, tmp_path, monkeypatch
):
    settings = {"encoder": str(encoder), "arch": "latent-flow", "flow_width": 8, "flow_levels": 2}
    settings |= {"sample_steps": 2, "latent_channels": 4, "autoencoder_width": 16}
    recipe = Recipe(
        "text-to-image", "captioned-shapes", model=settings, run={"steps": 4, "batch_size": 8}
    )
    monkeypatch.setattr(data, "load_captioned", lambda source, image_size=64: shapes)
    result = train_from_recipe(recipe, out=tmp_path / "latent", progress=False)
    loaded = load_artifact(result.out_dir)
    first = call_verb(loaded, "imagine", prompt="a small red star top left on white", n=2, seed=3)
    again = call_verb(loaded, "imagine", prompt="a small red star top left on white", n=2, seed=3)
    assert first.artworks[1].image.tobytes() == again.artworks[1].image.tobytes()
    assert first.artworks[0].image.size == (16, 16)
    with pytest.raises(ValueError, match="latent_channels"):
        ImagineConfig(encoder={}, image_size=16, arch="latent-flow", latent_channels=0)
    # A second model reuses the first one's autoencoder: only its flow trains.
    reuse = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={"encoder": str(encoder), "autoencoder": str(result.out_dir), "flow_width": 8},
        run={"steps": 2, "batch_size": 8},
    )
    second = load_artifact(train_from_recipe(reuse, out=tmp_path / "again", progress=False).out_dir)
    assert second.manifest["config"]["latent_channels"] == 4
    assert second.manifest["data"]["autoencoder"]["sha256"] == loaded.sha256
    ours, theirs = second.model.autoencoder.state_dict(), loaded.model.autoencoder.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    # A starter's autoencoder is named as the starter is (found among the models).
    monkeypatch.setenv("MUSEFORGE_MODELS", str(tmp_path))
    by_name = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={**reuse.model, "autoencoder": "latent"},
        run={"steps": 1, "batch_size": 8},
    )
    third = load_artifact(
        train_from_recipe(by_name, out=tmp_path / "named", progress=False).out_dir
    )
    assert third.manifest["data"]["autoencoder"]["sha256"] == loaded.sha256
    wrong = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={"encoder": str(encoder), "autoencoder": str(encoder)},
        run={"steps": 1},
    )
    with pytest.raises(InputError, match="has no autoencoder"):
        train_from_recipe(wrong, out=tmp_path / "wrong", progress=False)
    # Text-to-image draws RGB: model.channels is not one of its settings, reused or not.
    coloured = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={**reuse.model, "channels": 3},
        run={"steps": 1, "batch_size": 8},
    )
    with pytest.raises(ArtifactError, match="unknown ImagineConfig settings: channels"):
        train_from_recipe(coloured, out=tmp_path / "coloured", progress=False)


def test_the_flow_halves_its_grid_down_to_four_unless_told():
    def depth(**settings) -> int:
        return ImagineConfig(encoder={}, **settings).flow_depth

    assert depth(image_size=32, arch="latent-flow") == 2  # 8×8 grid: 8, 4
    assert depth(image_size=64, arch="latent-flow") == 3  # 16, 8, 4
    assert depth(image_size=32, arch="flow") == 4  # pixels: 32, 16, 8, 4
    assert depth(image_size=64, arch="latent-flow", flow_levels=2) == 2
    config = ImagineConfig(encoder={}, image_size=64, arch="latent-flow", latent_channels=4)
    assert config.flow_shape == (4, 16, 16)
    assert ImagineConfig(encoder={}, image_size=64, arch="flow").flow_shape == (3, 64, 64)
