"""A picture as a printable solid: a bas-relief (bright stands high) or a lithophane (dark is
thick, for a backlit print), with an optional flat frame.

The solid is one closed, consistently wound mesh in millimetres: the top is the height field
(two triangles per grid cell), four vertical walls run down to z = 0, and the flat bottom is a
fan from its centre to the walls' own bottom vertices, so no edge has a T-junction. The print
is ``width_mm`` wide along X *including* the frame; Y follows the picture's aspect ratio plus
the frame. The picture reads the right way round seen from above (+Z): its first row lies at
the largest Y, its first column at the smallest X.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh
from scipy import ndimage
from skimage.restoration import denoise_bilateral
from skimage.transform import resize

from museforge.core.media import LUMA
from museforge.errors import InputError, SettingError

MODES = ("relief", "lithophane")
EDGES = ("soft", "keep", "sharp")
# Thickness under the lowest point (base_mm) and height of the picture (depth_mm) when left
# out: a relief stands on a 2 mm plate; a lithophane is 0.8..3 mm, typical for a backlit print.
DEFAULT_BASE_MM = {"relief": 2.0, "lithophane": 0.8}
DEFAULT_DEPTH_MM = {"relief": 4.0, "lithophane": 2.2}
WIDTH_RANGE_MM = (5.0, 1000.0)
MAX_SMOOTH = 10.0  # Gaussian sigma in samples; the bilateral window grows with it
SAMPLES_RANGE = (2, 4000)
EDGE_COLOUR_SIGMA = 0.1  # "keep": luminance difference (0..1) that still counts as similar


def relief(
    picture: np.ndarray,
    *,
    width_mm: float = 100.0,
    mode: str = "relief",
    depth_mm: float | None = None,
    base_mm: float | None = None,
    border_mm: float = 3.0,
    smooth: float = 1.0,
    edges: str = "soft",
    invert: bool = False,
    max_samples: int = 400,
    what: str = "picture",
) -> trimesh.Trimesh:
    """A closed solid whose top is ``picture`` as a height field (see the module docstring).

    ``picture``: float32 H×W or H×W×C (C = 1, 3 or straight RGBA 4) in 0..1, as
    :func:`museforge.core.media.read_image` returns it; transparency counts as white.
    ``mode``: "relief" (height = base + depth × luminance, bright stands high) or
    "lithophane" (thickness = base + depth × darkness, dark is thick); ``invert`` flips
    either. ``depth_mm``/``base_mm`` default to 4/2 mm for a relief, 2.2/0.8 mm for a
    lithophane. ``border_mm``: a flat frame at full height around the picture (0 = none),
    inside ``width_mm``. ``smooth``: Gaussian sigma in samples; ``edges``: "soft" (Gaussian),
    "keep" (edge-preserving bilateral filter) or "sharp" (no smoothing at all).
    ``max_samples``: the longest side is resampled to at most this many samples.
    ``what`` names the picture in error messages. Raises InputError for bad settings or
    non-finite pixels; an empty or one-grey picture gives a flat solid.
    """
    _check_setting("width_mm", width_mm, *WIDTH_RANGE_MM)
    depth, base = _check_depth_base(mode, depth_mm, base_mm)
    _check_setting("border_mm", border_mm, 0.0, width_mm)
    picture_mm = width_mm - 2.0 * border_mm
    if picture_mm < 1.0:
        raise SettingError(
            f"border_mm {border_mm:g} leaves less than 1 mm of width_mm {width_mm:g} "
            "for the picture",
            "border_mm",
        )
    heights = height_map(
        picture,
        mode=mode,
        depth_mm=depth,
        base_mm=base,
        smooth=smooth,
        edges=edges,
        invert=invert,
        max_samples=max_samples,
        what=what,
    )
    rows, cols = heights.shape
    aspect = _aspect(picture)
    xs = _axis(cols, picture_mm, border_mm)
    ys = _axis(rows, picture_mm * aspect, border_mm)
    if border_mm > 0:  # frame: two rings (inner edge, outer edge) at full height
        grid = np.pad(heights, 2, constant_values=base + depth)
    else:  # picture edges: the outermost samples carried out to the edge of the print
        grid = np.pad(heights, 1, mode="edge")
    xs -= (xs[0] + xs[-1]) / 2.0
    ys -= (ys[0] + ys[-1]) / 2.0
    # First picture row at the largest Y: reversing the rows makes row index grow with Y.
    return height_field_solid(xs, ys, grid[::-1])


def height_map(
    picture: np.ndarray,
    *,
    mode: str = "relief",
    depth_mm: float | None = None,
    base_mm: float | None = None,
    smooth: float = 1.0,
    edges: str = "soft",
    invert: bool = False,
    max_samples: int = 400,
    what: str = "picture",
) -> np.ndarray:
    """The top surface's height in mm at each sample (rows × cols, float64), picture rows
    first; the settings are those of :func:`relief`."""
    depth, base = _check_depth_base(mode, depth_mm, base_mm)
    if edges not in EDGES:
        raise SettingError(f"edges must be one of {', '.join(EDGES)} (got {edges!r})", "edges")
    _check_setting("smooth", smooth, 0.0, MAX_SMOOTH)
    if isinstance(max_samples, bool) or not isinstance(max_samples, int | np.integer):
        raise SettingError(
            f"max_samples must be a whole number (got {max_samples!r})", "max_samples"
        )
    _check_setting("max_samples", max_samples, *SAMPLES_RANGE)
    luma = _resampled(_luminance(picture, what), int(max_samples))
    if edges == "soft" and smooth > 0:
        luma = ndimage.gaussian_filter(luma, sigma=smooth, mode="nearest")
    elif edges == "keep" and smooth > 0 and min(luma.shape) > 1:
        luma = denoise_bilateral(
            luma, sigma_color=EDGE_COLOUR_SIGMA, sigma_spatial=smooth, mode="edge"
        )
    level = np.clip(luma, 0.0, 1.0)
    if (mode == "lithophane") != invert:  # lithophane: dark is thick
        level = 1.0 - level
    return base + depth * level


def height_field_solid(xs: np.ndarray, ys: np.ndarray, heights: np.ndarray) -> trimesh.Trimesh:
    """A closed solid over the rectangle of ``xs`` × ``ys`` (both strictly increasing, at
    least two each): top at ``heights`` (len(ys) × len(xs), all > 0), walls down to z = 0 and
    a flat bottom fanned from its centre. Checked watertight, consistently wound and of
    positive volume."""
    ny, nx = heights.shape
    gx, gy = np.meshgrid(xs, ys)
    top = np.column_stack([gx.ravel(), gy.ravel(), heights.ravel()])
    n_top = nx * ny

    # Top: cell (j, i) has corners a=(j,i), b=(j,i+1), c=(j+1,i+1), d=(j+1,i), counter-
    # clockwise seen from above; triangles abc and acd face up.
    index = np.arange(n_top).reshape(ny, nx)
    a = index[:-1, :-1].ravel()
    b = index[:-1, 1:].ravel()
    c = index[1:, 1:].ravel()
    d = index[1:, :-1].ravel()
    top_faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])

    # The top's boundary as a counter-clockwise loop seen from above, no corner repeated.
    ring = np.concatenate([index[0, :-1], index[:-1, -1], index[-1, :0:-1], index[:0:-1, 0]])
    n_ring = len(ring)
    bottom = top[ring].copy()
    bottom[:, 2] = 0.0
    floor_ring = n_top + np.arange(n_ring)
    centre = n_top + n_ring
    t0, t1 = ring, np.roll(ring, -1)
    b0, b1 = floor_ring, np.roll(floor_ring, -1)
    walls = np.concatenate([np.column_stack([b0, b1, t1]), np.column_stack([b0, t1, t0])])
    floor = np.column_stack([np.full(n_ring, centre), b1, b0])  # clockwise from above: down

    middle = [(xs[0] + xs[-1]) / 2.0, (ys[0] + ys[-1]) / 2.0, 0.0]
    vertices = np.concatenate([top, bottom, [middle]])
    faces = np.concatenate([top_faces, walls, floor])
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    if not (mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0):
        raise RuntimeError("relief mesh is not a closed, outward-facing solid")  # a bug
    return mesh


def _check_setting(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise SettingError(f"{name} must be a number (got {value!r})", name)
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingError(f"{name} must be {low:g}..{high:g} (got {value!r})", name)


def _check_depth_base(
    mode: str, depth_mm: float | None, base_mm: float | None
) -> tuple[float, float]:
    """(depth, base) in mm for ``mode``, the defaults filled in; SettingError when refused."""
    if mode not in MODES:
        raise SettingError(f"mode must be one of {', '.join(MODES)} (got {mode!r})", "mode")
    depth = DEFAULT_DEPTH_MM[mode] if depth_mm is None else depth_mm
    base = DEFAULT_BASE_MM[mode] if base_mm is None else base_mm
    _check_setting("depth_mm", depth, 0.0, 100.0)
    _check_setting("base_mm", base, 0.1, 100.0)  # the walls need some height everywhere
    return float(depth), float(base)


def _luminance(picture: np.ndarray, what: str) -> np.ndarray:
    """ITU-R 601 luminance (float64, H×W) of a picture; RGBA composited on white; an empty
    picture is one white sample."""
    arr = np.asarray(picture)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{what} has pixels of type {arr.dtype}, not numbers")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise InputError(f"{what} has shape {arr.shape}; expected H×W or H×W×C, C = 1, 3 or 4")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{what} has non-finite pixel values (NaN or infinity)")
    if arr.size == 0:
        return np.ones((1, 1))
    if arr.ndim == 2:
        return arr
    if arr.shape[2] == 1:
        return arr[..., 0]
    luma = arr[..., :3] @ np.asarray(LUMA)
    if arr.shape[2] == 4:
        alpha = np.clip(arr[..., 3], 0.0, 1.0)
        luma = luma * alpha + (1.0 - alpha)
    return luma


def _aspect(picture: np.ndarray) -> float:
    """Height over width of the picture as given (1 for an empty one)."""
    rows, cols = np.shape(picture)[:2]
    return rows / cols if rows and cols else 1.0


def _resampled(luma: np.ndarray, max_samples: int) -> np.ndarray:
    """``luma`` with its longest side at most ``max_samples``, aspect kept (anti-aliased)."""
    rows, cols = luma.shape
    scale = max_samples / max(rows, cols)
    if scale >= 1.0:
        return luma
    shape = (max(1, round(rows * scale)), max(1, round(cols * scale)))
    return resize(luma, shape, order=1, anti_aliasing=True, preserve_range=True)


def _axis(samples: int, length: float, border: float) -> np.ndarray:
    """Grid coordinates along one axis from 0: the samples at cell centres over ``length``,
    the picture's two edges and, with a border, the frame's outer edges."""
    centres = (np.arange(samples) + 0.5) * (length / samples)
    inner = np.concatenate([[0.0], centres, [length]])
    if border <= 0:
        return inner
    return np.concatenate([[-border], inner, [length + border]])
