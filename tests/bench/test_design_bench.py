import json

import pytest

from museforge.bench.design import format_table, run_design_bench
from museforge.design.glyphs import covering_fonts
from museforge.errors import InputError


@pytest.mark.skipif(not covering_fonts(), reason="no font with A-Z, a-z, 0-9")
def test_design_bench_scores_legibility_and_svgs(tmp_path, quick_feature_net, monkeypatch):
    from museforge.bench import design

    monkeypatch.setattr(design, "SPECIMENS", 2)
    results = run_design_bench(1.0, tmp_path, ("glyphs",), eval_n=100, progress=False)
    rows = results["sets"]["glyphs"]
    assert set(rows) == {"ours-vae", "ours-gan"}
    for name, m in rows.items():
        assert m["steps"] > 0 and m["fid"] >= 0, name
        assert len(m["classes"]["names"]) == 62  # one class per character, used
        assert 0 <= m["classes"]["asked_share"] <= 1
        assert m["svg_parsed_share"] in (None, 0.0, 0.5, 1.0)
    manifest = json.loads((tmp_path / "glyphs" / "ours-vae" / "model.json").read_text())
    assert manifest["config"]["num_classes"] == 62
    assert "OFL" in manifest["data"]["licence"]
    assert set(results["targets"]) == {"glyphs_legible_at_least_0.9", "every_svg_parses"}
    table = format_table(results)
    assert "legible" in table and "ours-gan" in table
    json.dumps(results)


def test_an_unknown_design_set_is_named(tmp_path):
    with pytest.raises(InputError, match="bench design knows glyphs, sprites"):
        run_design_bench(1.0, tmp_path, ("faces",))
