"""Grids to printable meshes and back."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from museforge.errors import InputError
from museforge.sculpture.solids import FAMILIES, cell_centres, random_solid, sdf_grid
from museforge.sculpture.surface import grid_from_mesh, largest_piece, mesh_from_grid


def family_grid(family: str, seed: int = 0) -> np.ndarray:
    return sdf_grid(random_solid(np.random.default_rng(seed), family))


def ball_grid(centre: tuple[float, float, float], radius: float, resolution: int = 32):
    points = cell_centres(resolution)
    distance = np.linalg.norm(points - np.asarray(centre), axis=1) - radius
    cell = 2 / resolution
    return np.clip(distance / (3 * cell), -1, 1).reshape((resolution,) * 3).astype(np.float32)


@pytest.mark.parametrize("family", FAMILIES)
def test_meshes_are_closed_stand_on_the_floor_and_have_the_size(family: str) -> None:
    mesh = mesh_from_grid(family_grid(family), size_mm=80.0)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0  # normals outwards
    assert mesh.body_count == 1
    assert mesh.extents.max() == pytest.approx(80.0)
    low, high = mesh.bounds
    assert low[2] == pytest.approx(0.0, abs=1e-9)
    assert (low[:2] + high[:2]) / 2 == pytest.approx([0.0, 0.0], abs=1e-9)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_mesh_read_back_gives_the_grid_again(family: str) -> None:
    grid = family_grid(family, 1)
    back = grid_from_mesh(mesh_from_grid(grid, size_mm=55.0))
    assert back.shape == grid.shape and back.dtype == np.float32
    assert np.mean((back < 0) == (grid < 0)) >= 0.97
    near = (np.abs(grid) < 1) | (np.abs(back) < 1)  # cells within the band of either
    assert np.mean((back < 0)[near] == (grid < 0)[near]) >= 0.95


def test_size_and_smoothing_are_honoured() -> None:
    grid = family_grid("blob", 3)
    big = mesh_from_grid(grid, size_mm=120.0)
    assert big.extents.max() == pytest.approx(120.0)
    # a decoder's grid is noisy; smoothing irons out the crumpled surface that gives
    noise = np.random.default_rng(0).standard_normal(grid.shape).astype(np.float32)
    noisy = grid + 0.1 * noise
    rough = mesh_from_grid(noisy, smooth=0)
    smooth = mesh_from_grid(noisy, smooth=10)
    assert smooth.face_adjacency_angles.mean() < 0.8 * rough.face_adjacency_angles.mean()
    assert smooth.is_watertight and smooth.body_count == 1


def test_specks_are_dropped_and_counted() -> None:
    grid = np.minimum(ball_grid((-0.3, 0, 0), 0.5), ball_grid((0.7, 0.7, 0.7), 0.12))
    mesh = mesh_from_grid(grid, size_mm=100.0)
    assert mesh.body_count == 1 and mesh.metadata["dropped_pieces"] == 1
    assert mesh.extents == pytest.approx([100.0] * 3, rel=0.02)  # only the big ball is left
    two = trimesh.util.concatenate([trimesh.creation.box(), trimesh.creation.icosphere()])
    piece, dropped = largest_piece(two)
    assert dropped == 1 and piece.volume == pytest.approx(two.volume - 1.0)  # the ball


def test_a_grid_without_a_surface_is_refused() -> None:
    for value in (1.0, -1.0):
        with pytest.raises(InputError, match="holds no surface"):
            mesh_from_grid(np.full((16, 16, 16), value, dtype=np.float32))
    with pytest.raises(InputError, match="cube of values"):
        mesh_from_grid(np.zeros((16, 16)))
    with pytest.raises(InputError, match="millimetres"):
        mesh_from_grid(ball_grid((0, 0, 0), 0.5), size_mm=0)


def test_a_sphere_mesh_gives_the_sphere_distance() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=25.0)
    grid = grid_from_mesh(sphere.apply_translation([3.0, -7.0, 40.0]), 32)
    expected = ball_grid((0, 0, 0), 0.9)  # normalised: centred, diameter 1.8
    assert np.abs(grid - expected).max() < 0.1  # within 0.3 of a cell everywhere


def test_reading_a_mesh_tolerates_inward_normals_and_small_holes() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    expected = grid_from_mesh(sphere)
    inverted = sphere.copy()
    inverted.invert()
    assert np.array_equal(grid_from_mesh(inverted) < 0, expected < 0)
    holed = trimesh.Trimesh(sphere.vertices, sphere.faces[3:])
    assert not holed.is_watertight
    assert np.mean((grid_from_mesh(holed) < 0) == (expected < 0)) > 0.999


def test_an_unusable_mesh_is_refused_with_its_name() -> None:
    with pytest.raises(InputError, match=r"cup\.stl has no faces"):
        grid_from_mesh(trimesh.Trimesh(), source="cup.stl")
    flat = trimesh.Trimesh([[0, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 1, 2]], process=False)
    with pytest.raises(InputError, match="no size"):
        grid_from_mesh(flat)
