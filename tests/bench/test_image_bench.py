import json

from museforge.bench.image import format_table, run_image_bench


def test_bench_trains_three_contenders_and_reports(tmp_path, quick_feature_net):
    results = run_image_bench(1.0, tmp_path, eval_n=200, progress=False)
    assert set(results["models"]) == {"ours-gan", "ours-vae", "dcgan-classic"}
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
