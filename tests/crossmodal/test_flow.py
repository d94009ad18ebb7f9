"""The flow-matching text-to-image model: the network's shapes, that it learns, guidance,
and the kind trained with ``arch = "flow"`` drawing from words like the GAN."""

import dataclasses

import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.core.latent import decode_latent
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.crossmodal import data, flow_task
from museforge.crossmodal.encoder_task import split
from museforge.crossmodal.flow import FlowNet, flow_loss, sample_flow
from museforge.crossmodal.flow_task import FlowTask, FlowTraining
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.crossmodal.reader import WordReader


def test_the_network_keeps_the_picture_shape_and_checks_its_size():
    net = FlowNet(16, 8, text_dim=4, levels=3)
    out = net(torch.randn(2, 3, 16, 16), torch.rand(2), torch.randn(2, 4))
    assert out.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="does not halve"):
        FlowNet(20, 8, text_dim=4, levels=4)


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


@pytest.mark.parametrize("reader", [0, 2])
def test_a_flow_training_step_moves_the_network_and_exports_the_average(shapes, encoder, reader):
    loaded = load_artifact(encoder)
    cfg = ImagineConfig(
        encoder=dataclasses.asdict(loaded.model.cfg),
        image_size=16,
        arch="flow",
        flow_width=8,
        sample_steps=2,
        text_reader=reader,
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
    assert task.model.flow is trained  # the preview drew with the average, untouched
    task.train_step(torch.arange(16), noise)
    if reader:  # the word reader learns with the flow (once the zero-initialised layers do)
        assert not torch.equal(before["reader.queries"], task.model.reader.queries)
    average = task.ema.model["flow"] if reader else task.ema.model
    assert not torch.equal(trained.inp.weight, average.inp.weight)
    config, state = task.export()
    model = TextToImage(config)
    model.load_state_dict(state)
    assert torch.equal(state["flow.inp.weight"], average.inp.weight)
    assert model.z_dim == 3 * 16 * 16
    # The manifest's neutral sentence: the mean of the training captions' as exported.
    langs = sorted({lang for c in train.captions for lang in c})
    vecs = [model.sentences([c[lang] for c in train.captions if lang in c]) for lang in langs]
    mean = decode_latent(task.data_record()["mean_sentence"])
    assert mean.shape == (cfg.sentence_dim,)
    assert torch.allclose(mean, torch.cat(vecs).mean(0), atol=1e-4)


def test_a_reading_flow_keeps_its_captions_tower_states_when_they_fit(shapes, encoder, monkeypatch):
    loaded = load_artifact(encoder)
    cfg = ImagineConfig(
        encoder=dataclasses.asdict(loaded.model.cfg), image_size=16, arch="flow", text_reader=2
    )
    train, _ = split(shapes)
    task = FlowTask(cfg, FlowTraining(), train, loaded.model, seed=0)
    rows = [("en", 3), ("zh", 0), ("en", 7)]
    kept = task._read(rows, task.model.reader, cached=True)
    exact = task._read(rows, task.model.reader, cached=False)
    assert task._states is not None and kept.shape == (3, cfg.sentence_dim)
    assert torch.allclose(kept, exact, atol=2e-2) and not torch.equal(kept[0], kept[2])
    monkeypatch.setattr(flow_task, "STATE_CACHE_BYTES", 0)  # too many captions to keep
    assert FlowTask(cfg, FlowTraining(), train, loaded.model, seed=0)._states is None


def test_the_word_reader_gives_a_second_sentence_of_the_same_length():
    torch.manual_seed(0)
    reader = WordReader(width=16, queries=3, dim=8)
    states = torch.randn(2, 5, 16)
    pad = torch.tensor([[False] * 5, [False, False, True, True, True]])
    out = reader(states, pad)
    assert out.shape == (2, 8) and torch.allclose(out.norm(dim=1), torch.full((2,), 8**0.5))
    # Pads are not read: what stands there does not change the second caption's vector.
    changed = states.clone()
    changed[1, 2:] = 100.0
    assert torch.allclose(reader(changed, pad)[1], out[1], atol=1e-5)
    changed[1, 1] = 100.0  # but the words are
    assert not torch.allclose(reader(changed, pad)[1], out[1], atol=1e-3)
    with pytest.raises(ValueError, match="needs a flow"):
        ImagineConfig(encoder={}, image_size=16, arch="gan", text_reader=2)


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
