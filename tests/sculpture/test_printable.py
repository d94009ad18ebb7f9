"""Print checks and repairs: what each check catches, and that repairs leave a sound solid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from museforge.errors import InputError
from museforge.sculpture.printable import (
    PRINTERS,
    Printer,
    PrintError,
    count_self_intersections,
    inspect,
    printer_named,
    repair,
)

FDM = PRINTERS["fdm"]


def _ball() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=3, radius=8.0)


def _slab(thickness: float, side: float = 8.0) -> trimesh.Trimesh:
    slab = trimesh.creation.box((side, side, thickness))
    slab.apply_translation([0.0, 0.0, thickness / 2])  # standing on z = 0
    return slab


def test_a_good_ball_passes_and_comes_back_untouched() -> None:
    ball = _ball()
    report = inspect(ball, FDM)
    assert report.ok and report.problems == ()
    assert report.watertight and report.manifold and report.self_intersections == 0
    assert report.volume_mm3 == pytest.approx(ball.volume)
    assert report.min_wall_mm == pytest.approx(16.0, rel=0.03)  # the diameter
    fixed, after, actions = repair(ball, FDM)
    assert fixed is ball and actions == [] and after.ok


def test_a_missing_face_is_an_open_mesh_and_repair_fills_it() -> None:
    ball = _ball()
    ball.update_faces(np.arange(1, len(ball.faces)))
    report = inspect(ball, FDM)
    assert not report.watertight and report.volume_mm3 is None
    assert "not watertight: 3 open edges" in report.problems
    fixed, after, actions = repair(ball, FDM)
    assert fixed.is_watertight and after.ok
    assert len(fixed.faces) == len(ball.faces) + 1  # one face, not a re-mesh
    assert any("filled" in a for a in actions)


def test_overlapping_cubes_intersect_and_repair_unites_them() -> None:
    cube = trimesh.creation.box((6.0, 6.0, 6.0))
    both = trimesh.util.concatenate([cube, cube.copy().apply_translation([3.0, 3.0, 3.0])])
    report = inspect(both, FDM)
    assert report.watertight  # each shell is closed: only the crossing check sees it
    assert report.self_intersections > 0
    assert f"{report.self_intersections} pairs of faces intersect" in report.problems
    fixed, after, actions = repair(both, FDM)
    assert after.ok and after.watertight and after.manifold and after.self_intersections == 0
    assert fixed.is_watertight and fixed.is_winding_consistent
    assert count_self_intersections(fixed) == 0
    assert fixed.volume == pytest.approx(2 * 216 - 27, rel=0.03)  # the union
    assert fixed.bounds[0, 2] == pytest.approx(both.bounds[0, 2])  # stands where it stood
    assert any(a.startswith("re-meshed through voxels") for a in actions)


def test_walls_are_measured_exactly_at_any_angle() -> None:
    tilt = trimesh.transformations.rotation_matrix(np.radians(33.0), [1.0, 0.4, 0.0])
    for thickness, thin in ((0.6, True), (0.8, False), (0.9, False)):
        slab = _slab(thickness)
        slab.apply_transform(tilt)
        report = inspect(slab, FDM)
        assert report.min_wall_mm == pytest.approx(thickness, abs=0.01)
        assert any(p.startswith("walls ") for p in report.problems) == thin


def test_a_thin_rod_and_a_hollow_shell_are_thin() -> None:
    rod = trimesh.creation.cylinder(radius=0.25, height=6.0, sections=32)
    assert inspect(rod, FDM).min_wall_mm == pytest.approx(0.5, abs=0.02)
    outer = trimesh.creation.icosphere(subdivisions=3, radius=5.0)
    inner = trimesh.creation.icosphere(subdivisions=3, radius=4.5)
    inner.invert()  # a cavity: its faces point into it
    shell = inspect(trimesh.util.concatenate([outer, inner]), FDM)
    assert shell.min_wall_mm == pytest.approx(0.5, abs=0.03)
    assert shell.volume_mm3 == pytest.approx(outer.volume + inner.volume)


def test_a_thin_slab_fails_and_repair_thickens_it() -> None:
    slab = _slab(0.3)
    report = inspect(slab, FDM)
    assert "walls 0.30 mm thin in places, printer needs 0.8 mm" in report.problems
    fixed, after, actions = repair(slab, FDM)
    assert after.ok and after.min_wall_mm >= 0.8
    assert inspect(fixed, FDM).min_wall_mm >= 0.8  # measured afresh
    assert fixed.extents[2] < 1.6  # thickened to what the printer needs, not far beyond
    assert fixed.bounds[0, 2] == pytest.approx(0.0)
    assert "thickened walls to at least 0.8 mm" in actions


def test_too_large_for_the_printer_is_refused_not_rescaled() -> None:
    small = Printer("tiny", 0.8, (10.0, 10.0, 10.0))
    report = inspect(_ball(), small)
    assert not report.fits
    assert "larger than the build volume 10×10×10 mm (it is 16×16×16 mm)" in report.problems
    with pytest.raises(PrintError, match="larger than the build volume") as err:
        repair(_ball(), small)
    assert isinstance(err.value, InputError)


def test_inside_out_is_found_and_turned() -> None:
    ball = _ball()
    ball.invert()
    assert "inside out: its faces point inwards" in inspect(ball, FDM).problems
    fixed, after, actions = repair(ball, FDM)
    assert after.ok and fixed.volume > 0 and actions


def test_a_triangle_soup_is_judged_by_its_geometry() -> None:
    ball = _ball()
    soup = trimesh.Trimesh(
        ball.triangles.reshape(-1, 3), np.arange(3 * len(ball.faces)).reshape(-1, 3), process=False
    )
    report = inspect(soup, FDM)  # neighbours share positions, not vertex numbers
    assert report.watertight and report.self_intersections == 0


def test_report_is_json_ready_and_printers_are_named() -> None:
    data = json.loads(json.dumps(inspect(_slab(0.3), "fdm").as_dict()))
    assert data["ok"] is False and data["printer"]["name"] == "fdm"
    assert data["printer"]["build_mm"] == [220.0, 220.0, 250.0]
    assert data["problems"] and data["min_wall_mm"] == pytest.approx(0.3)
    assert printer_named("resin").min_wall_mm == 0.4
    with pytest.raises(InputError, match="unknown printer 'laser'"):
        printer_named("laser")


@pytest.mark.parametrize(
    ("mesh", "problem"),
    [
        (trimesh.Trimesh(), "has no faces"),
        (
            trimesh.Trimesh([[0, 0, np.nan], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], process=False),
            "has vertices that are not finite numbers (NaN or infinity)",
        ),
        (trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]]), "encloses no solid"),
    ],
)
def test_what_holds_nothing_to_print_cannot_be_repaired(mesh: trimesh.Trimesh, problem: str):
    report = inspect(mesh, FDM)
    assert any(p.startswith(problem) for p in report.problems)
    with pytest.raises(PrintError, match=problem.split(" (")[0]):
        repair(mesh, FDM)


def test_lattices_the_forms_starter_draws_are_all_printable_after_repair() -> None:
    """Decoded lattices keep struts finer than a voxel of the repair grid; repair looks again
    after each re-mesh and grows the surface when its middles miss them (before: 0.92 of the
    starter's solids printable after repair)."""
    from pathlib import Path

    import torch

    from museforge.core.artifact import load_artifact
    from museforge.core.latent import draw_latents
    from museforge.sculpture.drawing import FORM_SIZE_MM, fit_to_printer, solids

    loaded = load_artifact(Path(__file__).resolve().parents[2] / "models" / "forms")
    model = loaded.model
    picks = [10, 59]  # lattices that repair had refused (seed 0 of `evaluate forms --n 60`)
    labels = (torch.arange(60) % model.num_classes)[picks]
    z = model.place(draw_latents(model.z_dim, 0, 60), torch.arange(60) % model.num_classes)
    for mesh in solids(model, z[picks], labels, FORM_SIZE_MM):
        fit_to_printer(mesh, "fdm")
        assert not inspect(mesh, FDM).ok  # thin struts as drawn
        fixed, after, actions = repair(mesh, FDM)
        assert after.ok and inspect(fixed, FDM).min_wall_mm >= 0.8
        assert "thickened walls to at least 0.8 mm" in actions
