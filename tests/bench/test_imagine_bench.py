"""bench imagine: every contender trains on the same set, the baselines are told a class or
nothing instead of the words, and all are scored by one protocol."""

import json

import pytest
import torch

from museforge.bench import imagine as bench
from museforge.core.artifact import save_artifact
from museforge.crossmodal import data
from museforge.crossmodal.encoder import EncoderConfig, TextImageEncoder, build_vocab
from museforge.crossmodal.judge import AttributeJudge
from museforge.crossmodal.shapes import captioned_shapes
from museforge.errors import InputError
from museforge.image.autoencoder import AutoencoderConfig, AutoencoderModel


@pytest.fixture
def small_world(tmp_path, monkeypatch):
    shapes = captioned_shapes(16, n=96, seed=0)
    vocab = build_vocab([t for c in shapes.captions for t in c.values()])
    cfg = EncoderConfig(
        vocab=vocab,
        image_size=16,
        embed_dim=16,
        text_width=16,
        text_layers=1,
        text_heads=2,
        image_width=8,
        context=48,
    )
    models = tmp_path / "models"
    save_artifact(
        models / "shapes-encoder", "text-image-encoder", cfg, TextImageEncoder(cfg).state_dict()
    )
    shipped = AutoencoderConfig(latent_channels=4, width=8)
    save_artifact(
        models / "pictures-autoencoder",
        "picture-autoencoder",
        shipped,
        AutoencoderModel(shipped).state_dict(),
    )
    monkeypatch.setattr(data, "load_captioned", lambda source, image_size=64: shapes)
    monkeypatch.setattr(bench, "load_captioned", lambda source, image_size=64: shapes)
    monkeypatch.setattr(bench, "load_judge", lambda size: AttributeJudge(size).eval())
    monkeypatch.setitem(bench.IMAGE_SIZES, "captioned-shapes", 16)
    return models, shapes


def test_contenders_differ_only_in_what_they_are_told(small_world, tmp_path):
    models, _ = small_world
    results = bench.run_imagine_bench(
        1.0, tmp_path / "work", models, ["captioned-shapes"], eval_n=8, progress=False
    )
    scores = results["sets"]["captioned-shapes"]
    assert set(scores) == set(bench.CONTENDERS)
    for name, m in scores.items():
        assert m["steps"] > 0 and m["train_seconds"] >= 1.0, name
        assert 0 <= m["r_precision"] <= 1 and m["fid"] >= 0 and m["seconds_for_8"] > 0
        assert set(m["attributes_held_out"]) >= {"colour", "shape", "colour_and_shape"}
    manifests = {
        name: json.loads((tmp_path / "work" / "captioned-shapes" / name / "model.json").read_text())
        for name in scores
    }
    assert manifests["words-gan"]["config"]["arch"] == "gan"
    assert manifests["words-flow"]["config"]["arch"] == "flow"
    # The baselines are the same network as ours: a flow in an autoencoder's latents.
    # ... in the shipped autoencoder's latents, with the whole budget for the flow.
    for name in ("words-latent", "class", "unconditional"):
        assert manifests[name]["config"]["arch"] == "latent-flow", name
        assert manifests[name]["config"]["latent_channels"] == 4, name
        assert manifests[name]["data"]["autoencoder"]["path"].endswith("pictures-autoencoder")
    assert "captioned-shapes" in bench.format_table(results)
    json.dumps(results)


def test_class_codes_follow_the_colour_and_shape_pair(small_world):
    _, shapes = small_world

    class Model:
        text = torch.nn.Module()

    Model.text.out = torch.nn.Linear(4, 16)
    codes = bench.ClassCodes(Model(), shapes, seed=0)
    vecs = codes(shapes, "en")
    attrs = shapes.attributes
    same = [
        (i, j)
        for i in range(len(attrs))
        for j in range(i)
        if (attrs[i]["colour"], attrs[i]["shape"]) == (attrs[j]["colour"], attrs[j]["shape"])
    ]
    assert same and all(torch.equal(vecs[i], vecs[j]) for i, j in same)
    assert len({tuple(v.tolist()) for v in vecs}) == len({(a["colour"], a["shape"]) for a in attrs})


def test_unknown_sets_and_contenders_are_named(tmp_path):
    with pytest.raises(InputError, match="bench imagine knows"):
        bench.run_imagine_bench(1.0, tmp_path, tmp_path, ["mnist5k"])
    with pytest.raises(InputError, match="contenders are"):
        bench.run_imagine_bench(1.0, tmp_path, tmp_path, ["emoji"], contenders=["dalle"])
    with pytest.raises(InputError, match="needs the starter 'emoji-encoder'"):
        bench.run_imagine_bench(1.0, tmp_path, tmp_path, ["emoji"])
    (tmp_path / "emoji-encoder").mkdir()
    (tmp_path / "emoji-encoder" / "model.json").write_text("{}")
    # The latent flows reuse the shipped autoencoder, or the set's starter's when asked.
    with pytest.raises(InputError, match="needs the starter 'pictures-autoencoder'"):
        bench.run_imagine_bench(1.0, tmp_path, tmp_path, ["emoji"])
    with pytest.raises(InputError, match="needs the starter 'emoji-imagine'"):
        bench.run_imagine_bench(1.0, tmp_path, tmp_path, ["emoji"], autoencoder="set")
    with pytest.raises(InputError, match="autoencoder is one of shipped, set, own"):
        bench.run_imagine_bench(1.0, tmp_path, tmp_path, ["emoji"], autoencoder="borrowed")
