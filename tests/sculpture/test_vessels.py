import numpy as np
import pytest

from museforge.errors import InputError
from museforge.sculpture.vessels import (
    ATTRIBUTES,
    FAMILIES,
    HEIGHTS,
    Profile,
    draw_profile,
    measure,
    profiles,
    turn,
)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_turns_into_a_closed_solid_of_its_own_height(family):
    profile = draw_profile(np.random.default_rng(3), family)
    mesh = turn(profile)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0
    assert mesh.bounds[0][2] == pytest.approx(0.0, abs=1e-6)
    assert mesh.bounds[1][2] == pytest.approx(profile.height, rel=1e-3)
    # round about the axis: as wide across x as across y, and its widest radius outside
    assert mesh.extents[0] == pytest.approx(mesh.extents[1], rel=0.01)
    assert mesh.extents[0] / 2 == pytest.approx(max(profile.radii), rel=0.02)


def test_the_solid_is_hollow_with_a_wall_of_the_asked_thickness():
    profile = Profile(100.0, tuple([40.0] * HEIGHTS), "cup")
    full = np.pi * 40**2 * 100
    inside = np.pi * (40 - 3) ** 2 * (100 - 4)
    assert turn(profile, wall=3.0, floor=4.0).volume == pytest.approx(full - inside, rel=0.02)


def test_families_keep_real_proportions():
    vectors, families = profiles(300, seed=0)
    height, mouth, widest, foot, slender = measure(vectors).T
    assert (foot < widest + 1e-6).all()
    is_ = {f: np.array(families) == f for f in FAMILIES}
    assert (widest[is_["bowl"]] * 2 > height[is_["bowl"]]).all()  # bowls are wider than tall
    assert (slender[is_["bottle"]] > 1.5).all()  # bottles are slender
    assert mouth[is_["vase"]].mean() < widest[is_["vase"]].mean()  # vases narrow to the neck
    assert height[is_["cup"]].min() >= 80 and height[is_["cup"]].max() <= 115


def test_profiles_are_reproducible_and_balanced():
    a, fa = profiles(24, seed=5)
    b, fb = profiles(24, seed=5)
    c, _ = profiles(24, seed=6)
    assert np.array_equal(a, b) and fa == fb
    assert not np.array_equal(a, c)
    assert all(fa.count(f) == 4 for f in FAMILIES)
    assert a.shape == (24, HEIGHTS + 1)
    assert measure(a).shape == (24, len(ATTRIBUTES))


def test_a_decoded_profile_is_made_buildable_and_nonsense_is_refused():
    wild = np.array([-5.0, *([-1.0] * HEIGHTS)])
    mesh = turn(Profile.from_vector(wild))
    assert mesh.is_watertight and mesh.volume > 0
    with pytest.raises(InputError):
        Profile.from_vector(np.array([np.nan] * (HEIGHTS + 1)))
    with pytest.raises(InputError):
        draw_profile(np.random.default_rng(0), "teapot")
