import json

import pytest

from museforge.bench.image import format_table, run_image_bench
from museforge.errors import InputError


def test_bench_trains_four_contenders_and_reports(tmp_path, quick_feature_net):
    results = run_image_bench(1.0, tmp_path, eval_n=200, progress=False)
    assert set(results["models"]) == {"ours-flow", "ours-gan", "ours-vae", "dcgan-classic"}
    for name, m in results["models"].items():
        assert m["steps"] > 0 and m["train_seconds"] >= 1.0, name
        assert m["sample_images_per_s"] > 0 and m["fid"] >= 0 and 0 <= m["precision"] <= 1
    gan, base = results["models"]["ours-gan"], results["models"]["dcgan-classic"]
    assert results["ratios"]["gan_fid_over_classic"] == gan["fid"] / base["fid"]
    assert results["targets"]["gan_fid_below_vae"] == (
        gan["fid"] < results["models"]["ours-vae"]["fid"]
    )
    classic = json.loads((tmp_path / "dcgan-classic" / "model.json").read_text())
    assert classic["config"]["d_norm"] == "batch"
    assert classic["recipe"]["training"]["loss"] == "bce"
    assert classic["recipe"]["training"]["ema_decay"] == 0
    ours = json.loads((tmp_path / "ours-gan" / "model.json").read_text())
    assert ours["config"]["d_norm"] == "spectral" and ours["recipe"]["training"]["ema_decay"] > 0
    table = format_table(results)
    assert table.count("\n| ") >= 3 and "dcgan-classic" in table
    json.dumps(results)  # JSON-ready


def test_bench_on_a_folder_of_shapes_scores_the_classes_asked_for(
    tmp_path, quick_feature_net, monkeypatch
):
    from museforge.bench import image

    monkeypatch.setattr(image, "FOLDER_PICTURES", 200)
    results = run_image_bench(1.0, tmp_path, eval_n=100, progress=False, data="shapes-folder")
    assert results["data"] == "shapes-folder"
    for name, m in results["models"].items():
        classes = m["classes"]
        assert classes["names"] == ["circle", "square", "star", "triangle"], name
        assert set(classes["asked_share_per_class"]) == set(classes["names"])
        assert 0 <= classes["asked_share"] <= 1 and 0 <= classes["real_accuracy"] <= 1
    manifest = json.loads((tmp_path / "ours-gan" / "model.json").read_text())
    assert manifest["config"]["num_classes"] == 4  # the sub-folders, used by default
    targets = results["targets"]
    assert "gan_every_class_recognisable" in targets and "flow_every_class_recognisable" in targets
    table = format_table(results)
    assert "worst class" in table and "trained apart" in table


def test_an_unknown_bench_data_set_is_named(tmp_path):
    with pytest.raises(InputError, match="bench image knows mnist5k, shapes-folder"):
        run_image_bench(1.0, tmp_path, data="faces")
    with pytest.raises(InputError, match="bench image's models are ours-flow"):
        run_image_bench(1.0, tmp_path, contenders=["ours-vae", "stylegan"])


def test_the_bench_trains_only_the_models_named(tmp_path, quick_feature_net):
    results = run_image_bench(1.0, tmp_path, eval_n=100, progress=False, contenders=["ours-vae"])
    assert list(results["models"]) == ["ours-vae"] and results["targets"] == {}
    assert "ratios" not in results and "ours-vae" in format_table(results)
    assert "DCGAN" not in format_table(results)  # no ratio without the classic
