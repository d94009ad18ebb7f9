import json

from museforge.bench.sculpture import format_table, run_3d_bench


def test_the_3d_bench_scores_a_trained_model_beside_the_untrained_one(tmp_path):
    results = run_3d_bench(3.0, tmp_path, eval_n=8, progress=False, kinds=("vessel-vae",))
    rows = results["kinds"]["vessel-vae"]["rows"]
    assert set(rows) == {"untrained", "ours", "training solids"}
    assert rows["ours"]["steps"] > rows["untrained"]["steps"] == 1
    for row in rows.values():
        assert 0 <= row["coverage"] <= 1 and row["mmd_chamfer_mm"] > 0
    # three seconds of training already draw vessels nearer the held-out ones
    assert rows["ours"]["mmd_chamfer_mm"] < rows["untrained"]["mmd_chamfer_mm"]
    assert rows["ours"]["seconds_per_solid"] > 0
    table = format_table(results)
    assert "**vessel-vae**" in table and table.count("\n| ") == 4
    json.dumps(results)
