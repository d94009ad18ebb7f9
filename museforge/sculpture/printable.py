"""Can this mesh be 3D-printed? Checks against a printer, and repairs that keep the shape.

:func:`inspect` measures what slicers and printers care about: a closed surface
(watertight), a consistent one (every edge between exactly two faces, wound opposite
ways), no faces cutting through each other, the volume, the size against the build
volume and the thinnest wall against what the printer can lay down. :func:`repair` fixes
what it can: cheap fixes first, then a re-mesh through a voxel grid, which always gives a
closed, consistent surface, and thickening of walls that are too thin. It never rescales:
a mesh too large for the printer is refused.

Everything is vectorised numpy (scipy's distance transform, skimage's marching cubes);
a 50,000-face mesh inspects in about a second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import trimesh
from scipy import ndimage
from skimage import measure

from museforge.errors import InputError


class PrintError(InputError):
    """A mesh that cannot be made printable (too large for the printer, nothing left...)."""


@dataclass(frozen=True)
class Printer:
    """What a printer can make: its thinnest dependable wall and its build volume (mm)."""

    name: str
    min_wall_mm: float
    build_mm: tuple[float, float, float]


#: Typical printers. ``fdm``: a 0.4 mm nozzle laying two perimeters (0.8 mm walls) on a
#: 220×220×250 mm bed (Creality Ender-3 / Prusa MK class). ``fdm-fine``: the same printer
#: with a 0.25 mm nozzle, two perimeters of 0.25 mm (0.5 mm walls). ``resin``: an MSLA printer
#: (Prusa SL1S / Elegoo Mars class, 127×80×150 mm), whose makers advise 0.4 mm as the thinnest
#: supported wall.
PRINTERS: dict[str, Printer] = {
    "fdm": Printer("fdm", 0.8, (220.0, 220.0, 250.0)),
    "fdm-fine": Printer("fdm-fine", 0.5, (220.0, 220.0, 250.0)),
    "resin": Printer("resin", 0.4, (127.0, 80.0, 150.0)),
}

#: Voxel grid for the wall check and re-meshing: a quarter of the thinnest wall per voxel,
#: coarser when the grid would hold more than MAX_VOXELS cells (its bounding box).
WALL_STEPS = 4
MAX_VOXELS = 6_000_000
# Grid origins are nudged by different odd fractions of a voxel per axis, so that faces
# and edges of meshes on round coordinates do not pass exactly through voxel centres.
_NUDGE = np.array([0.1234567, 0.2345678, 0.3456789])
_CHUNK = 2_000_000  # rasterised samples (or triangle pairs) handled at once
_UNKNOWN = np.iinfo(np.int32).min  # the winding number of a ray that passed through a hole
_CHORDS_AT_ONCE = 20_000  # wall places measured exactly in one go
MAX_REPAIRED_FACES = 80_000  # a re-meshed surface is decimated to this many faces
_MAX_CHORDS = 20_000  # wall places measured exactly in all; the rest keep the voxel estimate
# Two sides face each other when their normals are more than 143° apart: across a wall
# or a rod (a chord off a rod's axis has sides less opposed and is up to 5% short), a spike
# or an edge sharper than 37°; not the two faces of a thick part's edge.
_FACING = -0.8
_WALL_SLACK = 1e-6  # mm; a wall measured at exactly the minimum passes
# repair thickens thin walls in up to three rounds, each looking at the re-meshed result
# for walls a little thicker than the last (x1, x1.15, x1.3 the minimum) and growing the
# added material by a wider margin (voxels beyond half the wall, each side)
_THICKEN_MARGINS = (0.25, 1.0, 1.75)
_THICKEN_STEP = 0.15


@dataclass(frozen=True)
class PrintReport:
    """The checks of one mesh against one printer; ``problems`` says what is wrong, one line
    each. ``min_wall_mm``: the thinnest wall, exact where walls are near the printer's
    minimum or below, elsewhere a voxel estimate (good to ``wall_pitch_mm``); None when
    there is no solid. ``volume_mm3`` only for a closed, consistent mesh."""

    printer: Printer
    faces: int
    watertight: bool
    manifold: bool
    open_edges: int
    crowded_edges: int  # edges shared by more than two faces
    flipped_edges: int  # edges whose two faces are wound the same way
    self_intersections: int  # pairs of faces sharing no vertex that cross or touch
    volume_mm3: float | None
    size_mm: tuple[float, float, float]
    fits: bool
    min_wall_mm: float | None
    wall_pitch_mm: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for provenance."""
        out = asdict(self)
        out["printer"] = {
            "name": self.printer.name,
            "min_wall_mm": self.printer.min_wall_mm,
            "build_mm": list(self.printer.build_mm),
        }
        out["size_mm"] = [round(v, 3) for v in self.size_mm]
        out["problems"] = list(self.problems)
        for key in ("volume_mm3", "min_wall_mm", "wall_pitch_mm"):
            if out[key] is not None:
                out[key] = round(out[key], 4)
        out["ok"] = self.ok
        return out


def printer_named(printer: Printer | str) -> Printer:
    """A Printer, or the preset of that name; InputError for an unknown name."""
    if isinstance(printer, Printer):
        return printer
    if printer not in PRINTERS:
        raise InputError(f"unknown printer '{printer}' (use one of {', '.join(PRINTERS)})")
    return PRINTERS[printer]


# ---------------------------------------------------------------------------- topology


def _position_ids(mesh: trimesh.Trimesh) -> np.ndarray:
    """Faces as indices of distinct vertex positions, so that a triangle soup (unmerged
    STL) is judged by its geometry, as a slicer does."""
    _, inverse = trimesh.grouping.unique_rows(mesh.vertices)
    return np.asarray(inverse, dtype=np.int64)[mesh.faces]


def _edge_counts(faces: np.ndarray) -> tuple[int, int, int]:
    """(open, crowded, flipped) edge counts of faces given as position ids."""
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    directed = directed[directed[:, 0] != directed[:, 1]]
    forward = directed[:, 0] < directed[:, 1]
    low, high = np.sort(directed, axis=1).T
    keys = low * (int(faces.max()) + 1) + high
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    forwards = np.bincount(inverse, weights=forward, minlength=len(counts))
    pairs = counts == 2
    return int((counts == 1).sum()), int((counts > 2).sum()), int((forwards[pairs] != 1).sum())


def _orient(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Sign of the volume of tetrahedra (a, b, c, d), 0 within rounding."""
    ab, ac, ad = b - a, c - a, d - a
    volume = np.einsum("ij,ij->i", np.cross(ab, ac), ad)
    scale = np.linalg.norm(ab, axis=1) * np.linalg.norm(ac, axis=1) * np.linalg.norm(ad, axis=1)
    return np.where(np.abs(volume) <= 1e-12 * scale, 0, np.sign(volume))


def _edge_meets(p: np.ndarray, q: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Whether segments p–q, not lying in the planes of triangles ``tri`` (N×3×3), meet
    them, edges and corners included."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    op, oq = _orient(a, b, c, p), _orient(a, b, c, q)
    crosses = (op * oq <= 0) & ((op != 0) | (oq != 0))
    s1, s2, s3 = _orient(p, q, a, b), _orient(p, q, b, c), _orient(p, q, c, a)
    low = np.minimum(np.minimum(s1, s2), s3)
    high = np.maximum(np.maximum(s1, s2), s3)
    return crosses & ((low >= 0) | (high <= 0)) & ((low != 0) | (high != 0))


def _triangles_cross(t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """Whether triangle pairs that share no vertex meet. Two triangles that are not
    coplanar meet exactly when an edge of one meets the other. Faces of a sound mesh that
    share no vertex never meet, so touching counts too (two shells face to face are
    flagged); overlap within one plane is not detected."""
    hit = np.zeros(len(t1), dtype=bool)
    for first, second in ((t1, t2), (t2, t1)):
        for i, j in ((0, 1), (1, 2), (2, 0)):
            hit |= _edge_meets(first[:, i], first[:, j], second)
    return hit


def _box_cells(low: np.ndarray, high: np.ndarray, cell: float, base: np.ndarray):
    """Every (box, grid cell) pair of boxes on a grid of ``cell`` from ``base``: the box
    numbers, the cells' integer coordinates, and per box its lowest cell."""
    lo = np.floor((low - base) / cell).astype(np.int64)
    span = np.floor((high - base) / cell).astype(np.int64) - lo + 1
    per = span.prod(axis=1)
    box = np.repeat(np.arange(len(low)), per)
    k = np.arange(len(box)) - np.repeat(np.cumsum(per) - per, per)
    sx, sy = span[box, 0], span[box, 1]
    return box, lo[box] + np.stack([k % sx, (k // sx) % sy, k // (sx * sy)], axis=1), lo


def _cell_size(low: np.ndarray, high: np.ndarray, pad: float = 0.0) -> float:
    """About the size of most boxes, coarser when a few huge ones would fill memory."""
    cell = float(np.percentile((high - low).max(axis=1), 90))
    cell = max(cell, float((high.max(axis=0) - low.min(axis=0)).max()) / 1e6, 1e-12)
    while True:
        span = np.floor((high - low + 2 * pad * cell) / cell) + 2
        if span.prod(axis=1).sum() <= 8 * len(low) + _CHUNK:
            return cell
        cell *= 2


def _keys(cells: np.ndarray) -> np.ndarray:
    """One int64 per cell (coordinates up to 2^20 per axis)."""
    return (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]


def _overlapping_boxes(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (a < b) of boxes that overlap, touching included: a uniform grid hash with
    cells about the size of a box, each pair reported once (from the first cell the two
    share). Several times faster than R-tree queries for the many small boxes of a mesh."""
    if not len(low):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    base = low.min(axis=0)
    box, cells, lo = _box_cells(low, high, _cell_size(low, high), base)
    key = _keys(cells)
    order = np.argsort(key, kind="stable")
    key, box, cells = key[order], box[order], cells[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.repeat(np.r_[starts[1:], len(key)], np.diff(np.r_[starts, len(key)]))
    partners = ends - np.arange(len(key)) - 1  # the later entries of the same cell
    total = np.cumsum(partners)
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for part in np.split(
        np.arange(len(key)), np.searchsorted(total, np.arange(_CHUNK, total[-1], _CHUNK))
    ):
        count = partners[part]
        i = np.repeat(part, count)
        j = i + 1 + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        a, b = box[i], box[j]
        keep = (np.maximum(lo[a], lo[b]) == cells[i]).all(axis=1)
        a, b = a[keep], b[keep]
        keep = ((low[a] <= high[b]) & (low[b] <= high[a])).all(axis=1)
        firsts.append(np.minimum(a[keep], b[keep]))
        seconds.append(np.maximum(a[keep], b[keep]))
    return np.concatenate(firsts), np.concatenate(seconds)


class _FaceGrid:
    """The faces of a mesh hashed on a uniform grid, for segment queries: a segment is
    sampled every half cell, and each face is filed under every cell its box, grown by a
    quarter cell, touches; so a face a segment passes through is always filed under the
    cell of a sample (the sample nearest the crossing is within a quarter cell of it)."""

    def __init__(self, mesh: trimesh.Trimesh) -> None:
        self.triangles = mesh.vertices[mesh.faces]
        self.normals = mesh.face_normals
        low, high = self.triangles.min(axis=1), self.triangles.max(axis=1)
        self.cell = _cell_size(low, high, pad=0.25)
        self.base = low.min(axis=0) - self.cell
        face, cells, _ = _box_cells(low - self.cell / 4, high + self.cell / 4, self.cell, self.base)
        key = _keys(cells)
        order = np.argsort(key, kind="stable")
        self.faces, key = face[order], key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        self.keys, self.starts = key[starts], starts
        self.counts = np.diff(np.r_[starts, len(key)])

    def candidates(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(segment, face) pairs whose face may meet the segment start–end (some twice)."""
        samples = np.ceil(np.linalg.norm(end - start, axis=1) / (self.cell / 2)).astype(np.int64)
        samples += 1
        row = np.repeat(np.arange(len(start)), samples)
        k = np.arange(len(row)) - np.repeat(np.cumsum(samples) - samples, samples)
        along = (k / np.maximum(samples[row] - 1, 1))[:, None]
        cells = np.floor((start[row] + along * (end[row] - start[row]) - self.base) / self.cell)
        inside = ((cells >= 0) & (cells < 1 << 21)).all(axis=1)
        row, key = row[inside], _keys(cells[inside].astype(np.int64))
        fresh = np.ones(len(key), dtype=bool)  # the first sample in each cell along
        fresh[1:] = (key[1:] != key[:-1]) | (row[1:] != row[:-1])
        row, key = row[fresh], key[fresh]
        where = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        found = self.keys[where] == key
        row, where = row[found], where[found]
        n = self.counts[where]
        k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        return np.repeat(row, n), self.faces[np.repeat(self.starts[where], n) + k]


def count_self_intersections(mesh: trimesh.Trimesh) -> int:
    """Pairs of faces that share no vertex yet meet: candidate pairs from overlapping
    bounding boxes (a grid hash), then an exact test, vectorised."""
    faces = _position_ids(mesh)
    if len(faces) < 2:
        return 0
    # centred and scaled to about 1, so the rounding tolerances are relative
    centre, scale = mesh.bounds.mean(axis=0), max(float(mesh.extents.max()), 1e-12)
    tri = (mesh.vertices[mesh.faces] - centre) / scale
    first, second = _overlapping_boxes(tri.min(axis=1), tri.max(axis=1))
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    offsets = np.einsum("ij,ij->i", normals, tri[:, 0])
    total = 0
    for at in range(0, len(first), _CHUNK // 8):
        a, b = first[at : at + _CHUNK // 8], second[at : at + _CHUNK // 8]
        shared = (faces[a][:, :, None] == faces[b][:, None, :]).any(axis=(1, 2))
        a, b = a[~shared], b[~shared]
        # most candidates lie wholly on one side of the other's plane (or in it, which the
        # exact test does not count either): no need to look closer
        for swap in (False, True):
            this, other = (b, a) if swap else (a, b)
            side = np.einsum("ijk,ik->ij", tri[other], normals[this]) - offsets[this, None]
            above, below = (side > 1e-9).any(axis=1), (side < -1e-9).any(axis=1)
            touches = (np.abs(side) <= 1e-9).any(axis=1)
            keep = (above & below) | (touches & (above | below))
            a, b = a[keep], b[keep]
        total += int(_triangles_cross(tri[a], tri[b]).sum())
    return total


# ---------------------------------------------------------------------------- voxels


@dataclass(frozen=True)
class _Grid:
    origin: np.ndarray  # corner of voxel (0, 0, 0); voxel i's centre is origin + (i + ½)·pitch
    pitch: float
    shape: tuple[int, int, int]


def _grid_for(bounds: np.ndarray, pitch: float, margin: float) -> _Grid:
    """A grid around ``bounds`` with ``margin`` mm of empty space, at ``pitch`` or coarser
    so that it holds at most MAX_VOXELS cells."""
    span = bounds[1] - bounds[0] + 2 * margin
    pitch = max(pitch, float(np.prod(span) / MAX_VOXELS) ** (1 / 3))
    shape = np.ceil(span / pitch).astype(int) + 3
    origin = bounds[0] - margin - pitch * (1 + _NUDGE)
    while np.prod(shape) > MAX_VOXELS * 1.1:  # margins and padding on a very flat box
        pitch *= 1.05
        shape = np.ceil(span / pitch).astype(int) + 3
        origin = bounds[0] - margin - pitch * (1 + _NUDGE)
    return _Grid(origin, pitch, (int(shape[0]), int(shape[1]), int(shape[2])))


def _winding_along(tri: np.ndarray, shape: tuple[int, int, int], axis: int) -> np.ndarray:
    """Winding numbers at voxel centres from rays along ``axis`` (``tri`` in voxel-centre
    coordinates): each triangle adds ±1 to every voxel beyond where a ray crosses it,
    entering (+1) through faces that point against the ray, leaving (-1) through the rest.

    Exactness: a ray through a shared edge or vertex is given to exactly one triangle by
    symbolic perturbation of the ray (as if shifted by an infinitesimal (ε, ε²))."""
    u, v = (axis + 1) % 3, (axis + 2) % 3
    nu, nv, nw = shape[u], shape[v], shape[axis]
    delta = np.zeros(nu * nv * (nw + 1), dtype=np.int32)
    lo = np.ceil(tri[:, :, [u, v]].min(axis=1)).astype(np.int64).clip(0, [nu, nv])
    hi = np.floor(tri[:, :, [u, v]].max(axis=1)).astype(np.int64).clip(-1, [nu - 1, nv - 1])
    width = (hi - lo + 1).clip(0)
    counts = width[:, 0] * width[:, 1]
    order = np.flatnonzero(counts)
    bounds = np.searchsorted(np.cumsum(counts[order]), np.arange(_CHUNK, counts.sum(), _CHUNK))
    for part in np.split(order, bounds):
        if not len(part):
            continue
        n = counts[part]
        which = np.repeat(part, n)
        k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        pu = lo[which, 0] + k % width[which, 0]
        pv = lo[which, 1] + k // width[which, 0]
        t = tri[which]
        signs = []
        for i, j in ((0, 1), (1, 2), (2, 0)):
            a, b = t[:, i], t[:, j]
            # the edge in a canonical direction, so neighbours compute bit-identical values
            swap = (a[:, u] > b[:, u]) | ((a[:, u] == b[:, u]) & (a[:, v] > b[:, v]))
            a, b = np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)
            du, dv = b[:, u] - a[:, u], b[:, v] - a[:, v]
            side = du * (pv - a[:, v]) - dv * (pu - a[:, u])
            tie = np.where(dv != 0, -np.sign(dv), np.sign(du))
            s = np.where(side != 0, np.sign(side), tie)
            signs.append(np.where(swap, -s, s))
        inside = (signs[0] == signs[1]) & (signs[1] == signs[2]) & (signs[0] != 0)
        if not inside.any():
            continue
        t, pu, pv, facing = t[inside], pu[inside], pv[inside], signs[0][inside]
        # depth of the crossing from the plane of the triangle
        normal = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        upright = normal[:, axis] != 0  # rounding can call a face seen edge-on "inside"
        t, pu, pv, facing, normal = (x[upright] for x in (t, pu, pv, facing, normal))
        offset = (pu - t[:, 0, u]) * normal[:, u] + (pv - t[:, 0, v]) * normal[:, v]
        depth = t[:, 0, axis] - offset / normal[:, axis]
        first_beyond = (np.floor(depth) + 1).clip(0, nw).astype(np.int64)
        # counter-clockwise seen along the ray means the face points along it: leaving
        flat = (pu * nv + pv) * (nw + 1) + first_beyond
        delta += np.bincount(flat, weights=-facing, minlength=len(delta)).astype(np.int32)
    delta = delta.reshape(nu, nv, nw + 1)
    winding = np.cumsum(delta[:, :, :nw], axis=2, dtype=np.int32)
    # a ray through a hole enters without leaving (or the reverse): it cannot tell
    winding[delta.sum(axis=2) != 0] = _UNKNOWN
    return np.moveaxis(winding, (0, 1, 2), (u, v, axis))


def _occupancy(mesh: trimesh.Trimesh, grid: _Grid) -> np.ndarray:
    """Voxels whose centres are inside the solid: the winding number from rays along x, y
    and z, by majority of the rays that can tell (a ray through a hole cannot), so that a
    hole or a stray face misleads little. Overlapping shells are united; a cavity (an
    inward-facing inner shell) stays empty."""
    tri = (mesh.vertices[mesh.faces] - grid.origin) / grid.pitch - 0.5
    inside = np.zeros(grid.shape, dtype=np.int8)
    for axis in range(3):
        winding = _winding_along(tri, grid.shape, axis)
        inside += np.where(winding == _UNKNOWN, 0, np.where(winding != 0, 1, -1)).astype(np.int8)
    return inside > 0


def _middles(occupied: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The middle of every wall: inside voxels at least as deep as both their neighbours
    across the wall.

    The Euclidean distance transform gives every inside voxel its depth d (distance to the
    nearest outside voxel), and the direction across the wall (away from that voxel). A
    wall's thickness is twice the depth on its middle surface, where the depth stops
    rising across it. This is the medial surface a 3D skeleton (skimage's skeletonize)
    would give, at the cost of a few look-ups per voxel, and unlike the local maxima of d
    it keeps the middle of a wall whose thickness varies (there d still rises along the
    wall). Unlike a skeleton it leaves out the branches into every convex edge of a thick
    part, where d falls to zero though nothing is thin: there the nearest outside voxels
    of neighbours lie on two faces at an angle, not on opposite sides (:func:`_chords`
    checks the same of the faces themselves).

    Returns the middle voxels (K×3 indices), their estimate of the wall (2d - 1 voxels:
    exact for an odd number of voxels across, one short for an even one) and the unit
    directions across. Of walls thicker than ``band`` voxels only those that may be the
    thinnest are kept.
    """
    distance, nearest = ndimage.distance_transform_edt(occupied, return_indices=True)
    # the deepest points (the centre of a ball) have no single side across: keep them too
    peaks = (ndimage.maximum_filter(distance, size=3) <= distance).ravel() & occupied.ravel()
    # a voxel deeper than the shallowest peak and than the band cannot change the answer
    deepest = max(float(distance.ravel()[peaks].min(initial=np.inf)), (band + 1) / 2)
    found = [np.zeros((0, 3), np.int64)], [np.zeros(0)], [np.zeros((0, 3))]
    inside = np.flatnonzero(occupied.ravel() & ((distance.ravel() <= deepest) | peaks))
    for part in np.array_split(inside, max(1, len(inside) // _CHUNK)):
        at = np.stack(np.unravel_index(part, occupied.shape), axis=1)
        across = at - np.stack([n.ravel()[part] for n in nearest], axis=1)
        across = across / np.linalg.norm(across, axis=1, keepdims=True)
        step = np.rint(across).astype(np.int64)  # the neighbour most nearly across
        depth = distance.ravel()[part]
        beyond = tuple((at + step).T)
        behind = tuple((at - step).T)
        middle = (depth >= distance[beyond]) & (depth >= distance[behind])
        # and the neighbour beyond is nearest to the other side: the nearest outside voxels
        # of the two lie on opposite sides (see _FACING), not on the two faces of a convex
        # edge, nor on the steps of voxel stairs (45° apart)
        other = at - np.stack([n[beyond] for n in nearest], axis=1)
        cosine = np.einsum("ij,ij->i", across, other) / np.maximum(
            np.linalg.norm(other, axis=1), 1e-9
        )
        middle = (middle & (cosine < _FACING)) | peaks[part]
        for out, values in zip(found, (at, 2 * depth - 1, across), strict=True):
            out.append(values[middle])
    at, estimate, across = (np.concatenate(values) for values in found)
    return at, estimate, across


def _nearest_hits(rows: np.ndarray, distance: np.ndarray, faces: np.ndarray, count: int):
    """Per row, the smallest distance (inf where none) and its face (-1 where none)."""
    nearest, face = np.full(count, np.inf), np.full(count, -1)
    order = np.lexsort((distance, rows))
    rows, distance, faces = rows[order], distance[order], faces[order]
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
    nearest[rows[first]], face[rows[first]] = distance[first], faces[first]
    return nearest, face


def _chords(
    faces: _FaceGrid, points: np.ndarray, directions: np.ndarray, reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wall thickness along the lines ``points`` ± ``directions``: the distance between the
    nearest faces hit on either side within ``reach``, where those faces face each other
    (see _FACING: the two sides of a wall, across a rod, not the two faces of a thick
    part's edge, nor a chord off a rod's axis, which would be shorter); inf elsewhere.
    Also the normal of the nearer face hit (zeros where none). Candidate faces from a
    grid, then an exact segment–triangle test (Möller–Trumbore), vectorised."""
    rows, hits = faces.candidates(points - reach * directions, points + reach * directions)
    tri = faces.triangles[hits]
    a, ab, ac = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    d, o = directions[rows], points[rows]
    h = np.cross(d, ac)
    det = np.einsum("ij,ij->i", ab, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        s_ = o - a
        u = inv * np.einsum("ij,ij->i", s_, h)
        q = np.cross(s_, ab)
        v = inv * np.einsum("ij,ij->i", d, q)
        t = inv * np.einsum("ij,ij->i", ac, q)
        hit = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (np.abs(t) <= reach)
    rows, hits, t = rows[hit], hits[hit], t[hit]
    ahead = t >= 0
    n = len(points)
    dist_ahead, face_ahead = _nearest_hits(rows[ahead], t[ahead], hits[ahead], n)
    dist_behind, face_behind = _nearest_hits(rows[~ahead], -t[~ahead], hits[~ahead], n)
    normals = faces.normals
    both = (face_ahead >= 0) & (face_behind >= 0)
    facing = np.zeros(n, dtype=bool)
    facing[both] = (
        np.einsum("ij,ij->i", normals[face_ahead[both]], normals[face_behind[both]]) < _FACING
    )
    chord = np.where(facing, dist_ahead + dist_behind, np.inf)
    nearer = np.where(dist_ahead <= dist_behind, face_ahead, face_behind)
    return chord, np.where((nearer >= 0)[:, None], normals[nearer], 0.0)


def _walls(mesh: trimesh.Trimesh, grid: _Grid, occupied: np.ndarray, min_wall: float):
    """Wall thickness (mm) at the middle of every wall, and those voxels: the voxel
    estimate, and where that is close to ``min_wall`` or below, the shortest exact chord
    through the mesh across the wall (inf where none is found: a thick part's convex edge
    may look thin to voxels). The chord runs along the normal of the face met going across
    the wall in the voxel direction (exact for a flat wall and through the axis of a rod),
    else along that direction, else along x, y or z (at the rim of a wall the voxel
    direction may run along it)."""
    at, estimate, across = _middles(occupied, (min_wall + 2 * grid.pitch) / grid.pitch)
    walls = estimate * grid.pitch
    reach = min_wall + 3 * grid.pitch
    close = np.flatnonzero(walls < min_wall + 2 * grid.pitch)
    if not len(close):
        return walls, at
    if len(close) > _MAX_CHORDS:
        # the thinnest-looking places first; among equals an even spread (a fixed
        # shuffle), so a large wall near the limit costs seconds, not minutes
        shuffled = close[np.random.default_rng(0).permutation(len(close))]
        close = shuffled[np.argsort(walls[shuffled], kind="stable")[:_MAX_CHORDS]]
    faces = _FaceGrid(mesh)
    for part in np.array_split(close, -(-len(close) // _CHORDS_AT_ONCE)):
        points = grid.origin + (at[part] + 0.5) * grid.pitch
        chord, normals = _chords(faces, points, across[part], reach)
        met = np.flatnonzero(np.any(normals != 0, axis=1))
        along_normal = _chords(faces, points[met], normals[met], reach)[0]
        chord[met] = np.where(np.isfinite(along_normal), along_normal, chord[met])
        for axis in np.eye(3):
            blank = np.flatnonzero(~np.isfinite(chord))
            along = np.tile(axis, (len(blank), 1))
            chord[blank] = _chords(faces, points[blank], along, reach)[0]
        walls[part] = chord
    if not np.isfinite(walls).any():  # nothing measurable (rays escape a broken mesh)
        walls = estimate * grid.pitch
    return walls, at


def _wall_pitch(printer: Printer) -> float:
    return printer.min_wall_mm / WALL_STEPS


# ---------------------------------------------------------------------------- inspect


def _mm(values: tuple[float, ...] | np.ndarray) -> str:
    return "×".join(f"{v:g}" for v in np.round(np.asarray(values, dtype=float), 1))


def inspect(mesh: trimesh.Trimesh, printer: Printer | str = "fdm") -> PrintReport:
    """Check ``mesh`` (millimetres) for printing on ``printer`` (a Printer or a preset's
    name). Edges and crossings are judged on vertex positions, as slicers do, so an
    unmerged triangle soup is fine when its geometry is.

    Walls: the solid is voxelised (winding numbers along rays, so overlapping shells
    unite and small holes do little harm) at a quarter of the printer's thinnest wall,
    coarser for large meshes (``wall_pitch_mm``; at most MAX_VOXELS cells). On the middle
    surface of the walls (see :func:`_middles`) the distance transform estimates the
    thickness to a voxel, and wherever that estimate is near the printer's minimum or below
    the wall is measured exactly by chords through the mesh (see :func:`_walls`). The
    report gives the minimum, not a low percentile: the places that look thin are measured
    exactly, so there are no voxel outliers to hide, and a percentile would hide a small
    part too thin to print (a finger, a spike). Thicker walls keep the voxel estimate,
    which can read up to a voxel low (more in a concave corner)."""
    printer = printer_named(printer)
    broken = "has no faces" if len(mesh.faces) == 0 else None
    if broken is None and not np.isfinite(mesh.vertices[mesh.faces]).all():
        broken = "has vertices that are not finite numbers (NaN or infinity)"
    if broken:
        return PrintReport(
            printer, len(mesh.faces), False, False, 0, 0, 0, 0, None, (0.0, 0.0, 0.0), True,
            None, 0.0, (broken,),
        )  # fmt: skip
    faces = _position_ids(mesh)
    open_edges, crowded, flipped = _edge_counts(faces)
    watertight = open_edges == 0 and crowded == 0
    manifold = watertight and flipped == 0
    crossings = count_self_intersections(mesh)
    with np.errstate(all="ignore"):  # trimesh divides by a zero volume for its centre
        volume = float(mesh.volume) if manifold else None
    size = tuple(float(v) for v in mesh.extents)
    fits = all(s <= b + 1e-6 for s, b in zip(size, printer.build_mm, strict=True))

    grid = _grid_for(mesh.bounds, _wall_pitch(printer), margin=0.0)
    occupied = _occupancy(mesh, grid)
    walls, _ = _walls(mesh, grid, occupied, printer.min_wall_mm)
    min_wall = float(walls.min()) if len(walls) else None

    problems = []
    if not watertight:
        parts = [f"{open_edges} open edges"] if open_edges else []
        parts += [f"{crowded} edges shared by more than two faces"] if crowded else []
        problems.append("not watertight: " + ", ".join(parts))
    if flipped:
        problems.append(f"faces wound inconsistently at {flipped} edges")
    if volume is not None and volume < 0:
        problems.append("inside out: its faces point inwards")
    if crossings:
        problems.append(f"{crossings} pairs of faces intersect")
    if min_wall is None:
        problems.append(f"encloses no solid (nothing inside it on a {grid.pitch:.2g} mm grid)")
    elif min_wall < printer.min_wall_mm - _WALL_SLACK:
        problems.append(
            f"walls {min_wall:.2f} mm thin in places, printer needs {printer.min_wall_mm:g} mm"
        )
    if not fits:
        problems.append(
            f"larger than the build volume {_mm(printer.build_mm)} mm (it is {_mm(size)} mm)"
        )
    return PrintReport(
        printer, len(mesh.faces), watertight, manifold, open_edges, crowded, flipped,
        crossings, volume, size, fits, min_wall, grid.pitch, tuple(problems),
    )  # fmt: skip


# ---------------------------------------------------------------------------- repair


def _cheap_fixes(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, list[str]]:
    """Merge vertices, drop degenerate and duplicate faces, fix winding, fill small holes."""
    mesh = trimesh.Trimesh(mesh.vertices.copy(), mesh.faces.copy(), process=False)
    actions = []
    before = len(mesh.vertices)
    mesh.merge_vertices()
    mesh.remove_unreferenced_vertices()
    if len(mesh.vertices) < before:
        actions.append(f"merged {before - len(mesh.vertices)} duplicate vertices")
    before = len(mesh.faces)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    if len(mesh.faces) < before:
        actions.append(f"removed {before - len(mesh.faces)} degenerate or duplicate faces")
    open_before = _edge_counts(mesh.faces)[0] if len(mesh.faces) else 0
    if open_before:
        trimesh.repair.fill_holes(mesh)
        open_after = _edge_counts(mesh.faces)[0]
        if open_after < open_before:
            actions.append(f"filled holes ({open_before - open_after} open edges closed)")
    flipped_before = _edge_counts(mesh.faces)[2] if len(mesh.faces) else 0
    volume_before = mesh.volume if mesh.is_watertight else 0.0
    trimesh.repair.fix_normals(mesh)
    if flipped_before and _edge_counts(mesh.faces)[2] < flipped_before:
        actions.append("made the winding of faces consistent")
    elif volume_before < 0 and mesh.volume > 0:
        actions.append("turned it right side out (faces pointed inwards)")
    return mesh, actions


def _thin_middles(
    mesh: trimesh.Trimesh, grid: _Grid, occupied: np.ndarray, min_wall: float
) -> np.ndarray | None:
    """Distance (voxels) from the middle of the walls thinner than ``min_wall`` to every
    voxel; None when no wall is thin."""
    walls, at = _walls(mesh, grid, occupied, min_wall)
    thin = at[walls < min_wall]
    if not len(thin):
        return None
    elsewhere = np.ones(occupied.shape, dtype=bool)
    elsewhere[tuple(thin.T)] = False
    return ndimage.distance_transform_edt(elsewhere)


def _surface(field: np.ndarray, grid: _Grid, smooth: bool) -> trimesh.Trimesh:
    """The closed surface where ``field`` (0 outside .. 1 inside, on ``grid``) crosses ½:
    marching cubes, then (``smooth``) light Taubin smoothing, which keeps the volume."""
    if not field.max() > 0.5:
        raise PrintError(
            f"the mesh cannot be printed: nothing of it is left on a {grid.pitch:.2g} mm grid"
        )
    field = np.pad(field, 1)  # empty all round, so the surface is closed
    vertices, faces, _, _ = measure.marching_cubes(field, 0.5, allow_degenerate=False)
    vertices = grid.origin + (vertices - 1 + 0.5) * grid.pitch
    mesh = trimesh.Trimesh(vertices, faces, process=True)
    if mesh.volume < 0:
        mesh.invert()
    if smooth:
        trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=0.53, iterations=6)
    return _fewer_faces(mesh)


def _fewer_faces(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """A re-meshed surface with at most MAX_REPAIRED_FACES faces (quadric decimation,
    fast-simplification through trimesh), when the result is still closed and consistent:
    fine voxels give hundreds of thousands of faces a slicer does not need."""
    if len(mesh.faces) <= MAX_REPAIRED_FACES:
        return mesh
    fewer = mesh.simplify_quadric_decimation(face_count=MAX_REPAIRED_FACES)
    return fewer if fewer.is_watertight and fewer.is_winding_consistent else mesh


def _needs_thicker_walls(report: PrintReport) -> bool:
    wall = report.min_wall_mm
    return wall is not None and wall < report.printer.min_wall_mm - _WALL_SLACK


def repair(
    mesh: trimesh.Trimesh, printer: Printer | str = "fdm"
) -> tuple[trimesh.Trimesh, PrintReport, list[str]]:
    """The mesh made printable on ``printer``, its report and the actions taken.

    Cheap fixes first (merge duplicate vertices, drop degenerate and duplicate faces, fill
    small holes, make winding consistent); if it is still not closed and consistent, or
    faces cross, or walls are too thin, it is re-meshed through a voxel grid (a quarter of
    the thinnest wall per voxel): marching cubes on the lightly blurred occupancy, then
    Taubin smoothing, which always gives a closed, consistent surface. Walls too thin are
    thickened there: everything within half the printer's wall (and a margin) of their
    middle is added, so thick parts keep their shape; the result is looked at again (up
    to three rounds, see _THICKEN_MARGINS). The re-meshed result stands where
    the mesh stood (same lowest z). A mesh that is already fine comes back
    as it is, with no actions. Raises PrintError for a mesh larger than the build volume
    (it is never rescaled) or one that cannot be repaired.
    """
    printer = printer_named(printer)
    report = inspect(mesh, printer)
    if report.ok:
        return mesh, report, []
    if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices[mesh.faces]).all():
        raise PrintError(f"the mesh cannot be printed: it {report.problems[0]}")
    if not report.fits:
        raise PrintError(
            f"the mesh is larger than the build volume of the {printer.name} printer "
            f"({_mm(report.size_mm)} mm, the printer takes {_mm(printer.build_mm)} mm): "
            "scale it down first"
        )
    fixed, actions = _cheap_fixes(mesh)
    if not len(fixed.faces):  # all degenerate: the voxels may still hold something
        fixed = mesh
    elif actions:
        report = inspect(fixed, printer)
        if report.ok:
            return fixed, report, actions
    grid = _grid_for(mesh.bounds, _wall_pitch(printer), margin=2 * printer.min_wall_mm)
    occupied = _occupancy(fixed, grid)
    if not occupied.any():
        raise PrintError("the mesh cannot be printed: it encloses no solid")
    field = ndimage.gaussian_filter(occupied.astype(np.float32), sigma=0.5)  # no stairs
    current, inside, thickened, grew = fixed, occupied, False, False
    for attempt, margin in enumerate(_THICKEN_MARGINS):
        # walls thinner than the printer's (a little more each round) on the mesh as it
        # now stands: re-meshing may leave a wall the first look did not see as thin
        limit = printer.min_wall_mm * (1 + _THICKEN_STEP * attempt)
        thin = _thin_middles(current, grid, inside, limit)
        if thin is not None:  # 1 within half a wall (and the margin) of a thin middle
            radius = printer.min_wall_mm / 2 / grid.pitch + margin
            tubes = np.clip(radius + 0.5 - thin, 0, 1).astype(np.float32)
            field, thickened = np.maximum(field, tubes), True
        elif attempt:
            break
        result = _surface(field, grid, smooth=True)
        report = inspect(result, printer)
        if report.self_intersections:  # smoothing folded a thin place: keep the voxel look
            result = _surface(field, grid, smooth=False)
            report = inspect(result, printer)
        if not _needs_thicker_walls(report):
            break
        current, inside = result, _occupancy(result, grid)
    if thickened and _needs_thicker_walls(report):
        # a wall finer than a voxel is invisible to the middles above (coarse grids of
        # large meshes): grow the whole surface by one voxel instead
        grown = ndimage.binary_dilation(field > 0.5).astype(np.float32)
        field = np.maximum(field, ndimage.gaussian_filter(grown, sigma=0.5))
        result = _surface(field, grid, smooth=True)
        report = inspect(result, printer)
        if report.self_intersections:
            result = _surface(field, grid, smooth=False)
            report = inspect(result, printer)
        grew = True
    result.apply_translation([0, 0, mesh.bounds[0, 2] - result.bounds[0, 2]])
    actions.append(f"re-meshed through voxels at {grid.pitch:.2g} mm")
    if thickened:
        actions.append(f"thickened walls to at least {printer.min_wall_mm:g} mm")
    if grew:
        actions.append(f"grew the whole surface by {grid.pitch:.2g} mm")
    if not report.ok:
        raise PrintError("the mesh could not be made printable: " + "; ".join(report.problems))
    return result, report, actions
