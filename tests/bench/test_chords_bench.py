import json

from museforge.bench.chords import METHODS, format_table, run_chords_bench


def test_chords_bench_scores_the_model_beside_both_baselines(tmp_path):
    results = run_chords_bench(3.0, tmp_path, progress=False)
    assert results["steps"] > 0 and results["vocabulary"] == "triads"
    held = results["held_out"]
    assert held["pieces"] > 10
    for method in METHODS:
        assert 0 <= held[f"{method}_exact"] <= held[f"{method}_root"] <= 1
        assert 0 <= held[f"{method}_chord_tones"] <= 1
    assert held["rule_exact"] > held["most_frequent_exact"]  # the rule knows the key
    table = format_table(results)
    assert "key-aware rule" in table and "as written" in table
    assert table.count("\n| ") == 4  # under the header: three methods and "as written"
    json.dumps(results)
