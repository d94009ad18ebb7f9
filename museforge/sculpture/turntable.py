"""Lit, shaded previews of a mesh, drawn on the CPU: a z-buffered triangle rasteriser in numpy.

No display, OpenGL or GPU is needed. The camera orbits the mesh's bounding-box centre (Z up) at
a fixed distance set by the bounding sphere, so the mesh keeps its size as it turns; azimuth 0
looks from -Y towards +Y and azimuth grows counter-clockwise seen from above. Surfaces are
smooth-shaded (normals averaged across edges flatter than a crease angle, sharp edges kept),
lit by a sky/ground ambient, a key and a fill light and a soft specular, and a soft contact
shadow tints the ground under the object. Frames are drawn at twice the size and reduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from PIL import Image
from scipy import ndimage

from museforge.errors import InputError

FIELD_OF_VIEW_DEG = 28.0  # a modest perspective
FRAME_MARGIN = 1.1  # the bounding sphere fills the view up to this margin
SUPERSAMPLE = 2  # drawn at 2x, reduced with a Lanczos filter
CREASE_ANGLE_DEG = 40.0  # edges sharper than this stay sharp in the shading
MIN_SIZE = 8
MAX_SIZE = 4096

_SAMPLES_PER_CHUNK = 1 << 21  # candidate pixels handled at once (bounds memory)
_MAX_CORNER_PAIRS = 12_000_000  # above this, smooth normals use a cheaper approximation
_INSIDE_TOLERANCE = 1e-7  # barycentric slack so shared edges leave no pinholes
_SHADOW_GRID = 96  # cells across the contact-shadow map
_SHADOW_STRENGTH = 0.32

# Lights in camera space (x right, y up, z away from the viewer), pointing at the light.
_KEY_LIGHT = np.array([-0.55, 0.6, -0.58])
_FILL_LIGHT = np.array([0.75, 0.05, -0.45])
_RIM_LIGHT = np.array([0.2, 0.55, 0.8])
_KEY_STRENGTH, _FILL_STRENGTH, _RIM_STRENGTH = 0.78, 0.28, 0.22
_SKY_AMBIENT, _GROUND_AMBIENT = 0.30, 0.14
_SPECULAR_STRENGTH, _SPECULAR_POWER = 0.22, 36.0


@dataclass(frozen=True)
class _Scene:
    """What every frame of one mesh shares: geometry, shading normals, framing and shadow."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    face_normals: np.ndarray  # (F, 3)
    corner_normals: np.ndarray  # (F, 3, 3) shading normal at each corner of each face
    closed: bool  # a consistently wound, outward-facing volume: back faces can be culled
    centre: np.ndarray  # (3,) bounding-box centre, where the camera looks
    radius: float  # bounding-sphere radius about the centre
    ground_z: float
    shadow: np.ndarray  # (G, G) contact-shadow darkness in 0..1 over the ground
    shadow_origin: np.ndarray  # (2,) world x, y of shadow cell (0, 0)
    shadow_cell: float  # world size of one shadow cell


def render(
    mesh: trimesh.Trimesh,
    size: int = 256,
    azimuth: float = 0.0,
    elevation: float = 20.0,
    colour: tuple[int, int, int] = (200, 190, 175),
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Draw ``mesh`` lit and shaded from ``azimuth``/``elevation`` (degrees) as a size x size
    RGB image, framed by its bounding sphere so every view shows it at the same scale."""
    return _draw(_prepare(mesh), size, azimuth, elevation, colour, background)


def turntable(
    mesh: trimesh.Trimesh,
    frames: int = 24,
    size: int = 256,
    elevation: float = 20.0,
    **kw,
) -> list[Image.Image]:
    """One full revolution of ``mesh`` in ``frames`` evenly spaced views, all framed alike;
    ``kw`` (``colour``, ``background``) is passed on as in :func:`render`."""
    if isinstance(frames, bool) or not isinstance(frames, int | np.integer) or frames < 1:
        raise InputError(f"a turntable needs at least 1 frame, not {frames!r}")
    scene = _prepare(mesh)
    return [_draw(scene, size, 360.0 * index / frames, elevation, **kw) for index in range(frames)]


# --- scene preparation -------------------------------------------------------------------


def _prepare(mesh: trimesh.Trimesh) -> _Scene:
    """Check ``mesh`` and work out everything its frames share."""
    if len(mesh.faces) == 0:
        raise InputError("the mesh has no faces to render")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if not np.isfinite(vertices).all():
        raise InputError("the mesh has vertices that are not finite numbers; cannot render it")
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise InputError("the mesh has faces that refer to missing vertices; cannot render it")
    used = vertices[np.unique(faces)]
    low, high = used.min(axis=0), used.max(axis=0)
    centre = (low + high) / 2.0
    radius = float(np.sqrt(((used - centre) ** 2).sum(axis=1).max()))
    radius = radius if radius > 0 else 1.0
    face_normals = np.asarray(mesh.face_normals, dtype=np.float64)
    shadow, origin, cell = _contact_shadow(vertices, faces, centre, radius, float(low[2]))
    return _Scene(
        vertices=vertices,
        faces=faces,
        face_normals=face_normals,
        corner_normals=_corner_normals(faces, face_normals, np.asarray(mesh.face_angles)),
        closed=_is_closed_volume(mesh, vertices, faces),
        centre=centre,
        radius=radius,
        ground_z=float(low[2]),
        shadow=shadow,
        shadow_origin=origin,
        shadow_cell=cell,
    )


def _corner_normals(faces: np.ndarray, face_normals: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Shading normal at each face corner: the angle-weighted mean of the normals of the faces
    around that vertex that meet this face at less than the crease angle."""
    vertex_of = faces.ravel()
    face_of = np.repeat(np.arange(len(faces)), 3)
    own_normal = face_normals[face_of]
    weight = angles.ravel()
    vertex_count = int(vertex_of.max()) + 1
    vertex_sum = np.stack(
        [np.bincount(vertex_of, weight * own_normal[:, k], vertex_count) for k in range(3)], axis=1
    )
    smooth = _normalised(vertex_sum[vertex_of], own_normal)
    # Where every face at a vertex is within half the crease angle of the vertex normal, all
    # of them are within the crease angle of each other: the vertex normal is the answer.
    deviation = np.ones(vertex_count)
    np.minimum.at(deviation, vertex_of, (smooth * own_normal).sum(axis=1))
    creased = deviation < np.cos(np.radians(CREASE_ANGLE_DEG / 2.0))
    corners = np.flatnonzero(creased[vertex_of])
    if corners.size == 0:
        return smooth.reshape(-1, 3, 3)

    # At creased vertices, pair each corner with every corner of the same vertex.
    order = corners[np.argsort(vertex_of[corners], kind="stable")]
    grouped = vertex_of[order]
    start = np.searchsorted(grouped, grouped, side="left")
    width = np.searchsorted(grouped, grouped, side="right") - start
    total = int(width.sum())
    cos_crease = np.cos(np.radians(CREASE_ANGLE_DEG))
    if total > _MAX_CORNER_PAIRS:  # huge fans: keep the vertex normal unless it is too far off
        far = (smooth[corners] * own_normal[corners]).sum(axis=1) < cos_crease
        smooth[corners[far]] = own_normal[corners[far]]
        return smooth.reshape(-1, 3, 3)
    owner = np.repeat(np.arange(order.size), width)
    partner = order[start[owner] + np.arange(total) - np.repeat(np.cumsum(width) - width, width)]
    other = own_normal[partner]
    alike = (own_normal[order[owner]] * other).sum(axis=1) >= cos_crease
    pair_weight = np.where(alike, weight[partner], 0.0)
    summed = np.stack(
        [np.bincount(owner, pair_weight * other[:, k], order.size) for k in range(3)], axis=1
    )
    smooth[order] = _normalised(summed, own_normal[order])
    return smooth.reshape(-1, 3, 3)


def _is_closed_volume(mesh: trimesh.Trimesh, vertices: np.ndarray, faces: np.ndarray) -> bool:
    """Watertight, consistently wound and facing outwards: its back faces are never seen."""
    if not (mesh.is_watertight and mesh.is_winding_consistent):
        return False
    v0, v1, v2 = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float((v0 * np.cross(v1, v2)).sum()) > 0.0


def _contact_shadow(
    vertices: np.ndarray, faces: np.ndarray, centre: np.ndarray, radius: float, ground_z: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """A soft darkness map on the ground: the underside of the mesh seen from below, darker
    where it is close to the ground, blurred."""
    extent = 1.6 * radius
    cell = 2.0 * extent / _SHADOW_GRID
    origin = centre[:2] - extent
    screen = (vertices[faces][:, :, :2] - origin) / cell
    heights = vertices[faces][:, :, 2] - ground_z
    winner, coef = _rasterise(screen, -heights, _SHADOW_GRID, _SHADOW_GRID)
    shadow = np.zeros(_SHADOW_GRID * _SHADOW_GRID)
    covered = np.flatnonzero(winner >= 0)
    if covered.size:
        weights = _barycentrics(coef, winner[covered], covered, _SHADOW_GRID)
        height = (weights * heights[winner[covered]]).sum(axis=1)
        shadow[covered] = np.exp(-height / (0.35 * radius))
    shadow = shadow.reshape(_SHADOW_GRID, _SHADOW_GRID)
    shadow = 0.6 * ndimage.gaussian_filter(shadow, 2.0) + 0.4 * ndimage.gaussian_filter(shadow, 6.0)
    return np.clip(shadow, 0.0, 1.0), origin, cell


# --- drawing -----------------------------------------------------------------------------


def _draw(
    scene: _Scene,
    size: int,
    azimuth: float,
    elevation: float,
    colour: tuple[int, int, int] = (200, 190, 175),
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise InputError(f"a preview size must be a whole number of pixels, not {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"a preview size must be {MIN_SIZE}..{MAX_SIZE} pixels, not {size!r}")
    if not (np.isfinite(azimuth) and np.isfinite(elevation)):
        raise InputError(f"a view angle must be a finite number, not {azimuth!r}, {elevation!r}")
    base = _linear(_rgb(colour, "colour"))
    back = _rgb(background, "background").astype(np.float64)
    side = size * SUPERSAMPLE

    az, el = np.radians(azimuth), np.radians(elevation)
    towards_eye = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
    right = np.array([np.cos(az), np.sin(az), 0.0])
    forward = -towards_eye
    up = np.cross(right, forward)
    rotation = np.stack([right, up, forward])  # world -> camera
    half_fov = np.radians(FIELD_OF_VIEW_DEG) / 2.0
    distance = FRAME_MARGIN * scene.radius / np.sin(half_fov)
    eye = scene.centre + distance * towards_eye
    focal = (side / 2.0) / np.tan(half_fov)

    faces = scene.faces
    facing = (scene.face_normals * (eye - scene.vertices[faces[:, 0]])).sum(axis=1)
    keep = np.flatnonzero(facing > 0) if scene.closed else np.arange(len(faces))
    camera = (scene.vertices - eye) @ rotation.T  # camera coordinates; z > 0 in front
    depth = camera[:, 2]
    screen_v = np.stack(
        [side / 2.0 + focal * camera[:, 0] / depth, side / 2.0 - focal * camera[:, 1] / depth],
        axis=1,
    )
    tri_faces = faces[keep]
    screen = screen_v[tri_faces]
    inv_depth = 1.0 / depth[tri_faces]
    winner, coef = _rasterise(screen, inv_depth, side, side)

    image = np.empty((side * side, 3))
    image[:] = back
    _tint_ground(image, np.flatnonzero(winner < 0), scene, eye, rotation, focal, side)
    covered = np.flatnonzero(winner >= 0)
    if covered.size:
        tri = winner[covered]
        weights = _barycentrics(coef, tri, covered, side) * inv_depth[tri]
        weights /= weights.sum(axis=1, keepdims=True)  # perspective-correct
        corner = scene.corner_normals[keep[tri]]
        normal = np.einsum("nk,nkj->nj", weights, corner)
        normal = _normalised(normal, scene.face_normals[keep[tri]])
        sign = np.where(facing[keep[tri]] < 0, -1.0, 1.0)  # two-sided: light the visible side
        normal = (normal * sign[:, None]) @ rotation.T
        view = _view_directions(covered, side, focal)
        shade = _shade(normal, view, rotation @ np.array([0.0, 0.0, 1.0]))
        lit = base * shade[0][:, None] + shade[1][:, None]
        image[covered] = _srgb(lit) * 255.0
    picture = Image.fromarray(
        np.clip(image.reshape(side, side, 3) + 0.5, 0, 255).astype(np.uint8), "RGB"
    )
    return picture.resize((size, size), Image.Resampling.LANCZOS)


def _shade(
    normal: np.ndarray, view: np.ndarray, world_up: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(diffuse factor, specular term) for unit camera-space normals and view directions."""
    hemisphere = 0.5 + 0.5 * (normal @ world_up)
    diffuse = _GROUND_AMBIENT + (_SKY_AMBIENT - _GROUND_AMBIENT) * hemisphere
    specular = np.zeros(len(normal))
    for direction, strength, shine in (
        (_KEY_LIGHT, _KEY_STRENGTH, 1.0),
        (_FILL_LIGHT, _FILL_STRENGTH, 0.3),
        (_RIM_LIGHT, _RIM_STRENGTH, 0.0),
    ):
        light = direction / np.linalg.norm(direction)
        diffuse = diffuse + strength * np.clip(normal @ light, 0.0, None)
        if shine:
            halfway = _normalised(view + light, view)
            specular += (
                shine * np.clip((normal * halfway).sum(axis=1), 0.0, None) ** _SPECULAR_POWER
            )
    return diffuse, _SPECULAR_STRENGTH * specular


def _view_directions(pixels: np.ndarray, side: int, focal: float) -> np.ndarray:
    """Unit vectors from the surface seen at each pixel back towards the eye (camera space)."""
    x = (pixels % side + 0.5 - side / 2.0) / focal
    y = -(pixels // side + 0.5 - side / 2.0) / focal
    rays = np.stack([x, y, np.ones_like(x)], axis=1)
    return -rays / np.linalg.norm(rays, axis=1, keepdims=True)


def _tint_ground(
    image: np.ndarray,
    pixels: np.ndarray,
    scene: _Scene,
    eye: np.ndarray,
    rotation: np.ndarray,
    focal: float,
    side: int,
) -> None:
    """Darken background ``pixels`` where they see the contact shadow on the ground."""
    if eye[2] <= scene.ground_z or pixels.size == 0:  # from below the ground: nothing to see
        return
    rays = -_view_directions(pixels, side, focal) @ rotation  # world space
    falling = rays[:, 2] < -1e-9
    travel = np.where(falling, (scene.ground_z - eye[2]) / np.where(falling, rays[:, 2], -1.0), 0)
    hit = eye[:2] + travel[:, None] * rays[:, :2]
    cells = (hit - scene.shadow_origin) / scene.shadow_cell - 0.5
    darkness = ndimage.map_coordinates(
        scene.shadow, [cells[:, 1], cells[:, 0]], order=1, mode="constant", cval=0.0
    )
    darkness = np.where(falling, darkness, 0.0)
    image[pixels] *= (1.0 - _SHADOW_STRENGTH * darkness)[:, None]


# --- rasterisation -----------------------------------------------------------------------


def _edge_coefficients(screen: np.ndarray) -> np.ndarray:
    """(F, 3, 3): barycentric weight i of a point (x, y) is ``A x + B y + C`` with row i =
    (A, B, C); degenerate triangles get all-zero rows."""
    a = screen[:, [1, 2, 0]]
    b = screen[:, [2, 0, 1]]
    v0, v1, v2 = screen[:, 0], screen[:, 1], screen[:, 2]
    area = (v1[:, 0] - v0[:, 0]) * (v2[:, 1] - v0[:, 1]) - (v1[:, 1] - v0[:, 1]) * (
        v2[:, 0] - v0[:, 0]
    )
    usable = np.abs(area) > 1e-12
    scale = np.where(usable, 1.0 / np.where(usable, area, 1.0), 0.0)[:, None]
    coef = np.stack(
        [
            (a[:, :, 1] - b[:, :, 1]) * scale,
            (b[:, :, 0] - a[:, :, 0]) * scale,
            (a[:, :, 0] * b[:, :, 1] - a[:, :, 1] * b[:, :, 0]) * scale,
        ],
        axis=2,
    )
    return coef


def _barycentrics(coef: np.ndarray, tri: np.ndarray, pixels: np.ndarray, width: int) -> np.ndarray:
    """Screen-space barycentric weights of ``pixels`` inside their triangles ``tri``, from the
    edge coefficients that :func:`_rasterise` returns."""
    coef = coef[tri]
    x = (pixels % width + 0.5)[:, None]
    y = (pixels // width + 0.5)[:, None]
    weights = np.clip(coef[:, :, 0] * x + coef[:, :, 1] * y + coef[:, :, 2], 0.0, 1.0)
    total = weights.sum(axis=1, keepdims=True)
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / 3.0)


def _rasterise(
    screen: np.ndarray, nearness: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered rasterisation of triangles given in pixel coordinates ``screen`` (F, 3, 2),
    with a per-corner ``nearness`` (F, 3) that is linear in screen space (e.g. 1/depth; larger
    wins). Returns, per pixel (row-major), the index of the visible triangle or -1, and the
    triangles' edge coefficients (see :func:`_edge_coefficients`).

    Each triangle is cut into pixel rows; each row's span of covered pixel centres comes from
    the three edge functions, so only covered pixels are ever generated."""
    coef = _edge_coefficients(screen)
    lo = np.ceil(screen.min(axis=1) - 0.5)
    hi = np.floor(screen.max(axis=1) - 0.5)
    x_lo = np.clip(lo[:, 0], 0, width).astype(np.int64)
    x_hi = np.clip(hi[:, 0], -1, width - 1).astype(np.int64)
    y_lo = np.clip(lo[:, 1], 0, height).astype(np.int64)
    y_hi = np.clip(hi[:, 1], -1, height - 1).astype(np.int64)
    rows_per_tri = np.where((coef != 0).any(axis=(1, 2)) & (x_hi >= x_lo), y_hi - y_lo + 1, 0)
    rows_per_tri = np.maximum(rows_per_tri, 0)
    row_tri = np.repeat(np.arange(len(screen)), rows_per_tri)
    row_y = (
        y_lo[row_tri]
        + np.arange(len(row_tri))
        - np.repeat(np.cumsum(rows_per_tri) - rows_per_tri, rows_per_tri)
    )

    # Span of pixel centres x + 0.5 where A x + (B y + C) >= -tolerance for all three edges.
    row_coef = coef[row_tri]
    slope = row_coef[:, :, 0]
    offset = row_coef[:, :, 1] * (row_y + 0.5)[:, None] + row_coef[:, :, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (-_INSIDE_TOLERANCE - offset) / slope
    left = np.where(slope > 0, bound, -np.inf).max(axis=1)
    right = np.where(slope < 0, bound, np.inf).min(axis=1)
    flat_outside = ((slope == 0) & (offset < -_INSIDE_TOLERANCE)).any(axis=1)
    start = np.maximum(np.ceil(np.clip(left, -2.0, width + 2.0) - 0.5), x_lo[row_tri])
    stop = np.minimum(np.floor(np.clip(right, -2.0, width + 2.0) - 0.5), x_hi[row_tri])
    counts = np.where(flat_outside, 0, np.maximum(stop - start + 1, 0)).astype(np.int64)
    start = start.astype(np.int64)

    zbuffer = np.full(width * height, -np.inf)
    winner = np.full(width * height, -1, dtype=np.int64)
    ends = np.cumsum(counts)
    first_row = 0
    while first_row < len(counts):
        base = ends[first_row] - counts[first_row]
        last_row = int(np.searchsorted(ends, base + _SAMPLES_PER_CHUNK, side="right"))
        last_row = max(last_row, first_row + 1)
        rows = np.arange(first_row, last_row)
        row_counts = counts[rows]
        sample_row = np.repeat(rows, row_counts)
        if sample_row.size:
            step = np.arange(sample_row.size) - np.repeat(
                ends[rows] - row_counts - base, row_counts
            )
            x = start[sample_row] + step
            y = row_y[sample_row]
            tri = row_tri[sample_row]
            c = coef[tri]
            xc, yc = (x + 0.5)[:, None], (y + 0.5)[:, None]
            weights = np.clip(c[:, :, 0] * xc + c[:, :, 1] * yc + c[:, :, 2], 0.0, 1.0)
            near = (weights * nearness[tri]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-12)
            pixel = y * width + x
            np.maximum.at(zbuffer, pixel, near)
            won = near >= zbuffer[pixel]
            winner[pixel[won]] = tri[won]
        first_row = last_row
    return winner, coef


# --- colour helpers ----------------------------------------------------------------------


def _rgb(value: tuple[int, int, int], name: str) -> np.ndarray:
    rgb = np.asarray(value)
    if (
        rgb.shape != (3,)
        or not np.isfinite(rgb.astype(float)).all()
        or (rgb < 0).any()
        or (rgb > 255).any()
    ):
        raise InputError(f"the preview {name} must be three numbers 0..255, not {value!r}")
    return rgb.astype(np.float64)


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = rgb / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def _normalised(vectors: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=1, keepdims=True)
    ok = length > 1e-12
    return np.where(ok, vectors / np.where(ok, length, 1.0), fallback)
