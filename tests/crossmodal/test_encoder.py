"""The text–image encoder: one tokenizer for both languages, a contrastive loss that falls,
R-precision, and the kind trained, saved, loaded and used through its verbs."""

import json

import pytest
import torch
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.crossmodal.encoder import (
    EncoderConfig,
    TextImageEncoder,
    build_vocab,
    contrastive_loss,
    r_precision,
)
from museforge.crossmodal.encoder_task import EncoderTask, EncoderTraining, split
from museforge.crossmodal.shapes import captioned_shapes
from museforge.errors import InputError

TINY = {
    "image_size": 16,
    "embed_dim": 32,
    "text_width": 32,
    "text_layers": 1,
    "text_heads": 2,
    "image_width": 8,
}


def test_tokens_cover_both_languages_and_name_unseen_characters():
    vocab = build_vocab(["A Red Star", "红色星星"])
    model = TextImageEncoder(
        EncoderConfig(vocab=vocab, context=8, **{k: v for k, v in TINY.items()})
    )
    ids = model.tokens.encode(["a red star", "红色星星", "a red!"])
    assert ids.shape == (3, 8)
    assert ids[0, 7] == 2  # cut to fit, closed by the end marker
    assert ids[1, :5].tolist() == [model.tokens.index[c] for c in "红色星星"] + [2]
    assert ids[2, 5] == 1 and ids[2, 7] == 0  # '!' reads as unknown outside strict mode; padding
    assert model.tokens.unknown("a blue star") == ["b", "l", "u"]
    with pytest.raises(InputError, match="never saw"):
        model.tokens.encode(["a blue star"], strict=True)


def test_loss_is_low_when_pictures_and_captions_match():
    matched = torch.eye(4) * 10
    assert contrastive_loss(matched) < 0.01 < contrastive_loss(torch.zeros(4, 4))


def test_split_is_seeded_disjoint_and_complete():
    data = captioned_shapes(8, n=50, seed=1)
    train, hold = split(data)
    again, _ = split(data)
    assert (len(train), len(hold)) == (45, 5) and train.fingerprint == again.fingerprint
    assert sorted(c["en"] for c in train.captions + hold.captions) == sorted(
        c["en"] for c in data.captions
    )
    assert train.attributes is not None and len(train.attributes) == 45


def test_training_makes_captions_find_their_pictures():
    data = captioned_shapes(16, n=400, seed=0)
    train, hold = split(data)
    vocab = build_vocab([t for c in train.captions for t in c.values()])
    task = EncoderTask(
        EncoderConfig(vocab=vocab, **TINY), EncoderTraining(lr=3e-3), train, hold, seed=0
    )
    noise = torch.Generator().manual_seed(0)
    order = torch.Generator().manual_seed(1)
    before = r_precision(task.model, train.images[:100], [c["en"] for c in train.captions[:100]])
    losses = [
        task.train_step(torch.randperm(len(train), generator=order)[:32], noise)["loss"]
        for _ in range(120)
    ]
    after = r_precision(task.model, train.images[:100], [c["en"] for c in train.captions[:100]])
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10
    assert after > before + 0.1
    assert set(task.validate()) == {"val_r_precision_en", "val_r_precision_zh"}


def test_the_kind_trains_saves_and_scores_captions(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    for i, colour in enumerate(["red", "blue", "green", "yellow"] * 3):
        Image.new("RGB", (16, 16), colour).save(folder / f"{i}.png")
        (folder / f"{i}.txt").write_text(f"a {colour} square")
    recipe = Recipe(
        "text-image-encoder",
        f"folder:{folder}",
        model=dict(TINY),
        run={"steps": 3, "batch_size": 8},
    )
    result = train_from_recipe(recipe, out=tmp_path / "enc", progress=False)
    manifest = json.loads((result.out_dir / "model.json").read_text())
    assert (
        manifest["kind"] == "text-image-encoder" and manifest["data"]["licence"] == "the user's own"
    )
    loaded = load_artifact(result.out_dir)
    out = call_verb(
        loaded, "encode", images=[folder / "0.png"], captions="a red square | a blue square"
    )
    [row] = out.data["pictures"]
    assert len(row["embedding"]) == TINY["embed_dim"] and len(row["captions"]) == 2
    with pytest.raises(InputError, match="never saw"):
        call_verb(loaded, "encode", images=[folder / "0.png"], captions="a purple square")
