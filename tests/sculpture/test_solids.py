"""The procedural sculptures: shapes in one piece that stand and fit the cube, reproducibly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import ndimage

from museforge.sculpture.solids import (
    EXTENT,
    FAMILIES,
    cell_centres,
    random_solid,
    sdf_grid,
    smooth_union,
    solid_grids,
)


def solid(family: str, seed: int = 0):
    return random_solid(np.random.default_rng(seed), family)


def test_there_are_several_families() -> None:
    assert len(FAMILIES) >= 5
    assert len(set(FAMILIES)) == len(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_grid_holds_one_piece_inside_the_margin(family: str) -> None:
    for seed in (0, 1):
        grid = sdf_grid(solid(family, seed))
        assert grid.shape == (32, 32, 32) and grid.dtype == np.float32
        assert grid.min() < 0 < grid.max() and np.abs(grid).max() <= 1
        assert grid.max() == 1.0  # the far outside is clipped to the band
        inside = grid < 0
        assert ndimage.label(inside)[1] == 1  # one piece, face-connected
        centres = cell_centres(32)[inside.reshape(-1)]
        assert np.abs(centres).max() < 0.91  # no cell centre past the 0.9 margin


@pytest.mark.parametrize("family", FAMILIES)
def test_a_solid_fills_the_margin_and_stands_on_a_flat_foot(family: str) -> None:
    shape = solid(family, 2)
    points = cell_centres(64)
    inside = shape.sdf(points) < 0
    low, high = points[inside].min(axis=0), points[inside].max(axis=0)
    assert np.abs(points[inside]).max() < 0.91
    assert (high - low).max() > EXTENT - 2 / 64 - 0.01  # the largest side is 1.8
    assert np.allclose((low + high) / 2, 0, atol=1 / 64 + 0.01)  # centred

    bottom = (shape.params["z_cut"] - shape.centre[2]) * shape.scale
    assert bottom == pytest.approx(low[2], abs=2 / 64)

    def area(z: float) -> int:
        grid = np.linspace(-1, 1, 160)
        x, y = np.meshgrid(grid, grid)
        plane = np.stack([x.ravel(), y.ravel(), np.full(x.size, z)], axis=1)
        return int((shape.sdf(plane) < 0).sum())

    assert area(bottom - 0.003) == 0  # nothing below the foot
    # a flat foot: just above the floor almost as wide as a little higher (a round bottom
    # would give about 0.005 / 0.04 of it)
    assert area(bottom + 0.005) >= 0.5 * area(bottom + 0.04) > 0


def test_sdf_grid_samples_the_distance_at_cell_centres() -> None:
    shape = solid("ring", 4)
    grid = sdf_grid(shape, 16)
    distance = shape.sdf(cell_centres(16)).reshape(16, 16, 16)
    cell = 2 / 16
    assert np.allclose(grid, np.clip(distance / (3 * cell), -1, 1), atol=1e-6)
    # grid[i, j, k] is the value at (x_i, y_j, z_k)
    assert np.allclose(
        cell_centres(16)[1 * 256 + 2 * 16 + 3], [-1 + 1.5 * cell, -1 + 2.5 * cell, -1 + 3.5 * cell]
    )


def test_a_solid_is_determined_by_the_generator() -> None:
    for family in FAMILIES:
        assert solid(family, 7) == solid(family, 7)
        assert solid(family, 7) != solid(family, 8)
    drawn = random_solid(np.random.default_rng(3))
    assert drawn.family in FAMILIES
    with pytest.raises(ValueError, match="unknown family"):
        solid("teapot")


def test_the_data_set_is_balanced_and_reproducible() -> None:
    grids, families = solid_grids(14, seed=5)
    again, _ = solid_grids(14, seed=5)
    other, _ = solid_grids(14, seed=6)
    assert grids.shape == (14, 32, 32, 32) and grids.dtype == np.float32
    assert set(Counter(families).values()) == {2} and set(families) == set(FAMILIES)
    assert np.array_equal(grids, again)
    assert all(not np.array_equal(a, b) for a, b in zip(grids, other, strict=True))
    assert len({g.tobytes() for g in grids}) == 14  # no two alike
    assert np.array_equal(solid_grids(3, seed=5)[0], grids[:3])  # a longer set extends it


def test_other_resolutions_sample_the_same_solids() -> None:
    coarse, _ = solid_grids(7, resolution=16, seed=1)
    fine, _ = solid_grids(7, resolution=32, seed=1)
    assert coarse.shape == (7, 16, 16, 16)
    for small, large in zip(coarse, fine, strict=True):
        pooled = large.reshape(16, 2, 16, 2, 16, 2).mean(axis=(1, 3, 5))
        assert np.mean((pooled < 0) == (small < 0)) > 0.95


def test_smooth_union_fills_the_seam_only_where_shapes_meet() -> None:
    a = np.array([0.0, 0.0, 1.0], dtype=np.float32)
    b = np.array([0.0, 0.5, -1.0], dtype=np.float32)
    joined = smooth_union(a, b, 0.2)
    assert joined[0] < 0  # where both are at the surface, the blend bulges out
    assert joined[1] == 0 and joined[2] == -1  # farther apart than the radius: plain min
