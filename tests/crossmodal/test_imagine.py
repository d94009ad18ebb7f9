"""Text-to-image: shapes of the networks, a training step, and the kind's verbs end to end
(prompts in either language, seeds, walks, and the one-line errors for bad prompts)."""

import dataclasses

import pytest
import torch

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.crossmodal import data, imagine_eval
from museforge.crossmodal.encoder import EncoderConfig, build_vocab
from museforge.crossmodal.encoder_task import split
from museforge.crossmodal.imagine import ImagineConfig, TextToImage
from museforge.crossmodal.imagine_task import ImagineTask, ImagineTraining
from museforge.crossmodal.judge import AttributeJudge
from museforge.errors import InputError
from tests.crossmodal.conftest import SMALL


def test_networks_fit_each_size():
    enc = EncoderConfig(vocab=build_vocab(["ab"]), image_size=16, **SMALL)
    for size in (16, 32):
        model = TextToImage(
            ImagineConfig(encoder=dataclasses.asdict(enc), image_size=size, g_width=8, d_width=8)
        )
        words = model.sentences(["ab", "ba"])
        pictures = model.generate(torch.randn(2, model.z_dim), words)
        assert pictures.shape == (2, 3, size, size) and pictures.abs().max() <= 1
        assert model.critic(pictures, words).shape == (2,)
    with pytest.raises(ValueError, match="4·2"):
        ImagineConfig(encoder=dataclasses.asdict(enc), image_size=28)


def test_a_training_step_moves_the_generator_and_keeps_the_text_tower(shapes, encoder):
    loaded = load_artifact(encoder)
    cfg = ImagineConfig(
        encoder=dataclasses.asdict(loaded.model.cfg), image_size=16, g_width=8, d_width=8
    )
    train, _ = split(shapes)
    task = ImagineTask(cfg, ImagineTraining(align_weight=1.0), train, loaded.model, seed=0)
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    noise = torch.Generator().manual_seed(0)
    losses = [task.train_step(torch.arange(16), noise) for _ in range(3)]
    after = task.model.state_dict()
    assert all(torch.isfinite(torch.tensor(list(m.values()))).all() for m in losses)
    assert all(m["align"] > 0 for m in losses)  # the encoder scores every drawn picture
    assert not torch.equal(before["generator.project.weight"], after["generator.project.weight"])
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("text."))
    assert task.preview().width > 4 * 16  # a grid: prompts in rows, the same latents across
    config, state = task.export()
    TextToImage(config).load_state_dict(state)


def test_the_kind_imagines_from_words_in_either_language(shapes, encoder, tmp_path, monkeypatch):
    recipe = Recipe(
        "text-to-image",
        "captioned-shapes",
        model={"encoder": str(encoder), "arch": "gan", "g_width": 8, "d_width": 8},
        run={"steps": 2, "batch_size": 8},
    )
    # The default captioned-shapes set has thousands of pictures; the test trains on 64.
    monkeypatch.setattr(data, "load_captioned", lambda source, image_size=64: shapes)
    result = train_from_recipe(recipe, out=tmp_path / "t2i", progress=False)
    loaded = load_artifact(result.out_dir)
    assert loaded.manifest["data"]["encoder"]["path"] == str(encoder)
    english = call_verb(loaded, "imagine", prompt="a small red star top left on white", n=3, seed=4)
    again = call_verb(loaded, "imagine", prompt="a small red star top left on white", n=5, seed=4)
    assert len(english.artworks) == 3 and english.grid is not None
    assert english.artworks[1].image.tobytes() == again.artworks[1].image.tobytes()
    assert english.artworks[0].provenance["args"]["prompt"] == "a small red star top left on white"
    chinese = call_verb(loaded, "imagine", prompt="白色背景上左上角有一个小红色星星", n=1)
    assert chinese.artworks[0].provenance["language"] == "zh"
    long = call_verb(loaded, "imagine", prompt="a red star " * 10, n=1)
    assert "cut to its first 47 characters" in long.message
    walk = call_verb(
        loaded, "interpolate", prompt_a="a red star", prompt_b="a blue heart", frames=3
    )
    assert len(walk.artworks) == 3 and len(walk.frames) == 4
    for prompt, message in (("   ", "needs a prompt"), ("a red star ☃", "never saw")):
        with pytest.raises(InputError, match=message):
            call_verb(loaded, "imagine", prompt=prompt)
    monkeypatch.setattr(imagine_eval, "load_captioned", lambda source, image_size=64: shapes)
    monkeypatch.setattr(imagine_eval, "load_judge", lambda size: AttributeJudge(size).eval())
    scores = call_verb(loaded, "evaluate", n=6, out_dir=tmp_path / "eval").data
    assert {
        "fid",
        "kid_mean",
        "fid_real_floor",
        "caption_score_en",
        "caption_score_real_zh",
    } <= set(scores)
    assert -1 <= scores["caption_score_en"] <= 1 and scores["fid"] >= 0
    worst = scores["memorisation"]["worst_cases"]
    assert worst and all((tmp_path / "eval" / name).is_file() for name in worst)
    assert set(scores) >= {"r_precision_en", "r_precision_zh", "r_precision_real_en"}
    assert set(scores["attributes_held_out_zh"]) >= {"colour", "shape", "colour_and_shape"}
    assert 0 <= scores["r_precision_en"] <= 1 and scores["pictures"] == 6


def test_training_without_an_encoder_says_how_to_get_one(tmp_path):
    with pytest.raises(InputError, match="train one first"):
        train_from_recipe(
            Recipe("text-to-image", "captioned-shapes", run={"steps": 1}),
            out=tmp_path / "x",
            progress=False,
        )
