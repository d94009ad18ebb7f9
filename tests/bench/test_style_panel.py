"""The style panel bench on a tiny panel: every pair scored, targets counted, the grid."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from museforge.bench.style_panel import format_table, run_style_panel
from museforge.errors import InputError
from museforge.style.colour import match_palette
from museforge.style.images import resize_long_side


def unchanged(content: torch.Tensor, style: torch.Tensor, size: int) -> torch.Tensor:
    return resize_long_side(content, size)


def recoloured(content: torch.Tensor, style: torch.Tensor, size: int) -> torch.Tensor:
    return match_palette(resize_long_side(content, size), style)


def test_every_pair_is_scored_and_the_grid_is_drawn(tmp_path) -> None:
    methods = {"unchanged": unchanged, "recoloured": recoloured}
    results = run_style_panel(
        methods, tmp_path, ("chelsea",), ("pattern-dots", "brick"), 48, grid_method="recoloured"
    )
    assert len(results["rows"]) == 4
    same = [r for r in results["rows"] if r["method"] == "unchanged"]
    assert all(math.isclose(r["colour"], 1.0) and math.isclose(r["ssim"], 1.0) for r in same)
    summary = results["summary"]
    assert summary["unchanged"]["colour_met"] == 0
    assert summary["recoloured"]["colour"] < summary["unchanged"]["colour"]
    with Image.open(results["grid"]) as grid:
        assert grid.size == (3 * 24, 2 * 24)  # a header row of styles, a row per content
    table = format_table(results)
    assert "| unchanged |" in table and "| recoloured |" in table


def test_a_panel_needs_a_method(tmp_path) -> None:
    with pytest.raises(InputError, match="method"):
        run_style_panel({}, tmp_path, ("chelsea",), ("brick",), 48)
