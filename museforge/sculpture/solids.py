"""Sculptural solids: a procedural family of small sculptures as signed distance functions.

A :class:`Solid` is a family name and the parameters drawn for it; its signed distance
(negative inside) is built from primitives (spheres, ellipsoids, capsules, rounded boxes,
cylinders, frustums, tori), joined with a polynomial smooth union / subtraction and bent,
twisted, tapered or repeated by domain operations. Each solid is cut flat at the bottom so
that it stands, is one connected piece, and is placed so that its bounding box is centred
on the origin with its largest side :data:`EXTENT` (1.8): it lies inside [-0.9, 0.9]³.

Grids (:func:`sdf_grid`) sample the distance at the cell centres of the cube [-1, 1]³,
``grid[i, j, k]`` being the value at ``(x_i, y_j, z_k)`` (Z up), in cells, clipped to
±:data:`BAND_CELLS` and divided by it, so values lie in [-1, 1] and the surface is level 0.

Families: ``blob`` (a branching chain of spheres, ellipsoids and limbs melted together),
``twist`` (a twisted, tapered star or polygon column, sometimes on a plinth), ``ring``
(one to three standing tori, sometimes wavy, crossing at the top and bottom, on a plinth),
``lattice`` (a gyroid sheet or a strut lattice clipped to a ball, egg, block or drum),
``stack`` (a totem of stacked spheres, blocks, drums and cones), ``carved`` (a block with
smooth spherical scoops and sometimes a tunnel), ``arch`` (a bar, tapered and twisted,
bent into an arch or horseshoe standing on its feet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import ndimage

FAMILIES: tuple[str, ...] = ("blob", "twist", "ring", "lattice", "stack", "carved", "arch")
EXTENT = 1.8  # the largest side of every solid's bounding box; the grid cube's side is 2
BAND_CELLS = 3.0  # truncation of grid values, in cells
CHECK_RESOLUTION = 32  # the grid on which a drawn solid is checked to be one piece
RAW_HALF = 1.35  # drawn solids lie inside [-RAW_HALF, RAW_HALF]³ before normalisation
MAX_DRAWS = 50

Array = np.ndarray


@dataclass(frozen=True)
class Solid:
    """One sculpture: its family, the parameters drawn for it (plain floats, ints, strings
    and tuples), and the placement (``centre`` of the drawn shape, ``scale``) that puts its
    bounding box centred in [-0.9, 0.9]³."""

    family: str
    params: Mapping[str, Any]
    centre: tuple[float, float, float]
    scale: float

    def sdf(self, points: Array) -> Array:
        """Signed distance (negative inside) at N×3 points, as N float32 values."""
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points must be N×3, not {points.shape}")
        return self._sdf_columns(np.ascontiguousarray(points.T))

    def _sdf_columns(self, p: Array) -> Array:
        centre = np.asarray(self.centre, dtype=np.float32)[:, None]
        raw = p / np.float32(self.scale) + centre
        return _cut_sdf(self.family, self.params, raw) * np.float32(self.scale)


def random_solid(rng: np.random.Generator, family: str | None = None) -> Solid:
    """A solid of ``family`` (one of :data:`FAMILIES`, else drawn), fully determined by
    ``rng``."""
    return _draw(rng, family)[0]


def sdf_grid(solid: Solid, resolution: int = 32) -> Array:
    """The solid's truncated signed distance at the cell centres of [-1, 1]³: float32
    (res, res, res), in cells, clipped to ±BAND_CELLS and scaled to [-1, 1]."""
    cell = 2.0 / resolution
    values = solid._sdf_columns(_cell_centres(resolution)) / np.float32(cell * BAND_CELLS)
    return np.clip(values, -1.0, 1.0).reshape(resolution, resolution, resolution)


def solid_grids(n: int, resolution: int = 32, seed: int = 0) -> tuple[Array, list[str]]:
    """``n`` solids' grids (n, res, res, res) float32 and their families: the families in
    turn (balanced), the same seed giving the same arrays."""
    rng = np.random.default_rng(seed)
    grids = np.empty((n, resolution, resolution, resolution), dtype=np.float32)
    families = [FAMILIES[i % len(FAMILIES)] for i in range(n)]
    for i, family in enumerate(families):
        solid, grid = _draw(rng, family)
        grids[i] = grid if resolution == CHECK_RESOLUTION else sdf_grid(solid, resolution)
    return grids, families


def cell_centres(resolution: int) -> Array:
    """The cell centres of [-1, 1]³ at ``resolution``, as res³×3 points in grid order."""
    return _cell_centres(resolution).T.copy()


# --- drawing and placing ------------------------------------------------------------------


def _draw(rng: np.random.Generator, family: str | None) -> tuple[Solid, Array]:
    """A solid of ``family`` and its grid at CHECK_RESOLUTION; shapes that come out in
    pieces, or too large, are drawn again (from the same rng, so still reproducible)."""
    if family is None:
        family = FAMILIES[int(rng.integers(len(FAMILIES)))]
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; the families are {', '.join(FAMILIES)}")
    points = _cell_centres(CHECK_RESOLUTION) * np.float32(RAW_HALF)
    cell = 2 * RAW_HALF / CHECK_RESOLUTION
    coords = (np.arange(CHECK_RESOLUTION) + 0.5) * cell - RAW_HALF
    for _ in range(MAX_DRAWS):
        params = dict(_DRAWERS[family](rng))
        shape = (CHECK_RESOLUTION,) * 3
        raw = _FAMILY_SDF[family](params, points).reshape(shape)
        box = _bounds(raw, coords)
        if box is None:
            continue
        z_cut = box[2][0] + params["cut"] * (box[2][1] - box[2][0])
        params["z_cut"] = float(z_cut)
        cut = np.maximum(raw, np.float32(z_cut) - points[2].reshape(shape))
        box = _bounds(cut, coords)
        if box is None:
            continue
        box = _refine_bounds(partial(_cut_sdf, family, params), points, cut, box, cell)
        centre = tuple(float((lo + hi) / 2) for lo, hi in box)
        scale = EXTENT / max(hi - lo for lo, hi in box)
        solid = Solid(family, MappingProxyType(params), centre, float(scale))
        grid = sdf_grid(solid, CHECK_RESOLUTION)
        if ndimage.label(grid < 0)[1] == 1:
            return solid, grid
    raise RuntimeError(f"no connected {family} solid in {MAX_DRAWS} draws")


def _bounds(grid: Array, coords: Array) -> list[tuple[float, float]] | None:
    """The bounding box of ``grid < 0`` along each axis, to a fraction of a cell (from the
    zero crossings of the distance's minimum over the other two axes); None when empty or
    touching the grid's border."""
    box = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        low = grid.min(axis=others).astype(np.float64)
        inside = np.flatnonzero(low < 0)
        if inside.size == 0 or inside[0] == 0 or inside[-1] == len(low) - 1:
            return None
        lo, hi = inside[0], inside[-1]
        step = coords[1] - coords[0]
        start = coords[lo] - step * low[lo] / (low[lo] - low[lo - 1])
        stop = coords[hi] + step * low[hi] / (low[hi] - low[hi + 1])
        box.append((float(start), float(stop)))
    return box


def _refine_bounds(
    sdf: Callable[[Array], Array],
    points: Array,
    values: Array,
    box: list[tuple[float, float]],
    cell: float,
    candidates: int = 24,
    steps: int = 8,
) -> list[tuple[float, float]]:
    """``box`` widened to the extreme surface points found near each of its six faces: the
    sample points nearest the surface and farthest out are pulled onto the surface (Newton
    steps on the distance) and slid along it outwards, so that thin or sharp features the
    grid falls between still count."""
    values = values.reshape(-1)
    near = np.flatnonzero(np.abs(values) < 1.5 * cell)
    starts, directions = [], []
    for axis in range(3):
        for side in (-1.0, 1.0):
            order = np.argsort(-side * points[axis, near])[:candidates]
            starts.append(points[:, near[order]].astype(np.float64))
            direction = np.zeros((3, order.size))
            direction[axis] = side
            directions.append(direction)
    q, e = np.concatenate(starts, axis=1), np.concatenate(directions, axis=1)
    for step in range(steps + 2):
        d, grad = _value_and_gradient(sdf, q)
        q = q - d * grad / np.maximum((grad * grad).sum(axis=0), 1e-6)
        if step < steps:  # slide outwards along the tangent plane, ever more gently
            normal = grad / np.maximum(np.sqrt((grad * grad).sum(axis=0)), 1e-6)
            tangent = e - (e * normal).sum(axis=0) * normal
            q = q + tangent * (0.5 * cell * 0.6**step)
    on_surface = np.abs(sdf(q)) < 1e-3
    refined = []
    for axis, (lo, hi) in enumerate(box):
        for_axis = on_surface & (e[axis] != 0)
        low = q[axis, for_axis & (e[axis] < 0)]
        high = q[axis, for_axis & (e[axis] > 0)]
        refined.append((min([lo, *low]), max([hi, *high])))
    return refined


def _value_and_gradient(sdf: Callable[[Array], Array], q: Array) -> tuple[Array, Array]:
    """The distance at 3×M points and its gradient (central differences)."""
    eps = 1e-4
    shifted = [q + eps * np.eye(3)[:, i : i + 1] * sign for i in range(3) for sign in (1, -1)]
    values = sdf(np.concatenate([q, *shifted], axis=1)).astype(np.float64).reshape(7, -1)
    grad = np.stack([(values[1 + 2 * i] - values[2 + 2 * i]) / (2 * eps) for i in range(3)])
    return values[0], grad


@lru_cache(maxsize=8)
def _cell_centres(resolution: int) -> Array:
    """Cell centres of [-1, 1]³ as a 3×res³ float32 array (x, y, z rows, grid order)."""
    axis = (np.arange(resolution, dtype=np.float32) + 0.5) * np.float32(2 / resolution) - 1
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij")).reshape(3, -1)
    grid.flags.writeable = False
    return grid


def _cut_sdf(family: str, params: Mapping[str, Any], p: Array) -> Array:
    """The family's distance, cut flat at ``z_cut`` so that the solid stands."""
    return np.maximum(_FAMILY_SDF[family](params, p), np.float32(params["z_cut"]) - p[2])


# --- primitives and operations (points as 3×N float32 columns) ---------------------------


def _f(value: float) -> np.float32:
    return np.float32(value)


def _length(*parts: Array) -> Array:
    return np.sqrt(sum(part * part for part in parts))


def smooth_union(a: Array, b: Array, k: float) -> Array:
    """Polynomial smooth minimum: min(a, b) with the seam filled over a blend radius k."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(_f(k) - np.abs(a - b), 0) / _f(k)
    return np.minimum(a, b) - h * h * _f(k / 4)


def smooth_intersection(a: Array, b: Array, k: float) -> Array:
    """Smooth maximum: the intersection with its edge rounded over k."""
    return -smooth_union(-a, -b, k)


def smooth_subtraction(a: Array, b: Array, k: float) -> Array:
    """``a`` with ``b`` carved out, the cut's rim rounded over k."""
    return smooth_intersection(a, -b, k)


def _sphere(p: Array, centre: tuple[float, ...], radius: float) -> Array:
    return _length(p[0] - _f(centre[0]), p[1] - _f(centre[1]), p[2] - _f(centre[2])) - _f(radius)


def _ellipsoid(p: Array, centre: tuple[float, ...], radii: tuple[float, ...]) -> Array:
    """Ellipsoid, approximate distance (exact on the surface, close near it)."""
    q = [p[i] - _f(centre[i]) for i in range(3)]
    k0 = _length(*(q[i] / _f(radii[i]) for i in range(3)))
    k1 = _length(*(q[i] / _f(radii[i] ** 2) for i in range(3)))
    return k0 * (k0 - 1) / np.maximum(k1, _f(1e-6))


def _capsule(p: Array, a: tuple[float, ...], b: tuple[float, ...], radius: float) -> Array:
    pa = [p[i] - _f(a[i]) for i in range(3)]
    ba = [b[i] - a[i] for i in range(3)]
    t = sum(pa[i] * _f(ba[i]) for i in range(3)) / _f(max(sum(x * x for x in ba), 1e-9))
    t = np.clip(t, 0, 1)
    return _length(*(pa[i] - _f(ba[i]) * t for i in range(3))) - _f(radius)


def _box(p: Array, half: tuple[float, ...], rounding: float) -> Array:
    """Box of half-sides ``half`` centred at the origin, edges rounded over ``rounding``."""
    q = [np.abs(p[i]) - _f(half[i] - rounding) for i in range(3)]
    outside = _length(*(np.maximum(qi, 0) for qi in q))
    inside = np.minimum(np.maximum(np.maximum(q[0], q[1]), q[2]), 0)
    return outside + inside - _f(rounding)


def _rounded_rect(u: Array, v: Array, half_u: Array, half_v: Array, rounding: float) -> Array:
    qu = np.abs(u) - (half_u - _f(rounding))
    qv = np.abs(v) - (half_v - _f(rounding))
    outside = _length(np.maximum(qu, 0), np.maximum(qv, 0))
    return outside + np.minimum(np.maximum(qu, qv), 0) - _f(rounding)


def _cylinder(p: Array, z0: float, radius: float, half_height: float, rounding: float) -> Array:
    """Upright cylinder centred at (0, 0, z0), edges rounded."""
    r = _length(p[0], p[1])
    return _rounded_rect(r, p[2] - _f(z0), _f(radius), _f(half_height), rounding)


def _frustum(p: Array, z0: float, half_height: float, r_low: float, r_high: float) -> Array:
    """Upright capped cone centred at (0, 0, z0), radius r_low below and r_high above."""
    qx = _length(p[0], p[1])
    qy = p[2] - _f(z0)
    h = _f(half_height)
    ca_x = qx - np.minimum(qx, np.where(qy < 0, _f(r_low), _f(r_high)))
    ca_y = np.abs(qy) - h
    k2x, k2y = r_high - r_low, 2 * half_height
    t = ((_f(r_high) - qx) * _f(k2x) + (h - qy) * _f(k2y)) / _f(k2x * k2x + k2y * k2y)
    t = np.clip(t, 0, 1)
    cb_x = qx - _f(r_high) + _f(k2x) * t
    cb_y = qy - h + _f(k2y) * t
    sign = np.where((cb_x < 0) & (ca_y < 0), _f(-1), _f(1))
    return sign * np.sqrt(np.minimum(ca_x * ca_x + ca_y * ca_y, cb_x * cb_x + cb_y * cb_y))


def _polygon(u: Array, v: Array, apothem: Array, sides: int) -> Array:
    """Regular polygon, a side facing +u, its sides ``apothem`` from the centre."""
    sector = 2 * np.pi / sides
    turn = _f(sector) * np.floor((np.arctan2(v, u) + _f(sector / 2)) / _f(sector))
    c, s = np.cos(turn), np.sin(turn)
    pu = c * u + s * v  # the point turned into the sector about +u
    pv = c * v - s * u
    half_side = apothem * _f(np.tan(sector / 2))
    along = pv - np.clip(pv, -half_side, half_side)
    return _length(pu - apothem, along) * np.sign(pu - apothem)


def _rotation(yaw: float, tilt: float, roll: float) -> Array:
    """Rotation matrix: roll about X, then tilt about Y, then yaw about Z."""
    cz, sz, cy, sy, cx, sx = (f(a) for a in (yaw, tilt, roll) for f in (np.cos, np.sin))
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rz @ ry @ rx


def _gyroid_sheet(p: Array, frequency: float, phase: tuple[float, ...], thickness: float):
    """A gyroid surface thickened to a wall; distance approximated to first order."""
    f = _f(frequency)
    x, y, z = (p[i] * f + _f(phase[i]) for i in range(3))
    sx, cx, sy, cy, sz, cz = np.sin(x), np.cos(x), np.sin(y), np.cos(y), np.sin(z), np.cos(z)
    g = sx * cy + sy * cz + sz * cx
    grad = _length(cx * cy - sz * sx, cy * cz - sx * sy, cz * cx - sy * sz) * f
    return np.abs(g) / np.maximum(grad, f * _f(0.5)) - _f(thickness / 2)


def _struts(p: Array, rotation: Array, cell: float, radius: float, blend: float) -> Array:
    """A cubic lattice of round struts along the (rotated) axes, joints filleted."""
    q = rotation.T.astype(np.float32) @ p
    c = _f(cell)
    m = [np.mod(q[i] + c / 2, c) - c / 2 for i in range(3)]
    a = _length(m[1], m[2])
    b = _length(m[0], m[2])
    d = _length(m[0], m[1])
    return smooth_union(smooth_union(a, b, blend), d, blend) - _f(radius)


# --- the families: drawing parameters (floats) and their distance ------------------------


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _draw_blob(rng: np.random.Generator) -> dict[str, Any]:
    """A tree of 3-6 parts, each overlapping the part it grows from."""
    first = (0.0, 0.0, -0.5)
    parts: list[tuple] = [("sphere", first, _u(rng, 0.3, 0.45))]
    tips = [(first, parts[0][2])]  # where a part can grow from, with its radius there
    for _ in range(int(rng.integers(2, 6))):
        base, base_r = tips[int(rng.integers(len(tips)))]
        direction = np.array([rng.normal(), rng.normal(), abs(rng.normal()) + 0.4])
        direction /= np.linalg.norm(direction)
        kind = ("sphere", "sphere", "ellipsoid", "limb")[int(rng.integers(4))]
        radius = _u(rng, 0.1, 0.22) if kind == "limb" else _u(rng, 0.2, 0.4)
        step = (base_r + radius) * _u(rng, 0.5, 0.85) + (_u(rng, 0.2, 0.4) if kind == "limb" else 0)
        centre = np.clip(np.asarray(base) + direction * step, [-0.6, -0.6, -0.6], [0.6, 0.6, 0.7])
        centre = tuple(float(c) for c in centre)
        if kind == "limb":
            parts.append(("limb", base, centre, radius))
        elif kind == "ellipsoid":
            radii = tuple(radius * _u(rng, 0.7, 1.3) for _ in range(3))
            parts.append(("ellipsoid", centre, radii))
            radius = min(radii)
        else:
            parts.append(("sphere", centre, radius))
        tips.append((centre, radius))
    return {"parts": tuple(parts), "blend": _u(rng, 0.12, 0.3), "cut": _u(rng, 0.06, 0.14)}


def _blob(params: Mapping[str, Any], p: Array) -> Array:
    d = None
    for part in params["parts"]:
        if part[0] == "sphere":
            e = _sphere(p, part[1], part[2])
        elif part[0] == "ellipsoid":
            e = _ellipsoid(p, part[1], part[2])
        else:
            e = _capsule(p, part[1], part[2], part[3])
        d = e if d is None else smooth_union(d, e, params["blend"])
    return d


def _draw_twist(rng: np.random.Generator) -> dict[str, Any]:
    star = bool(rng.random() < 0.5)
    return {
        "section": "star" if star else "polygon",
        "sides": int(rng.integers(3, 6)),
        "depth": _u(rng, 0.2, 0.35),  # how deep a star's arms are cut, as a share
        "radius": _u(rng, 0.32, 0.45),
        "rounding": _u(rng, 0.02, 0.06),
        "height": _u(rng, 1.5, 1.9),
        "turns": _u(rng, 0.25, 1.0) * float(rng.choice([-1, 1])),
        "taper": _u(rng, -0.45, 0.2),  # radius change from bottom to top, as a share
        "bulge": _u(rng, 0.0, 0.25),
        "plinth": bool(rng.random() < 0.5),
        "plinth_height": _u(rng, 0.12, 0.22),
        "plinth_radius": _u(rng, 0.45, 0.6),
        "cut": 0.0,
    }


def _twist(params: Mapping[str, Any], p: Array) -> Array:
    height = params["height"]
    bottom = -height / 2
    u = (p[2] - _f(bottom)) / _f(height)  # 0 at the foot, 1 at the top
    width = 1 + _f(params["taper"]) * u + _f(params["bulge"]) * 4 * u * (1 - u)
    width = np.maximum(width, _f(0.3))
    rate = 2 * np.pi * params["turns"] / height
    angle = _f(rate) * p[2]
    c, s = np.cos(angle), np.sin(angle)
    x = (c * p[0] + s * p[1]) / width
    y = (c * p[1] - s * p[0]) / width
    radius, rounding = params["radius"], params["rounding"]
    if params["section"] == "star":
        r = _length(x, y)
        n, depth = params["sides"], params["depth"]
        theta = np.arctan2(y, x)
        wave = _f(radius) * (1 - _f(depth) * (0.5 - 0.5 * np.cos(_f(n) * theta)))
        slope = _f(radius * depth * n / 2) * np.sin(_f(n) * theta) / np.maximum(r, _f(radius / 2))
        section = (r - wave) / _length(_f(1), slope)
    else:
        section = _polygon(x, y, _f(radius - rounding), params["sides"]) - _f(rounding)
    section = section * width / _length(_f(1), _f(rate) * _length(p[0], p[1]))
    ends = np.abs(p[2]) - _f(height / 2)
    column = smooth_intersection(section, ends, 0.03)
    if not params["plinth"]:
        return column
    h = params["plinth_height"]  # the plinth sits below the column's foot, up to its middle
    plinth = _cylinder(p, bottom, params["plinth_radius"], h / 2, 0.03)
    return smooth_union(column, plinth, 0.06)


def _draw_ring(rng: np.random.Generator) -> dict[str, Any]:
    count = int(rng.choice([1, 1, 2, 3]))
    wavy = bool(rng.random() < 0.5)
    return {
        "count": count,
        "yaw": _u(rng, 0, np.pi),
        "major": _u(rng, 0.55, 0.72),
        "minor": _u(rng, 0.12, 0.22) if count == 1 else _u(rng, 0.09, 0.15),
        "wave": _u(rng, 0.06, 0.14) if wavy else 0.0,
        "lobes": int(rng.integers(2, 5)),
        "plinth": ("none", "drum", "block")[int(rng.integers(3))],
        "plinth_height": _u(rng, 0.15, 0.3),
        "plinth_radius": _u(rng, 0.3, 0.5),
        "blend": _u(rng, 0.08, 0.16),
        "cut": _u(rng, 0.02, 0.06),
    }


def _ring(params: Mapping[str, Any], p: Array) -> Array:
    major, minor, wave, lobes = params["major"], params["minor"], params["wave"], params["lobes"]
    d = None
    for i in range(params["count"]):
        yaw = params["yaw"] + np.pi * i / params["count"]
        along = _f(np.cos(yaw)) * p[0] + _f(np.sin(yaw)) * p[1]  # in the ring's plane
        across = _f(np.cos(yaw)) * p[1] - _f(np.sin(yaw)) * p[0]
        rho = _length(along, p[2])
        beta = np.arctan2(p[2], along)
        offset = _f(wave) * np.cos(_f(lobes) * beta)
        slope = _f(wave * lobes) * np.sin(_f(lobes) * beta) / np.maximum(rho, _f(major / 2))
        tube = (_length(rho - _f(major), across - offset) - _f(minor)) / _length(_f(1), slope)
        d = tube if d is None else smooth_union(d, tube, 0.04)
    if params["plinth"] == "none":
        return d
    h = params["plinth_height"]
    z0 = -major - minor * 0.5 - h / 2
    r = params["plinth_radius"]
    if params["plinth"] == "drum":
        plinth = _cylinder(p, z0, r, h / 2, 0.04)
    else:
        q = np.stack([p[0], p[1], p[2] - _f(z0)])
        plinth = _box(q, (r, r * 0.7, h / 2), 0.04)
    return smooth_union(d, plinth, params["blend"])


def _draw_lattice(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "infill": "gyroid" if rng.random() < 0.6 else "struts",
        "frequency": _u(rng, 4.8, 6.5),
        "phase": tuple(_u(rng, 0, 2 * np.pi) for _ in range(3)),
        "thickness": _u(rng, 0.13, 0.18),
        "cell": _u(rng, 0.45, 0.6),
        "strut": _u(rng, 0.07, 0.095),
        "angles": (_u(rng, 0, np.pi), _u(rng, -0.6, 0.6), _u(rng, -0.6, 0.6)),
        "shell": ("ball", "egg", "block", "drum")[int(rng.integers(4))],
        "size": (_u(rng, 0.75, 0.95), _u(rng, 0.75, 0.95), _u(rng, 0.8, 1.0)),
        "floor": _u(rng, 0.06, 0.14),  # share of the height cut away below the plate
        "plate": _u(rng, 0.08, 0.14),  # a solid foot that holds every strut together
        "cut": 0.0,
    }


def _lattice(params: Mapping[str, Any], p: Array) -> Array:
    size = params["size"]
    shell = params["shell"]
    if shell == "ball":
        bound = _sphere(p, (0, 0, 0), size[2])
    elif shell == "egg":
        bound = _ellipsoid(p, (0, 0, 0), (size[0] * 0.85, size[0] * 0.85, size[2]))
    elif shell == "block":
        bound = _box(p, (size[0] * 0.8, size[1] * 0.8, size[2]), 0.25)
    else:
        bound = _cylinder(p, 0, size[0] * 0.85, size[2], 0.25)
    if params["infill"] == "gyroid":
        infill = _gyroid_sheet(p, params["frequency"], params["phase"], params["thickness"])
    else:
        rotation = _rotation(*params["angles"])
        infill = _struts(p, rotation, params["cell"], params["strut"], 0.05)
    lattice = smooth_intersection(infill, bound, 0.1)
    floor = size[2] * (2 * params["floor"] - 1)
    plate = np.maximum(bound, p[2] - _f(floor + params["plate"]))
    return np.maximum(smooth_union(lattice, plate, 0.05), _f(floor) - p[2])


_STACK_KINDS = ("sphere", "block", "drum", "cone", "disc")


def _draw_stack(rng: np.random.Generator) -> dict[str, Any]:
    count = int(rng.integers(3, 6))
    heights = rng.uniform(0.5, 1.0, count)
    heights = heights / heights.sum() * _u(rng, 1.8, 2.1)
    pieces = []
    for i, h in enumerate(heights):
        kinds = _STACK_KINDS[1:4] if i == 0 else _STACK_KINDS  # a firm foot
        kind = kinds[int(rng.integers(len(kinds)))]
        width = _u(rng, 0.45, 0.65) if i == 0 else _u(rng, 0.22, 0.55)
        extra = _u(rng, 0.4, 1.4)  # cone: top/bottom radius; block: depth/width
        pieces.append((kind, float(h), width, extra, _u(rng, 0, np.pi)))
    return {"pieces": tuple(pieces), "blend": _u(rng, 0.02, 0.07), "cut": 0.03}


def _stack(params: Mapping[str, Any], p: Array) -> Array:
    pieces = params["pieces"]
    bottom = -sum(piece[1] for piece in pieces) / 2
    d = None
    for kind, h, width, extra, yaw in pieces:
        z0 = bottom + h / 2
        overlap = 0.15 * h
        if kind == "sphere":
            e = _ellipsoid(p, (0, 0, z0), (width, width, h / 2 + overlap))
        elif kind == "disc":
            e = _ellipsoid(p, (0, 0, z0), (width * 1.2, width * 1.2, h / 2 + overlap))
        elif kind == "block":
            c, s = _f(np.cos(yaw)), _f(np.sin(yaw))
            q = np.stack([c * p[0] + s * p[1], c * p[1] - s * p[0], p[2] - _f(z0)])
            half = (width * 0.85, width * 0.85 * min(extra, 1.0), h / 2)
            e = _box(q, half, min(0.06, h / 4))
        elif kind == "drum":
            e = _cylinder(p, z0, width, h / 2, min(0.05, h / 4))
        else:
            e = _frustum(p, z0, h / 2, width, width * extra)
        d = e if d is None else smooth_union(d, e, params["blend"])
        bottom += h
    return d


def _draw_carved(rng: np.random.Generator) -> dict[str, Any]:
    block = ("block", "block", "egg", "drum")[int(rng.integers(4))]
    half = (_u(rng, 0.5, 0.75), _u(rng, 0.4, 0.7), _u(rng, 0.7, 0.95))
    scoops = []
    for _ in range(int(rng.integers(3, 7))):
        direction = np.array([rng.normal(), rng.normal(), rng.normal() * 0.6 + 0.2])
        direction /= np.linalg.norm(direction)
        on_surface = direction / np.max(np.abs(direction) / np.asarray(half))
        radius = _u(rng, 0.3, 0.55)
        centre = on_surface + direction * radius * _u(rng, 0.05, 0.5)
        scoops.append((tuple(float(c) for c in centre), radius))
    tunnel = None
    if rng.random() < 0.65:
        yaw = _u(rng, 0, np.pi)
        z = _u(rng, -0.2, 0.35)
        reach = 1.3
        ends = (float(reach * np.cos(yaw)), float(reach * np.sin(yaw)))
        tunnel = ((ends[0], ends[1], z), (-ends[0], -ends[1], z), _u(rng, 0.18, 0.32))
    return {
        "block": block,
        "half": half,
        "rounding": _u(rng, 0.1, 0.3),
        "scoops": tuple(scoops),
        "tunnel": tunnel,
        "blend": _u(rng, 0.1, 0.2),
        "cut": _u(rng, 0.08, 0.14) if block == "egg" else 0.03,
    }


def _carved(params: Mapping[str, Any], p: Array) -> Array:
    half = params["half"]
    if params["block"] == "block":
        d = _box(p, half, params["rounding"])
    elif params["block"] == "egg":
        d = _ellipsoid(p, (0, 0, 0), half)
    else:
        d = _cylinder(p, 0, min(half[0], half[1]), half[2], params["rounding"])
    for centre, radius in params["scoops"]:
        d = smooth_subtraction(d, _sphere(p, centre, radius), params["blend"])
    if params["tunnel"] is not None:
        a, b, radius = params["tunnel"]
        d = smooth_subtraction(d, _capsule(p, a, b, radius), params["blend"])
    return d


def _draw_arch(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "radius": _u(rng, 0.5, 0.7),
        "span": _u(rng, np.radians(75), np.radians(130)),  # half-angle from the top
        "thickness": _u(rng, 0.09, 0.17),  # half, across the arc
        "depth": _u(rng, 0.1, 0.32),  # half, along Y
        "taper": _u(rng, 0.6, 1.5),  # cross-section size at the feet, as a share
        "twist": _u(rng, 0, np.pi) if rng.random() < 0.6 else 0.0,
        "yaw": _u(rng, -0.25, 0.25),
        "cut": _u(rng, 0.04, 0.1),
    }


def _arch(params: Mapping[str, Any], p: Array) -> Array:
    """A bar bent along a circle of ``radius`` about the Y axis (the bend), spanning
    ``span`` either side of the top, its cross-section tapered and twisted along it."""
    radius, span = params["radius"], params["span"]
    yaw = params["yaw"]
    x = p[0] * _f(np.cos(yaw)) + p[1] * _f(np.sin(yaw))
    y = p[1] * _f(np.cos(yaw)) - p[0] * _f(np.sin(yaw))
    rho = _length(x, p[2])
    theta = np.arctan2(x, p[2])  # 0 at the top
    share = np.minimum(np.abs(theta) / _f(span), _f(1))
    size = 1 + _f(params["taper"] - 1) * share
    turn = _f(params["twist"]) * theta / _f(span)
    c, s = np.cos(turn), np.sin(turn)
    radial = rho - _f(radius)
    u = (c * radial + s * y) / size
    v = (c * y - s * radial) / size
    section = _rounded_rect(u, v, _f(params["thickness"]), _f(params["depth"]), 0.05) * size
    ends = rho * np.sin(np.clip(np.abs(theta) - _f(span), -np.pi / 2, np.pi / 2))
    return smooth_intersection(section, ends, 0.04)


_DRAWERS: dict[str, Callable[[np.random.Generator], dict[str, Any]]] = {
    "blob": _draw_blob,
    "twist": _draw_twist,
    "ring": _draw_ring,
    "lattice": _draw_lattice,
    "stack": _draw_stack,
    "carved": _draw_carved,
    "arch": _draw_arch,
}
_FAMILY_SDF: dict[str, Callable[[Mapping[str, Any], Array], Array]] = {
    "blob": _blob,
    "twist": _twist,
    "ring": _ring,
    "lattice": _lattice,
    "stack": _stack,
    "carved": _carved,
    "arch": _arch,
}
