"""Procedural patterns: deterministic per seed, colourful, the right shape, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from museforge.errors import InputError
from museforge.style.patterns import PATTERNS, make_pattern

REQUIRED = ("voronoi", "waves", "dots", "plaid")


def test_required_patterns_are_registered_with_descriptions() -> None:
    assert set(REQUIRED) <= set(PATTERNS)
    assert all(text.strip() for text in PATTERNS.values())


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_shape_dtype_and_determinism(name: str) -> None:
    a = make_pattern(name, size=96, seed=3)
    assert a.shape == (96, 96, 3)
    assert a.dtype == np.uint8
    np.testing.assert_array_equal(a, make_pattern(name, size=96, seed=3))
    assert not np.array_equal(a, make_pattern(name, size=96, seed=4))


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_is_colourful_and_not_flat(name: str) -> None:
    a = make_pattern(name, size=96).astype(np.float32)
    chroma = a.max(axis=2) - a.min(axis=2)  # 0 wherever the pixel is grey
    assert chroma.mean() > 40
    assert a.reshape(-1, 3).std(axis=0).min() > 20  # every channel varies across the image


def test_stained_glass_has_dark_lead_lines_between_panes() -> None:
    a = make_pattern("voronoi", size=256)
    lead = (a.max(axis=2) < 40).mean()
    assert 0.03 < lead < 0.3


def test_unknown_pattern_lists_the_names() -> None:
    with pytest.raises(InputError, match=r"unknown pattern 'stripes'.*voronoi.*plaid"):
        make_pattern("stripes")


@pytest.mark.parametrize("size", [0, 7, 5000, 64.0, True])
def test_bad_size_is_refused(size: object) -> None:
    with pytest.raises(InputError, match="pattern size"):
        make_pattern("waves", size=size)  # type: ignore[arg-type]


def test_negative_seed_is_refused() -> None:
    with pytest.raises(InputError, match="seed"):
        make_pattern("dots", seed=-1)


def test_strokes_lie_on_a_deep_ground() -> None:
    a = make_pattern("strokes", size=128, seed=1).astype(np.float32) / 255
    luma = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    ground, paint = np.quantile(luma, 0.1), np.quantile(luma, 0.9)
    assert ground < 0.15  # the deep ground shows between strokes
    assert paint > 2.5 * ground  # and the paint stands out against it
