"""Reliefs and lithophanes: closed solids of the right size, heights that follow the picture,
and smoothing that does what each edge setting says."""

from __future__ import annotations

import numpy as np
import pytest

from museforge.errors import InputError
from museforge.sculpture.relief import height_map, relief


def assert_solid(mesh) -> None:
    """One closed, outward-facing solid standing on z = 0, centred on x = y = 0."""
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0
    assert mesh.area_faces.min() > 0  # no degenerate triangles
    low, high = mesh.bounds
    assert low[2] == 0.0
    assert np.allclose((low[:2] + high[:2]) / 2, 0.0, atol=1e-9)
    assert mesh.body_count == 1


def top_height(mesh, x_sign: int = 0, y_sign: int = 0) -> float:
    """Mean height of the top vertices in the half of the print where sign(x) (or sign(y))
    is the one given, away from the centre line and the outer 15 mm (frame, edges)."""
    v = mesh.vertices[mesh.vertices[:, 2] > 0]
    half = mesh.extents[:2] / 2
    inside = (np.abs(v[:, 0]) < half[0] - 15) & (np.abs(v[:, 1]) < half[1] - 15)
    side = (np.sign(v[:, 0]) * x_sign > 0) | (np.sign(v[:, 1]) * y_sign > 0)
    side &= (np.abs(v[:, 0]) > 5) if x_sign else (np.abs(v[:, 1]) > 5)
    return float(v[inside & side, 2].mean())


def halves(rows: int = 30, cols: int = 40, axis: int = 1) -> np.ndarray:
    """Black first half, white second half (left/right for axis 1, top/bottom for axis 0)."""
    pic = np.zeros((rows, cols), np.float32)
    if axis == 1:
        pic[:, cols // 2 :] = 1.0
    else:
        pic[rows // 2 :, :] = 1.0
    return pic


@pytest.mark.parametrize("mode", ["relief", "lithophane"])
@pytest.mark.parametrize("border", [0.0, 3.0])
def test_closed_solid_of_the_asked_size(mode: str, border: float) -> None:
    pic = np.random.default_rng(0).random((30, 60, 3), dtype=np.float32)
    mesh = relief(pic, mode=mode, width_mm=80.0, border_mm=border)
    assert_solid(mesh)
    # width_mm is the whole print, frame included; Y keeps the picture's aspect ratio.
    assert mesh.extents[0] == pytest.approx(80.0)
    assert mesh.extents[1] == pytest.approx((80.0 - 2 * border) / 2 + 2 * border)
    full = 6.0 if mode == "relief" else 3.0  # base + depth by default: 2 + 4, 0.8 + 2.2
    top = mesh.vertices[:, 2].max()
    assert top == pytest.approx(full) if border else top < full
    assert mesh.vertices[:, 2][mesh.vertices[:, 2] > 0].min() >= (2.0 if mode == "relief" else 0.8)


def test_full_size_picture_stays_closed_and_resampled() -> None:
    pic = np.random.default_rng(1).random((600, 450), dtype=np.float32)
    mesh = relief(pic)
    assert_solid(mesh)
    rows, cols = 400, 300  # longest side at max_samples, aspect kept
    grid = (rows + 4) * (cols + 4)  # + frame's two rings on each side
    assert mesh.faces.shape[0] == 2 * (rows + 3) * (cols + 3) + 3 * 2 * (rows + 3 + cols + 3)
    assert len(mesh.vertices) == grid + 2 * (rows + 3 + cols + 3) + 1
    assert height_map(pic, max_samples=100).shape == (100, 75)


def test_bright_stands_high_in_a_relief_and_dark_is_thick_in_a_lithophane() -> None:
    pic = halves()  # black left, white right
    rel = relief(pic, border_mm=0)
    assert top_height(rel, x_sign=1) == pytest.approx(6.0, abs=0.05)
    assert top_height(rel, x_sign=-1) == pytest.approx(2.0, abs=0.05)
    lit = relief(pic, mode="lithophane", border_mm=0)
    assert top_height(lit, x_sign=-1) == pytest.approx(3.0, abs=0.05)
    assert top_height(lit, x_sign=1) == pytest.approx(0.8, abs=0.05)
    for mode, dark_side in (("relief", 1), ("lithophane", -1)):  # invert flips each
        flipped = relief(pic, mode=mode, invert=True, border_mm=0)
        assert_solid(flipped)
        assert top_height(flipped, x_sign=dark_side) < top_height(flipped, x_sign=-dark_side)


def test_picture_reads_the_right_way_seen_from_above() -> None:
    top_white = 1.0 - halves(axis=0)  # first rows white
    mesh = relief(top_white, border_mm=0)
    assert top_height(mesh, y_sign=1) > top_height(mesh, y_sign=-1) + 3
    left_white = 1.0 - halves(axis=1)  # first columns white
    mesh = relief(left_white, border_mm=0)
    assert top_height(mesh, x_sign=-1) > top_height(mesh, x_sign=1) + 3


def test_transparent_pixels_count_as_white() -> None:
    rgba = np.zeros((20, 20, 4), np.float32)  # black...
    rgba[:, 10:, 3] = 1.0  # ...transparent on the left, opaque on the right
    heights = height_map(rgba, smooth=0)
    assert np.allclose(heights[:, :10], 6.0) and np.allclose(heights[:, 10:], 2.0)
    grey = np.full((20, 20, 3), [1.0, 0.0, 0.0], np.float32)  # pure red: ITU-R 601 luma
    assert np.allclose(height_map(grey), 2.0 + 4.0 * 0.299)


@pytest.mark.parametrize("border", [0.0, 5.0])
def test_one_pixel_constant_and_empty_pictures_give_flat_solids(border: float) -> None:
    for pic in (
        np.full((1, 1), 0.5, np.float32),
        np.full((25, 50), 0.5, np.float32),
        np.zeros((0, 0), np.float32),
        np.zeros((0, 7, 3), np.float32),
    ):
        mesh = relief(pic, width_mm=50.0, border_mm=border)
        assert_solid(mesh)
        assert mesh.extents[0] == pytest.approx(50.0)


def test_volume_of_a_constant_picture_is_area_times_height() -> None:
    pic = np.full((20, 40), 0.25, np.float32)
    mesh = relief(pic, width_mm=60.0, border_mm=0, base_mm=1.5, depth_mm=2.0)
    assert mesh.volume == pytest.approx(60.0 * 30.0 * (1.5 + 2.0 * 0.25), rel=1e-9)
    framed = relief(pic, width_mm=60.0, border_mm=4.0, base_mm=1.5, depth_mm=2.0)
    picture_area = 52.0 * 26.0
    frame_area = 60.0 * 34.0 - picture_area
    expected = picture_area * 2.0 + frame_area * 3.5  # the frame stands at base + depth
    assert framed.volume == pytest.approx(expected, rel=0.02)
    lit = relief(np.ones((10, 10), np.float32), mode="lithophane", width_mm=40.0, border_mm=0)
    assert lit.volume == pytest.approx(40.0 * 40.0 * 0.8, rel=1e-9)  # white: thinnest


def roughness(heights: np.ndarray) -> float:
    return float(np.abs(np.diff(heights, axis=1)).mean() + np.abs(np.diff(heights, axis=0)).mean())


def test_smoothing_makes_a_noisy_surface_smoother() -> None:
    noisy = np.random.default_rng(2).random((60, 60), dtype=np.float32)
    rough = roughness(height_map(noisy, smooth=0))
    assert roughness(height_map(noisy, smooth=1.0)) < 0.5 * rough
    assert roughness(height_map(noisy, smooth=3.0)) < roughness(height_map(noisy, smooth=1.0))
    # "keep" smooths small differences (grain) and keeps large ones (edges).
    grain = 0.5 + 0.05 * (noisy - 0.5)
    assert roughness(height_map(grain, smooth=2.0, edges="keep")) < 0.5 * roughness(
        height_map(grain, smooth=0)
    )
    # "sharp" ignores smooth altogether.
    assert np.array_equal(height_map(noisy, edges="sharp", smooth=3.0), height_map(noisy, smooth=0))


def test_keep_preserves_a_step_edge_better_than_soft() -> None:
    step = halves(60, 60) * 0.8 + 0.1
    step += np.random.default_rng(3).normal(0, 0.02, step.shape).astype(np.float32)
    soft = height_map(step, smooth=2.0, edges="soft")
    keep = height_map(step, smooth=2.0, edges="keep")
    sharp = height_map(step, edges="sharp")

    def steepest(h: np.ndarray) -> float:  # height jump across the step, mm per sample
        return float(np.abs(np.diff(h, axis=1))[:, 27:32].max(axis=1).mean())

    assert steepest(keep) > 2 * steepest(soft)
    assert steepest(keep) > 0.6 * steepest(sharp)
    flat = (slice(None), slice(5, 25))  # keep still smooths the noise away from the edge
    assert roughness(keep[flat]) < 0.7 * roughness(sharp[flat])


@pytest.mark.parametrize(
    ("picture", "settings", "words"),
    [
        (np.full((4, 4), np.nan, np.float32), {}, "picture 'cat.png' has non-finite"),
        (np.full((4, 4, 3), np.inf, np.float32), {}, "picture 'cat.png' has non-finite"),
        (np.zeros((4, 4, 2), np.float32), {}, "picture 'cat.png' has shape"),
        (np.zeros((4, 4)), {"width_mm": 4.0}, "width_mm must be 5..1000"),
        (np.zeros((4, 4)), {"width_mm": 1001.0}, "width_mm must be 5..1000"),
        (np.zeros((4, 4)), {"width_mm": float("nan")}, "width_mm"),
        (np.zeros((4, 4)), {"mode": "bust"}, "relief, lithophane"),
        (np.zeros((4, 4)), {"edges": "crisp"}, "soft, keep, sharp"),
        (np.zeros((4, 4)), {"border_mm": 49.8}, "border_mm"),
        (np.zeros((4, 4)), {"base_mm": 0.0}, "base_mm"),
        (np.zeros((4, 4)), {"smooth": -1.0}, "smooth"),
        (np.zeros((4, 4)), {"max_samples": 1}, "max_samples"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(picture, settings, words: str) -> None:
    with pytest.raises(InputError, match=words):
        relief(picture, what="picture 'cat.png'", **settings)
