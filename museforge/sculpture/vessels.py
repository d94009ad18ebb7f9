"""Vessels: a procedural family of lathe profiles with real proportions, and the solid a
profile makes when it is turned.

A profile is the outer radius of a vessel at ``HEIGHTS`` evenly spaced heights from its
foot (0) to its rim (the vessel's height), all in millimetres. Each family draws its
control points from ranges taken from real pots — a vase 180–350 mm tall with a belly at a
third to a half of its height, a bowl 50–110 mm tall and twice to three times as wide, a
mug 80–110 mm with a near-straight wall — and a shape-preserving spline (PCHIP, which
never overshoots its control points) joins them. A vessel is turned from its profile with
a wall of even thickness (offset along the profile's normal) and a solid floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter1d

from museforge.errors import InputError

HEIGHTS = 32  # radii a profile holds, foot to rim
FAMILIES = ("vase", "bottle", "bowl", "cup", "jar", "beaker")
WALL_MM = 3.0  # a thrown or printed pot's wall
FLOOR_MM = 4.0
MIN_INNER_MM = 2.0  # an opening narrower than this is closed up (a solid neck)
SECTIONS = 72  # facets around a turned vessel (5°: smooth once shaded)

# Attributes a vessel can be pushed along (condition): name → what is measured.
ATTRIBUTES = ("taller", "wider-mouth", "wider-belly", "wider-foot", "slender")


@dataclass(frozen=True)
class Profile:
    """One vessel's outer outline: its height and radii foot to rim (mm)."""

    height: float
    radii: tuple[float, ...]
    family: str = ""

    def as_vector(self) -> np.ndarray:
        """Height then radii, in millimetres (``HEIGHTS`` + 1 values)."""
        return np.array([self.height, *self.radii], dtype=np.float32)

    @classmethod
    def from_vector(cls, values: np.ndarray, family: str = "", smooth: float = 0.0) -> Profile:
        """A profile from :meth:`as_vector`'s layout, made buildable: a height of at
        least 20 mm, radii of at least a wall and a floor's worth; ``smooth`` (a Gaussian's
        width in radii) irons out a decoder's ripples."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (HEIGHTS + 1,) or not np.isfinite(values).all():
            raise InputError(f"a vessel profile needs {HEIGHTS + 1} finite numbers")
        height = float(max(values[0], 20.0))
        radii = values[1:]
        if smooth > 0:
            radii = gaussian_filter1d(radii, smooth, mode="nearest")
        radii = np.maximum(radii, WALL_MM + MIN_INNER_MM)
        return cls(height, tuple(float(r) for r in radii), family)


def _curve(points: list[tuple[float, float]]) -> np.ndarray:
    """Radii at ``HEIGHTS`` even heights in 0..1 through control points (t, r)."""
    t, r = np.array(points, dtype=np.float64).T
    order = np.argsort(t)
    return PchipInterpolator(t[order], r[order])(np.linspace(0.0, 1.0, HEIGHTS))


def draw_profile(rng: np.random.Generator, family: str | None = None) -> Profile:
    """A vessel of ``family`` (or one drawn from FAMILIES) with proportions drawn from
    real pots' ranges; the same generator state gives the same vessel."""
    family = family or str(rng.choice(FAMILIES))
    u = rng.uniform
    if family == "vase":
        h = u(180, 350)
        foot, belly, neck, mouth = u(28, 50), u(55, 95), u(18, 38), u(26, 55)
        at_belly, at_neck = u(0.28, 0.5), u(0.72, 0.88)
        points = [(0, foot), (0.06, foot * 1.05), (at_belly, belly), (at_neck, neck), (1, mouth)]
    elif family == "bottle":
        h = u(200, 320)
        body, neck, lip = u(35, 58), u(11, 18), u(13, 22)
        shoulder = u(0.5, 0.66)
        points = [
            (0, body * 0.96),
            (0.05, body),
            (shoulder, body),
            (shoulder + 0.12, (body + neck) / 2.2),
            (shoulder + 0.22, neck),
            (0.97, neck),
            (1, lip),
        ]
    elif family == "bowl":
        h = u(50, 110)
        rim = h * u(1.0, 1.6)
        foot = rim * u(0.32, 0.5)
        bend = u(0.35, 0.6)
        points = [(0, foot), (0.08, foot), (bend, foot + (rim - foot) * u(0.55, 0.8)), (1, rim)]
    elif family == "cup":
        h = u(80, 115)
        base = u(32, 44)
        top = base * u(1.0, 1.18)
        points = [(0, base * 0.94), (0.05, base), (0.5, (base + top) / 2 * u(0.98, 1.06)), (1, top)]
    elif family == "jar":
        h = u(140, 250)
        belly = h * u(0.32, 0.45)
        foot, neck = belly * u(0.55, 0.75), belly * u(0.5, 0.7)
        at_belly = u(0.4, 0.55)
        points = [
            (0, foot),
            (at_belly, belly),
            (0.86, neck),
            (0.94, neck),
            (1, neck * u(1.05, 1.2)),
        ]
    elif family == "beaker":
        h = u(90, 160)
        foot = u(28, 40)
        top = foot * u(1.2, 1.6)
        points = [(0, foot), (0.3, foot + (top - foot) * 0.25), (1, top)]
    else:
        raise InputError(f"unknown vessel family '{family}' (known: {', '.join(FAMILIES)})")
    radii = _curve(points)
    return Profile(float(h), tuple(float(r) for r in radii), family)


def profiles(n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``n`` vessels, the families in turn (a balanced set): an n×(HEIGHTS+1) array of
    :meth:`Profile.as_vector` rows and their families; the same seed, the same set."""
    rng = np.random.default_rng(seed)
    drawn = [draw_profile(rng, FAMILIES[i % len(FAMILIES)]) for i in range(n)]
    return np.stack([p.as_vector() for p in drawn]), [p.family for p in drawn]


def measure(vectors: np.ndarray) -> np.ndarray:
    """Per profile (rows as :meth:`Profile.as_vector`), the value each of ATTRIBUTES
    grows with: height, rim radius, widest radius, foot radius, height over width."""
    vectors = np.atleast_2d(vectors)
    height, radii = vectors[:, 0], vectors[:, 1:]
    widest = radii.max(axis=1)
    return np.stack([height, radii[:, -1], widest, radii[:, 0], height / (2 * widest)], axis=1)


def _inner(r: np.ndarray, z: np.ndarray, wall: float) -> tuple[np.ndarray, np.ndarray]:
    """The outline ``wall`` inside the outer one (r, z), offset along its normal."""
    dr, dz = np.gradient(r), np.gradient(z)
    length = np.hypot(dr, dz)
    nr, nz = dz / length, -dr / length  # the outward normal of a profile going up
    return r - wall * nr, z - wall * nz


def turn(profile: Profile, wall: float = WALL_MM, floor: float = FLOOR_MM) -> trimesh.Trimesh:
    """The vessel as a closed solid: the outline foot to rim, across the lip, down the
    inside to the floor, turned about the Z axis (trimesh revolves the outline; it starts
    and ends on the axis, so the solid is watertight)."""
    r = np.asarray(profile.radii, dtype=np.float64)
    z = np.linspace(0.0, profile.height, HEIGHTS)
    # A finer outline than the stored radii, so the turned surface is smooth.
    fine = np.linspace(0.0, profile.height, HEIGHTS * 2)
    r = PchipInterpolator(z, r)(fine)
    ri, zi = _inner(r, fine, wall)
    # Where the outline bends inwards sharply the offset folds back on itself; keep only
    # the points that climb, so the inside never crosses itself.
    climbs = zi > np.maximum.accumulate(np.concatenate([[-np.inf], zi[:-1]]))
    ri, zi = ri[climbs], zi[climbs]
    keep = zi > floor
    if keep.sum() < 2 or keep.argmax() == 0:
        raise InputError(f"a vessel {profile.height:.0f} mm tall has no room inside its floor")
    first = int(keep.argmax())  # the inside meets the floor between first - 1 and first
    share = (floor - zi[first - 1]) / (zi[first] - zi[first - 1])
    at_floor = ri[first - 1] + share * (ri[first] - ri[first - 1])
    ri = np.maximum(np.concatenate([[at_floor], ri[keep]]), MIN_INNER_MM / 2)
    zi = np.minimum(np.concatenate([[floor], zi[keep]]), profile.height)
    outline = np.concatenate(
        [
            [[0.0, 0.0]],
            np.stack([r, fine], axis=1),
            np.stack([ri, zi], axis=1)[::-1],
            [[0.0, zi[0]]],
        ]
    )
    outline = _drop_repeats(outline)
    mesh = trimesh.creation.revolve(outline, sections=SECTIONS)
    mesh.merge_vertices()
    mesh.fix_normals()
    return mesh


def _drop_repeats(points: np.ndarray) -> np.ndarray:
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.linalg.norm(np.diff(points, axis=0), axis=1) > 1e-6
    return points[keep]
