"""The CPU preview renderer: framing, shading, depth order, back faces and turntables."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from museforge.errors import InputError
from museforge.sculpture import turntable as tt

RED = (230, 30, 30)  # a saturated colour tells the object from the grey-tinted ground


def object_mask(image) -> np.ndarray:
    """Pixels of the red object: the background and its shadow stay neutral grey."""
    rgb = np.asarray(image).astype(int)
    return rgb[:, :, 0] - rgb[:, :, 1] > 40


def sphere(radius: float = 20.0, at=(0.0, 0.0)) -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    mesh.apply_translation([at[0], at[1], radius])
    return mesh


def box(extents, centre) -> trimesh.Trimesh:
    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation(centre)
    return mesh


def test_sphere_is_a_round_centred_shaded_blob():
    image = tt.render(sphere(), size=96, colour=RED)
    assert image.mode == "RGB" and image.size == (96, 96)
    mask = object_mask(image)
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() - 47.5) < 1.5 and abs(ys.mean() - 47.5) < 1.5
    width, height = np.ptp(xs) + 1, np.ptp(ys) + 1
    assert 0.5 * 96 < width < 96 and abs(width - height) <= 2
    assert mask.sum() / (width * height) == pytest.approx(np.pi / 4, abs=0.04)  # a disc
    luma = np.asarray(image.convert("L")).astype(float)[mask]
    assert luma.max() - luma.min() > 80  # lit and shaded, not a flat silhouette
    assert np.asarray(image)[0, 0].tolist() == [255, 255, 255]  # background in the corner


def test_curves_are_smooth_shaded_and_sharp_edges_stay_sharp():
    coarse = trimesh.creation.icosphere(subdivisions=2, radius=20)  # 320 flat facets
    coarse.apply_translation([0, 0, 20])
    image = tt.render(coarse, size=96, colour=RED)
    luma = np.asarray(image.convert("L")).astype(float)
    inner = ndimage.binary_erosion(object_mask(image), iterations=2)
    steps = np.abs(np.diff(luma, axis=1))[inner[:, 1:] & inner[:, :-1]]
    assert steps.max() < 15  # flat facets would jump by ~50 at their edges

    cube = box((30, 30, 40), (0, 0, 20))  # from azimuth 30: the -Y face left, +X face right
    luma = np.asarray(tt.render(cube, size=96, azimuth=30, elevation=0).convert("L")).astype(float)
    left, right = luma[40:56, 34:45], luma[40:56, 58:64]
    assert left.std() < 3 and right.std() < 3  # each face evenly lit, not blended at the edge
    assert abs(left.mean() - right.mean()) > 15


def test_views_from_different_azimuths_differ():
    cube = box((30, 20, 40), (0, 0, 20))
    front = np.asarray(tt.render(cube, size=64, azimuth=0)).astype(float)
    turned = np.asarray(tt.render(cube, size=64, azimuth=45)).astype(float)
    assert np.abs(front - turned).mean() > 3


def test_turntable_frames_are_framed_alike():
    mesh = sphere(at=(60.0, -25.0))  # off the origin: the camera must orbit the mesh itself
    frames = tt.turntable(mesh, frames=6, size=64, colour=RED)
    assert len(frames) == 6
    assert all(f.size == (64, 64) and f.mode == "RGB" for f in frames)
    areas, centres = [], []
    for frame in frames:
        ys, xs = np.nonzero(object_mask(frame))
        areas.append(xs.size)
        centres.append((xs.mean(), ys.mean()))
    assert max(areas) / min(areas) < 1.04
    assert np.allclose(centres, 31.5, atol=1.5)
    assert np.asarray(frames[1]).tolist() != np.asarray(frames[0]).tolist()  # lit from the camera


def wall_and_ball(ball_y: float, ball_first: bool) -> trimesh.Trimesh:
    wall = box((80, 2, 80), (0, 20, 40))  # faces the camera (azimuth 0 looks along +Y)
    ball = trimesh.creation.icosphere(subdivisions=3, radius=10)
    ball.apply_translation([0, ball_y, 40])
    parts = [ball, wall] if ball_first else [wall, ball]
    return trimesh.util.concatenate(parts)


@pytest.mark.parametrize("ball_first", [True, False])
def test_depth_order_decides_what_is_seen(ball_first):
    def centre_spread(ball_y):
        image = tt.render(wall_and_ball(ball_y, ball_first), size=96, elevation=0, colour=RED)
        luma = np.asarray(image.convert("L")).astype(float)
        return luma[40:56, 40:56].std(), luma

    spread_front, luma = centre_spread(-10.0)  # ball in front of the wall: its shading shows
    spread_behind, hidden = centre_spread(50.0)  # ball behind the wall: the flat wall shows
    assert spread_front > 8
    assert spread_behind < 1
    # the wall around the ball looks the same either way
    assert np.abs(luma[5:15, 5:15] - hidden[5:15, 5:15]).max() <= 2


def test_open_and_inside_out_meshes_show_both_sides():
    corners = [[-10, -10, 0], [10, -10, 0], [10, 10, 0], [-10, 10, 0]]
    square = trimesh.Trimesh(corners, [[0, 1, 2], [0, 2, 3]])  # one-sided, open
    for elevation in (60.0, -60.0):
        assert object_mask(tt.render(square, size=48, elevation=elevation, colour=RED)).sum() > 200
    ball = sphere()
    inside_out = ball.copy()
    inside_out.invert()
    area = object_mask(tt.render(ball, size=48, colour=RED)).sum()
    assert object_mask(tt.render(inside_out, size=48, colour=RED)).sum() == pytest.approx(
        area, rel=0.02
    )


def test_chunked_rasterisation_matches_one_pass(monkeypatch):
    mesh = box((30, 20, 40), (0, 0, 20))
    whole = np.asarray(tt.render(mesh, size=48, azimuth=30))
    monkeypatch.setattr(tt, "_SAMPLES_PER_CHUNK", 97)
    assert np.array_equal(np.asarray(tt.render(mesh, size=48, azimuth=30)), whole)


def test_empty_mesh_and_bad_settings_are_refused():
    with pytest.raises(InputError, match="the mesh has no faces to render"):
        tt.render(trimesh.Trimesh())
    with pytest.raises(InputError, match="the mesh has no faces to render"):
        tt.turntable(trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[]))
    with pytest.raises(InputError, match="size"):
        tt.render(sphere(), size=0)
    with pytest.raises(InputError, match="frame"):
        tt.turntable(sphere(), frames=0)
    with pytest.raises(InputError, match="colour"):
        tt.render(sphere(), colour=(300, 0, 0))
