"""Mesh files in and out: STL, OBJ, PLY, OFF and glTF read through trimesh with every check
a user file needs, atomic writes, and scaling to a printing size.

Inside museforge a mesh is in millimetres with Z up. STL, OBJ, PLY and OFF carry no units
or axes, so they are read and written as they are (millimetres, Z up, as 3D printing
expects). glTF is defined as metres with Y up, so .glb/.gltf files are converted on the
way in and out. Only geometry is kept: colours, textures and materials are dropped.

Nothing outside the file is ever opened: OBJ material libraries are not followed and a
.gltf whose buffers live in other files is refused (a .glb, or a .gltf with its buffers
embedded as data: URIs, is fine).
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import trimesh
from trimesh.path.path import Path as LinePath  # trimesh.path exports only its subclasses

from museforge.core.atomic import atomic_write_bytes
from museforge.core.media import MAX_MESH_BYTES, MAX_MESH_FACES, MESH_SUFFIXES, one_line
from museforge.errors import InputError

WRITE_SUFFIXES = (".glb", ".obj", ".ply", ".stl")

# glTF (Y up, metres) -> museforge (Z up, millimetres): a quarter turn about X and ×1000.
_FROM_GLTF = np.array(
    [[1000.0, 0, 0, 0], [0, 0, -1000.0, 0], [0, 1000.0, 0, 0], [0, 0, 0, 1]], dtype=np.float64
)
_TO_GLTF = np.linalg.inv(_FROM_GLTF)
_STL_HEADER = 84  # 80 bytes of text, then the face count as uint32
_STL_FACE = 50  # normal, three corners (12 float32) and a uint16 attribute


def _suffixes() -> str:
    return ", ".join(sorted(MESH_SUFFIXES))


def _check_suffix(label: str, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise InputError(f"{label} is not a mesh file (use one of {_suffixes()})")
    return suffix


def _check_size(label: str, size: int) -> None:
    if size > MAX_MESH_BYTES:
        raise InputError(f"{label} is too large ({size:,} bytes, limit {MAX_MESH_BYTES:,})")


def _check_stl_header(label: str, data: bytes) -> None:
    """Refuse a binary STL whose header claims too many faces, before it is parsed."""
    if len(data) < _STL_HEADER:
        return  # too short to be binary; the ASCII reader will judge it
    count = int.from_bytes(data[80:84], "little")
    binary_size = _STL_HEADER + _STL_FACE * count
    if data.lstrip()[:5].lower() == b"solid" and len(data) != binary_size:
        return  # ASCII STL: its faces are counted once parsed
    if len(data) != binary_size:
        room = (len(data) - _STL_HEADER) // _STL_FACE
        raise InputError(
            f"{label} cannot be read as a mesh (its binary STL header claims {count:,} "
            f"faces, the file has room for {room:,})"
        )
    if count > MAX_MESH_FACES:
        raise InputError(
            f"{label} has too many faces ({count:,} in its header, limit {MAX_MESH_FACES:,})"
        )


def _check_gltf_buffers(label: str, suffix: str, data: bytes) -> None:
    """Refuse glTF whose buffers live in other files (they are never opened)."""
    header = data
    if suffix == ".glb":
        if len(data) < 20 or data[:4] != b"glTF":
            return  # not a GLB; trimesh says why
        header = data[20 : 20 + int.from_bytes(data[12:16], "little")]
    try:
        tree = json.loads(header)
    except ValueError as err:  # also bad UTF-8
        reason = f"bad glTF JSON: {one_line(err)}"
        raise InputError(f"{label} cannot be read as a mesh ({reason})") from None
    buffers = tree.get("buffers") if isinstance(tree, dict) else None
    buffers = buffers if isinstance(buffers, list) else []
    uris = [b.get("uri") for b in buffers if isinstance(b, dict)]
    outside = [u for u in uris if isinstance(u, str) and not u.startswith("data:")]
    if outside:
        raise InputError(
            f"{label} keeps its data in another file ({one_line(outside[0])}); only "
            "self-contained glTF can be read: export it as .glb"
        )


@contextmanager
def _quiet_trimesh() -> Iterator[None]:
    """Keep trimesh's warnings about a user's file (with tracebacks) off the console: what
    matters reaches the user as one InputError line."""
    logger = logging.getLogger("trimesh")
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was


def _describe(geometry: list[object]) -> str:
    if any(isinstance(g, trimesh.PointCloud) for g in geometry):
        return "holds only a point cloud, not a surface mesh"
    if any(isinstance(g, LinePath) for g in geometry):
        return "holds only lines, not a surface mesh"
    return "is empty (it has no faces)"


def _bake(label: str, scene: trimesh.Scene) -> trimesh.Trimesh:
    """Every mesh instance of ``scene`` in world coordinates, concatenated (geometry only),
    its face count checked before anything is copied."""
    instances = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geometry = scene.geometry.get(name)
        if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces):
            instances.append((np.asarray(transform, dtype=np.float64), geometry))
    faces_total = sum(len(g.faces) for _, g in instances)
    if faces_total > MAX_MESH_FACES:
        raise InputError(f"{label} has too many faces ({faces_total:,}, limit {MAX_MESH_FACES:,})")
    if not instances:
        raise InputError(f"{label} {_describe(list(scene.geometry.values()))}")
    vertices, faces, offset = [], [], 0
    for transform, geometry in instances:
        v = np.asarray(geometry.vertices, dtype=np.float64)
        f = np.asarray(geometry.faces, dtype=np.int64)
        # a malformed file can leave trimesh with vertices that are not 3-D points
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
            raise InputError(f"{label} cannot be read as a mesh (its vertices are not 3-D points)")
        if f.min() < 0 or f.max() >= len(v):
            raise InputError(f"{label} cannot be read as a mesh (a face names a missing vertex)")
        vertices.append(trimesh.transform_points(v, transform))
        # a mirroring transform turns faces inside out unless their winding is reversed
        faces.append((f[:, ::-1] if np.linalg.det(transform[:3, :3]) < 0 else f) + offset)
        offset += len(v)
    all_vertices = np.concatenate(vertices)
    if not np.isfinite(all_vertices).all():
        raise InputError(f"{label} has vertices that are not finite numbers (NaN or infinity)")
    return trimesh.Trimesh(all_vertices, np.concatenate(faces), process=False)


def mesh_from_bytes(name: str, data: bytes, what: str = "mesh") -> trimesh.Trimesh:
    """The mesh in ``data``, its format picked by the suffix of ``name``: every scene
    instance concatenated into one mesh, duplicate vertices merged, in millimetres, Z up.

    Raises InputError naming ``what`` and ``name`` for a wrong suffix, too many bytes or
    faces, a file that cannot be parsed, a point cloud or lines, an empty mesh, vertices
    that are not finite, or glTF that refers to other files.
    """
    label = f"{what} '{name}'"
    suffix = _check_suffix(label, name)
    _check_size(label, len(data))
    if suffix == ".stl":
        _check_stl_header(label, data)
    gltf = suffix in (".glb", ".gltf")
    if gltf:
        _check_gltf_buffers(label, suffix, data)
    try:
        # a BytesIO has no name, so trimesh has no resolver and opens no other file;
        # materials are skipped (only geometry is kept), so no texture is even looked for
        with _quiet_trimesh():
            scene = trimesh.load_scene(
                io.BytesIO(data), file_type=suffix[1:], process=False, skip_materials=True
            )
    # Parsers of untrusted files raise many types; every one of them means "unreadable".
    except Exception as err:
        raise InputError(f"{label} cannot be read as a mesh ({one_line(err)})") from None
    mesh = _bake(label, scene)
    if gltf:
        mesh.apply_transform(_FROM_GLTF)
    mesh.merge_vertices()
    return mesh


def read_mesh(path: str | Path, what: str = "mesh file") -> trimesh.Trimesh:
    """The mesh in a user's file (see :func:`mesh_from_bytes`); InputError names the file
    (``mesh file 'x.stl' cannot be read as a mesh (…)``), ``what`` names its role."""
    file = Path(path).expanduser()
    label = f"{what} '{path}'"
    if not file.exists():
        raise InputError(f"{label} does not exist")
    if file.is_dir():
        raise InputError(f"{label} is a folder, not a mesh")
    _check_suffix(label, file.name)
    size = file.stat().st_size
    _check_size(label, size)
    try:
        with file.open("rb") as fh:
            # read(n) allocates n bytes up front, so not MAX_MESH_BYTES for a small file;
            # one byte more than stat() saw lets a file that grew since be caught below
            data = fh.read(size + 1)
    except OSError as err:
        raise InputError(f"{label} cannot be opened ({one_line(err.strerror or err)})") from None
    return mesh_from_bytes(str(path), data, what)


def check_mesh_bytes(name: str, data: bytes) -> None:
    """Raise InputError naming the upload unless ``data`` is a usable mesh
    (``mesh 'x.stl' has too many faces (…)``)."""
    mesh_from_bytes(name, data)


def write_mesh(mesh: trimesh.Trimesh, path: str | Path) -> Path:
    """Write ``mesh`` atomically in the format of the suffix: .stl (binary), .obj, .ply
    (binary) or .glb (converted to glTF's metres, Y up). Geometry only."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputError(
            f"cannot write a mesh to '{path}' (use one of {', '.join(WRITE_SUFFIXES)})"
        )
    plain = trimesh.Trimesh(mesh.vertices.copy(), mesh.faces.copy(), process=False)
    if suffix == ".glb":
        plain.apply_transform(_TO_GLTF)
        # vertex normals: a viewer shades the surface smooth, not in facets
        data = plain.export(file_type="glb", include_normals=True)
    elif suffix == ".obj":
        data = plain.export(file_type="obj", include_normals=False, include_texture=False)
    else:
        data = plain.export(file_type=suffix[1:])
    return atomic_write_bytes(path, data.encode() if isinstance(data, str) else data)


def normalised(mesh: trimesh.Trimesh, size_mm: float) -> trimesh.Trimesh:
    """A copy scaled so its largest extent is ``size_mm``, centred on x = y = 0 and
    standing on z = 0."""
    if not (isinstance(size_mm, int | float) and math.isfinite(size_mm) and size_mm > 0):
        raise InputError(f"size must be a positive number of millimetres, not {size_mm!r}")
    extent = float(mesh.extents.max()) if len(mesh.faces) else 0.0
    if not extent > 0:
        raise InputError("the mesh has no size to scale (it is empty or a single point)")
    out = mesh.copy()
    out.apply_scale(size_mm / extent)
    low, high = out.bounds
    out.apply_translation([-(low[0] + high[0]) / 2, -(low[1] + high[1]) / 2, -low[2]])
    return out
