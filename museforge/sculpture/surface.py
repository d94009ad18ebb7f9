"""Grids ↔ meshes: the surface of a truncated signed-distance grid as a printable mesh, and
a user's mesh as such a grid.

Both sides use the conventions of :mod:`museforge.sculpture.solids`: ``grid[i, j, k]`` is
the distance at the cell centre ``(x_i, y_j, z_k)`` of the cube [-1, 1]³ (Z up), in cells,
clipped to ±BAND_CELLS and scaled to [-1, 1], negative inside. A shape is placed with its
bounding box centred and its largest side :data:`~museforge.sculpture.solids.EXTENT`, so
that a mesh made from a grid and read back gives (nearly) the grid again.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes

from museforge.errors import InputError
from museforge.sculpture.solids import BAND_CELLS, EXTENT, cell_centres

TAUBIN_LAMBDA = 0.5  # shrink step of Taubin smoothing...
TAUBIN_NU = 0.53  # ...and the slightly larger inflate step, so the volume holds
SAMPLES_PER_CELL = 6  # surface samples across a cell side, for distances in grid_from_mesh
# Cells farther than this (in cells) from every surface sample cannot have the surface
# between them and a neighbour (half a cell, plus what sampling may overstate).
FREE_CELLS = 0.7


def mesh_from_grid(
    grid: np.ndarray, size_mm: float = 80.0, level: float = 0.0, smooth: int = 10
) -> trimesh.Trimesh:
    """The surface ``grid == level`` as a closed mesh in millimetres: marching cubes on the
    grid padded with "outside" (so the surface closes at the border), only the largest
    piece kept (how many were dropped is in ``mesh.metadata["dropped_pieces"]``), Taubin
    smoothing, normals outwards, scaled so that its largest side is ``size_mm``, standing on
    z = 0 centred on x = y = 0."""
    grid = _checked_grid(grid)
    if not (np.isfinite(size_mm) and size_mm > 0):
        raise InputError(f"the mesh size must be a positive number of millimetres, not {size_mm}")
    if smooth < 0:
        raise InputError(f"smoothing must be 0 or more iterations, not {smooth}")
    if not grid.min() < level < grid.max():
        raise InputError("the grid holds no surface (all inside or all outside)")
    # A value exactly at the level puts marching-cubes vertices on a grid point, where
    # triangles of neighbouring cubes can collapse; nudging it outward keeps them apart.
    grid = np.where(grid == level, np.float32(level + 1e-5), grid)
    outside = max(float(grid.max()), level + 1.0)
    padded = np.pad(grid, 1, constant_values=outside)
    cell = 2.0 / grid.shape[0]
    vertices, faces, _, _ = marching_cubes(
        padded, level, spacing=(cell, cell, cell), gradient_direction="ascent"
    )
    vertices -= 1.0 + 1.5 * cell  # padded index 1 is the centre of the first cell
    mesh, dropped = largest_piece(trimesh.Trimesh(vertices, faces, process=True))
    if smooth:
        trimesh.smoothing.filter_taubin(mesh, lamb=TAUBIN_LAMBDA, nu=TAUBIN_NU, iterations=smooth)
    trimesh.repair.fix_normals(mesh)
    mesh.apply_scale(size_mm / float(mesh.extents.max()))
    low, high = mesh.bounds
    mesh.apply_translation([-(low[0] + high[0]) / 2, -(low[1] + high[1]) / 2, -low[2]])
    mesh.metadata["dropped_pieces"] = dropped
    return mesh


def largest_piece(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, int]:
    """The connected piece of ``mesh`` enclosing the most volume, and how many pieces were
    dropped (floating specks, and the walls of any closed hollow inside, which fills it)."""
    pieces = mesh.split(only_watertight=False)
    if len(pieces) <= 1:
        return mesh, 0
    largest = max(pieces, key=lambda piece: abs(piece.volume))
    return largest, len(pieces) - 1


def grid_from_mesh(
    mesh: trimesh.Trimesh, resolution: int = 32, source: str = "the mesh"
) -> np.ndarray:
    """A closed mesh as a truncated signed-distance grid (float32, res³) like
    :func:`~museforge.sculpture.solids.sdf_grid`'s, its bounding box centred and its
    largest side EXTENT. ``source`` names the mesh in error messages.

    Distances are to dense samples of the surface (a k-d tree: fast, exact to a sixth of a
    cell). The sign comes from a flood fill: cells farther than half a cell from the surface
    that the outside reaches without crossing it are outside, the others inside, which is
    exact for a closed mesh and tolerates gaps narrower than a cell; only cells nearer the
    surface than that take the side of the nearest face's normal.
    """
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces)
    if len(faces) == 0 or len(vertices) == 0:
        raise InputError(f"{source} has no faces")
    if not np.isfinite(vertices).all():
        raise InputError(f"{source} has vertices that are not finite numbers")
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    extent = float((high - low).max())
    if extent <= 0:
        raise InputError(f"{source} has no size (all its vertices are at one point)")
    if resolution < 4:
        raise InputError(f"the grid resolution must be 4 or more, not {resolution}")
    shape = trimesh.Trimesh((vertices - (low + high) / 2) * (EXTENT / extent), faces)
    if not shape.is_winding_consistent:
        trimesh.repair.fix_normals(shape)
    cell = 2.0 / resolution
    band = BAND_CELLS * cell
    count = int(np.clip(shape.area * (SAMPLES_PER_CELL / cell) ** 2, 20_000, 1_000_000))
    samples, sample_faces = trimesh.sample.sample_surface(shape, count, seed=0)
    points = cell_centres(resolution).astype(np.float64)
    distance, nearest = cKDTree(samples).query(points, distance_upper_bound=band + cell)
    distance = np.minimum(distance, band + cell)  # "no sample within reach" is inf
    cube = (resolution,) * 3
    outside = _reached_from_outside(distance.reshape(cube) > FREE_CELLS * cell)
    far_sign = np.where(outside.reshape(-1), 1.0, -1.0)
    close = distance < band + cell
    toward = points[close] - samples[nearest[close]]
    normals = shape.face_normals[sample_faces[nearest[close]]]
    near_sign = np.where((toward * normals).sum(axis=1) >= 0, 1.0, -1.0)
    resolved = distance[close] > FREE_CELLS * cell
    if np.mean(near_sign[resolved] == far_sign[close][resolved]) < 0.5:
        near_sign = -near_sign  # the faces point inwards
    sign = far_sign
    sign[np.flatnonzero(close)[~resolved]] = near_sign[~resolved]
    values = np.clip(sign * distance / band, -1.0, 1.0)
    return values.reshape(cube).astype(np.float32)


def _reached_from_outside(free: np.ndarray) -> np.ndarray:
    """Cells of the ``free`` mask connected (face to face) to the space around the grid."""
    padded = np.pad(free, 1, constant_values=True)
    labels, _ = ndimage.label(padded)
    return (labels == labels[0, 0, 0])[1:-1, 1:-1, 1:-1]


def _checked_grid(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim != 3 or len(set(grid.shape)) != 1 or grid.shape[0] < 2:
        raise InputError(f"a sculpture grid must be a cube of values (r×r×r), not {grid.shape}")
    if not np.isfinite(grid).all():
        raise InputError("the grid holds values that are not finite numbers")
    return grid
