"""The flow-matching text-to-image model: the network's shapes, that it learns, guidance,
and the kind trained with ``arch = "flow"`` drawing from words like the GAN."""

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
from museforge.nn.flow import FlowNet, flow_loss, sample_flow, whiten_words


def test_the_network_keeps_the_picture_shape_and_checks_its_size():
    net = FlowNet(16, 8, text_dim=4, levels=3)
    out = net(torch.randn(2, 3, 16, 16), torch.rand(2), torch.randn(2, 4))
    assert out.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="does not halve"):
        FlowNet(20, 8, text_dim=4, levels=4)


def test_whitening_spreads_close_sentences_apart_and_keeps_the_layer_affine():
    torch.manual_seed(0)
    net = FlowNet(8, 8, text_dim=4, levels=2)
    # Two captions the encoder set almost together, one far away, and no words.
    base = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 0.02, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    sentences = torch.cat([base.repeat(20, 1), torch.zeros(5, 4)])
    layer = net.words[0]
    before = layer(base)
    whiten_words(net, sentences)
    after = layer(base)
    near = (after[0] - after[1]).norm() / (after[0] - after[2]).norm()
    assert near > 10 * (before[0] - before[1]).norm() / (before[0] - before[2]).norm()
    # Still one affine map: the midpoint of two sentences goes to the midpoint.
    middle = layer((base[0:1] + base[2:3]) / 2)
    assert torch.allclose(middle, (after[0:1] + after[2:3]) / 2, atol=1e-5)
    weight = layer.weight.clone()
    whiten_words(net, torch.zeros(6, 4))  # nothing varies: left as it is
    assert torch.equal(layer.weight, weight)


def test_the_velocity_field_is_learnt_and_guidance_one_is_plain_conditioning():
    torch.manual_seed(0)
    net = FlowNet(8, 8, text_dim=4, levels=2)
    pictures = torch.rand(4, 3, 8, 8) * 2 - 1
    words = torch.eye(4)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        loss = flow_loss(net, pictures, words, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-20:]) / 20 < 0.6 * sum(losses[:20]) / 20
    noise = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = sample_flow(net, noise, words, steps=6)
        again = sample_flow(net, noise, words, steps=6, guidance=1.0)
        pushed = sample_flow(net, noise, words, steps=6, guidance=3.0)
        negative = sample_flow(net, noise, words, steps=6, guidance=3.0, against=words.roll(1, 0))
    assert torch.equal(plain, again) and plain.abs().max() <= 1
    assert not torch.allclose(plain, pushed) and not torch.allclose(pushed, negative)
    # Drawn pictures come closer to their own training picture than to the others'.
    dist = torch.cdist(plain.flatten(1), pictures.flatten(1))
    assert (dist.argmin(1) == torch.arange(4)).float().mean() >= 0.75


def test_a_flow_training_step_moves_the_network_and_exports_the_average(shapes, encoder):
    loaded = load_artifact(encoder)
    cfg = ImagineConfig(
        encoder=dataclasses.asdict(loaded.model.cfg),
        image_size=16,
        arch="flow",
        flow_width=8,
        sample_steps=2,
    )
    train, _ = split(shapes)
    task = FlowTask(cfg, FlowTraining(), train, loaded.model, seed=0)
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    noise = torch.Generator().manual_seed(0)
    for fraction in (0.0, 0.5):
        task.set_progress(fraction)
        assert torch.isfinite(torch.tensor(task.train_step(torch.arange(16), noise)["loss"]))
    after = task.model.state_dict()
    assert not torch.equal(before["flow.inp.weight"], after["flow.inp.weight"])
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("text."))
    trained = task.model.flow
    assert task.preview().width > 4 * 16
    assert task.model.flow is trained and task.model.flow is not task.ema.model  # untouched
    task.train_step(torch.arange(16), noise)
    assert not torch.equal(trained.inp.weight, task.ema.model.inp.weight)
    config, state = task.export()
    model = TextToImage(config)
    model.load_state_dict(state)
    assert torch.equal(state["flow.inp.weight"], task.ema.model.inp.weight)
    assert model.z_dim == 3 * 16 * 16


def test_the_kind_trains_a_flow_that_imagines_reproducibly(shapes, encoder, tmp_path, monkeypatch):
    recipe = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={"encoder": str(encoder), "arch": "flow", "flow_width": 8, "sample_steps": 2},
        run={"steps": 2, "batch_size": 8},
    )
    monkeypatch.setattr(data, "load_captioned", lambda source, image_size=64: shapes)
    result = train_from_recipe(recipe, out=tmp_path / "flow", progress=False)
    loaded = load_artifact(result.out_dir)
    assert loaded.manifest["config"]["arch"] == "flow"
    first = call_verb(loaded, "imagine", prompt="a small red star top left on white", n=2, seed=3)
    again = call_verb(loaded, "imagine", prompt="a small red star top left on white", n=3, seed=3)
    assert first.artworks[1].image.tobytes() == again.artworks[1].image.tobytes()
    assert first.artworks[0].image.size == (16, 16)
    unconditional = call_verb(loaded, "imagine", prompt="  ", n=1)
    assert "drawn without words" in unconditional.message
    with pytest.raises(ValueError, match="arch must be one of"):
        ImagineConfig(encoder={}, image_size=16, arch="diffusion")
