"""The text benchmark's plumbing: both contenders train on the same split and are scored."""

from __future__ import annotations

import pytest

from museforge.bench import text as bench


@pytest.fixture
def tiny_contenders(monkeypatch):
    """Both contenders as one-layer models, scored on few and short samples."""
    tiny = {"n_layer": 1, "n_head": 2, "n_embd": 16, "context": 32}
    monkeypatch.setattr(
        bench,
        "CONTENDERS",
        {
            "classic-char-gpt": (tiny, {"preset": "classic-char-gpt"}, 12),
            "ours-transformer": (tiny, {}, 16),
        },
    )
    monkeypatch.setattr(bench, "SPEED_CHARS", 40)
    monkeypatch.setattr(bench, "ORIGINALITY_SAMPLES", 3)


def test_bench_trains_both_contenders_and_reports(tiny_contenders, tmp_path):
    results = bench.run_text_bench(2.0, tmp_path, corpora=("song100",), progress=False)
    entry = results["corpora"]["song100"]
    rows = entry["models"]
    assert set(rows) == {"classic-char-gpt", "ours-transformer"}
    for row in rows.values():
        assert 0 < row["val_bpc"] < 20
        assert row["chars_per_s_1"] > 0 and row["chars_per_s_16"] > 0
        assert 0 <= row["verbatim_line_share"] <= 1
    ours, classic = rows["ours-transformer"], rows["classic-char-gpt"]
    assert classic["network_val_bpc"] == classic["val_bpc"]  # the preset has no n-gram
    assert ours["val_bpc"] <= ours["network_val_bpc"] + 1e-6  # the fitted mixture is no worse
    ratio = rows["ours-transformer"]["val_bpc"] / rows["classic-char-gpt"]["val_bpc"]
    assert entry["bpc_ratio"] == ratio
    table = bench.format_table(results)
    assert "song100" in table and "ours ÷ classic" in table


def test_panel_mode_gives_ours_the_seconds_the_classic_recipe_took(tiny_contenders, tmp_path):
    results = bench.run_text_bench(None, tmp_path, ("song100",), progress=False, classic_steps=30)
    entry = results["corpora"]["song100"]
    classic, ours = entry["models"]["classic-char-gpt"], entry["models"]["ours-transformer"]
    assert classic["steps"] == 30 and entry["seconds"] == classic["train_seconds"]
    assert abs(ours["train_seconds"] - classic["train_seconds"]) < 1.0 + 0.5 * entry["seconds"]
    assert "classic 30 steps, ours the same seconds" in bench.format_table(results)
    assert bench.PANEL["literature"].startswith("file:") and len(bench.PANEL) >= 6
